"""The bucket rule: the fast OpenAI limiter agrees with the readable reference, and
Anthropic's split limits (RPM, ITPM, OTPM, optional combined cap) keep their documented rules."""

from __future__ import annotations

import random

import pytest

from mock_provider.clock import WallClock
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects.anthropic.headers import ratelimit_headers
from mock_provider.model.limits import Limited, LimitState, RateLimitView, SplitLimits, TokenBucket
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)


class ReferenceLimits:
    """LimitState's rules, spelled with two TokenBuckets."""

    def __init__(self, rpm: int, tpm: int, now: float) -> None:
        self.requests, self.tokens = TokenBucket(rpm, now), TokenBucket(tpm, now)

    def admit(self, estimate: int, now: float) -> tuple[str, float | None]:
        self.requests.refill(now)
        self.tokens.refill(now)
        if estimate > self.tokens.capacity:
            return "too_large", None
        wait_r, wait_t = self.requests.wait_s(1), self.tokens.wait_s(estimate)
        if wait_r or wait_t:
            return ("requests", wait_r) if wait_r >= wait_t else ("tokens", wait_t)
        self.requests.take(1)
        self.tokens.take(estimate)
        return "ok", None

    def settle(self, charged: int, actual: int, now: float) -> None:
        self.requests.refill(now)
        self.tokens.refill(now)
        self.tokens.give_back(charged - actual)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_limiter_agrees_with_the_token_bucket_reference(seed: int) -> None:
    rng = random.Random(seed)
    rpm, tpm = rng.choice([(60, 6000), (7, 100_000), (1000, 9000)])
    fast, ref = LimitState(rpm, tpm, 0.0), ReferenceLimits(rpm, tpm, 0.0)
    now, open_tickets = 0.0, []
    for _ in range(3000):
        now += rng.expovariate(rpm / 30)
        if open_tickets and rng.random() < 0.5:
            charged = open_tickets.pop(rng.randrange(len(open_tickets)))
            actual = rng.randint(0, charged + 50)
            fast.settle(charged, actual, now)
            ref.settle(charged, actual, now)
            continue
        estimate = rng.randint(1, tpm // 4 + 10)
        got = fast.admit(estimate, now)
        want, wait = ref.admit(estimate, now)
        if isinstance(got, Limited):
            assert got.kind == want
            assert got.retry_after_s == pytest.approx(wait, rel=1e-9, abs=1e-9)
        else:
            assert want == "ok"
            assert got.requests.remaining == max(0, int(ref.requests.level // 1))
            assert got.tokens.remaining == max(0, int(ref.tokens.level // 1))
            assert got.tokens.reset_s == pytest.approx(ref.tokens.show().reset_s, abs=1e-9)
            open_tickets.append(estimate)


class ReferenceSplit:
    """SplitLimits' rules, spelled with the TokenBucket methods."""

    def __init__(self, rpm: int, itpm: int, otpm: int, tpm: int | None, now: float) -> None:
        self.buckets = {"requests": TokenBucket(rpm, now), "input_tokens": TokenBucket(itpm, now),
                        "output_tokens": TokenBucket(otpm, now)}  # fmt: skip
        if tpm is not None:
            self.buckets["tokens"] = TokenBucket(tpm, now)

    def admit(self, i: int, o: int, now: float) -> tuple[str, float | None]:
        needs = {"requests": 1, "input_tokens": i, "output_tokens": o, "tokens": i + o}
        for b in self.buckets.values():
            b.refill(now)
        if any(needs[n] > b.capacity for n, b in self.buckets.items()):
            return "too_large", None
        waits = {n: b.wait_s(needs[n]) for n, b in self.buckets.items()}
        worst = max(waits, key=lambda n: waits[n])  # ties: the first, in bucket order
        if waits[worst]:
            return worst, waits[worst]
        for n, b in self.buckets.items():
            b.take(needs[n])
        return "ok", None

    def settle(self, charged_output: int, actual_output: int, now: float) -> None:
        for n, b in self.buckets.items():
            b.refill(now)
            if n in ("output_tokens", "tokens"):
                b.give_back(charged_output - actual_output)

    def remaining(self, name: str) -> int:
        return self.buckets[name].show().remaining


@pytest.mark.parametrize(("seed", "tpm"), [(1, None), (2, None), (3, 9000), (4, 2500)])
def test_split_limits_agree_with_the_token_bucket_reference(seed: int, tpm: int | None) -> None:
    rng = random.Random(seed)
    rpm, itpm, otpm = 120, 20_000, 4_000
    fast, ref = SplitLimits(rpm, itpm, otpm, tpm, 0.0), ReferenceSplit(rpm, itpm, otpm, tpm, 0.0)
    now, open_charges = 0.0, []
    for _ in range(3000):
        now += rng.expovariate(2.0)
        if open_charges and rng.random() < 0.5:
            i, o = open_charges.pop(rng.randrange(len(open_charges)))
            used = rng.randint(0, o)
            fast.settle(i + o, i + used, now)
            ref.settle(o, used, now)
            continue
        i, o = rng.randint(1, itpm // 5), rng.randint(1, otpm // 5)
        got = fast.admit(i, o, now)
        want, wait = ref.admit(i, o, now)
        if isinstance(got, Limited):
            assert got.kind == want
            if wait is None:
                assert got.retry_after_s is None
            else:
                assert got.retry_after_s == pytest.approx(wait, rel=1e-9, abs=1e-9)
        else:
            assert want == "ok"
            assert got.input_tokens is not None and got.output_tokens is not None
            assert got.requests.remaining == ref.remaining("requests")
            assert got.input_tokens.remaining == ref.remaining("input_tokens")
            assert got.output_tokens.remaining == ref.remaining("output_tokens")
            open_charges.append((i, o))


def test_split_limits_charge_input_exactly_and_output_by_max_tokens_then_settle() -> None:
    lim = SplitLimits(rpm=100, itpm=6000, otpm=1200, tpm=None, now=0.0)
    view = lim.admit(1000, 400, 0.0)
    assert isinstance(view, RateLimitView)
    assert view.input_tokens is not None and view.output_tokens is not None
    assert (view.input_tokens.remaining, view.output_tokens.remaining) == (5000, 800)
    # Without a combined cap the tokens bucket is input + output.
    assert (view.tokens.limit, view.tokens.remaining) == (7200, 5800)
    lim.settle(1000 + 400, 1000 + 150, 0.0)  # used 150 of the 400 estimated
    after = lim.view(0.0)
    assert after.output_tokens is not None and after.input_tokens is not None
    assert (after.input_tokens.remaining, after.output_tokens.remaining) == (5000, 1050)
    assert lim.in_flight == 0


def test_split_limits_refuse_on_the_bucket_that_waits_longest() -> None:
    lim = SplitLimits(rpm=100, itpm=6000, otpm=600, tpm=None, now=0.0)
    assert isinstance(lim.admit(100, 500, 0.0, actual_output=500), RateLimitView)
    refused = lim.admit(100, 500, 0.0)
    assert isinstance(refused, Limited)
    assert refused.kind == "output_tokens" and refused.limit == 600
    assert refused.retry_after_s == pytest.approx((500 - 100) / (600 / 60))
    refused = lim.admit(5950, 10, 0.0)
    assert isinstance(refused, Limited) and refused.kind == "input_tokens"
    assert refused.retry_after_s == pytest.approx((5950 - 5900) / 100)
    too_large = lim.admit(7000, 10, 0.0)
    assert isinstance(too_large, Limited)
    assert (too_large.kind, too_large.bucket, too_large.retry_after_s) == (
        "too_large", "input_tokens", None
    )  # fmt: skip


def test_combined_cap_binds_and_shows_as_the_tokens_bucket() -> None:
    lim = SplitLimits(rpm=100, itpm=10_000, otpm=10_000, tpm=3000, now=0.0)
    view = lim.admit(1000, 1000, 0.0)
    assert isinstance(view, RateLimitView)
    assert (view.tokens.limit, view.tokens.remaining) == (3000, 1000)  # the most restrictive
    refused = lim.admit(1000, 500, 0.0)
    assert isinstance(refused, Limited) and refused.kind == "tokens" and refused.limit == 3000


def _claude(**model: object) -> Provider:
    cfg = ProviderConfig.model_validate(
        {
            "models": {"claude-sonnet-4-6": {"latency": INSTANT.model_dump(), **model}},
            "output_tokens": {"median": 50, "spread": 0},
        }
    )
    return Provider(cfg)


def _ask(p: Provider, input_tokens: int, now: float, blocks=(), max_tokens: int = 100):
    req = ChatRequest("k", "claude-sonnet-4-6", input_tokens, max_tokens, False, blocks,
                      lambda b: b, "anthropic")  # fmt: skip
    return p.chat(req, now)


def test_cache_reads_do_not_count_against_itpm() -> None:
    """With a cached 3000-token system prompt, ITPM admits requests it could not otherwise."""
    p = _claude(itpm=10_000, otpm=100_000)
    blocks = ((11, 3000, 300.0), (12, 3100, 0.0))  # a marked system prompt, then the user turn
    first = _ask(p, 3100, 0.0, blocks)
    assert isinstance(first, Completion)
    assert (first.cached_tokens, first.cache_write_5m) == (0, 3000)
    served, refused = 1, None
    for i in range(1, 200):
        c = _ask(p, 3100, 0.0, ((11, 3000, 300.0), (100 + i, 3100, 0.0)))
        if isinstance(c, Rejection):
            refused = c
            break
        assert c.cached_tokens == 3000 and c.cache_write_5m == 0
        served += 1
    # 10,000 ITPM: the first is charged 3100, each later one only its 100 uncached tokens.
    assert served == 1 + (10_000 - 3100) // 100
    assert refused is not None and refused.limited is not None
    assert refused.limited.kind == "input_tokens"
    uncached = _claude(itpm=10_000, otpm=100_000)
    n = sum(isinstance(_ask(uncached, 3100, 0.0), Completion) for _ in range(10))
    assert n == 10_000 // 3100


def test_breakpoint_cache_minimum_ttl_refresh_one_hour_and_lookback() -> None:
    p = _claude()  # Sonnet: 1024-token minimum
    short = _ask(p, 1100, 0.0, ((1, 1000, 300.0), (2, 1100, 0.0)))
    assert isinstance(short, Completion) and short.cache_write_5m == 0  # below the minimum
    _ask(p, 2100, 0.0, ((3, 2000, 300.0), (4, 2100, 0.0)))
    hit = _ask(p, 2100, 299.0, ((3, 2000, 300.0), (5, 2100, 0.0)))
    assert isinstance(hit, Completion) and hit.cached_tokens == 2000
    refreshed = _ask(p, 2100, 598.0, ((3, 2000, 300.0), (6, 2100, 0.0)))  # 5 min after the hit
    assert isinstance(refreshed, Completion) and refreshed.cached_tokens == 2000
    expired = _ask(p, 2100, 899.0, ((3, 2000, 300.0), (7, 2100, 0.0)))
    assert isinstance(expired, Completion) and expired.cached_tokens == 0
    assert expired.cache_write_5m == 2000
    hour = _ask(p, 5100, 0.0, ((8, 4000, 3600.0), (9, 5000, 300.0), (10, 5100, 0.0)))
    assert isinstance(hour, Completion) and (hour.cache_write_1h, hour.cache_write_5m) == (
        4000, 1000
    )  # fmt: skip
    later = _ask(p, 5100, 3000.0, ((8, 4000, 3600.0), (11, 5000, 300.0), (12, 5100, 0.0)))
    assert isinstance(later, Completion) and later.cached_tokens == 4000
    # A breakpoint after the cached one finds it by looking back (20 blocks).
    blocks = ((8, 4000, 0.0), *((20 + i, 4010 + i, 0.0) for i in range(5)), (30, 4100, 300.0))
    look = _ask(p, 4100, 3000.0, blocks)
    assert isinstance(look, Completion) and look.cached_tokens == 4000
    assert look.cache_write_5m == 100


def test_a_cache_write_is_readable_once_its_response_began() -> None:
    latency = INSTANT.model_copy(update={"first_token_ms": DistConfig(median=2000)})
    cfg = ProviderConfig(models={"claude-sonnet-4-6": ModelConfig(latency=latency)})
    p = Provider(cfg)
    blocks = ((1, 3000, 300.0), (2, 3100, 0.0))
    assert _ask(p, 3100, 0.0, blocks).cache_write_5m == 3000  # type: ignore[union-attr]
    twin = _ask(p, 3100, 1.0, blocks)  # the first response's first token is at 2 s
    assert isinstance(twin, Completion) and twin.cached_tokens == 0
    after = _ask(p, 3100, 2.5, blocks)
    assert isinstance(after, Completion) and after.cached_tokens == 3000


def test_writes_and_reads_are_priced_as_anthropic_prices_them() -> None:
    spec = Provider(ProviderConfig()).catalog["claude-sonnet-4-6"]  # $3 in, $0.30 cached, $15
    assert spec.cost_usd(1_000_000, 0) == pytest.approx(3.00)
    assert spec.cost_usd(1_000_000, 0, cached_tokens=1_000_000) == pytest.approx(0.30)
    assert spec.cost_usd(1_000_000, 0, cache_write_5m=1_000_000) == pytest.approx(3.75)
    assert spec.cost_usd(1_000_000, 0, cache_write_1h=1_000_000) == pytest.approx(6.00)
    assert spec.cost_usd(3_000_000, 1_000_000, 1_000_000, 1_000_000) == pytest.approx(
        3.00 + 0.30 + 3.75 + 15.00
    )


def test_anthropic_headers_round_tokens_and_date_the_resets() -> None:
    lim = SplitLimits(rpm=50, itpm=40_000, otpm=8_000, tpm=None, now=0.0)
    view = lim.admit(1_234, 1_000, 0.0)
    assert isinstance(view, RateLimitView)
    h = ratelimit_headers(view, WallClock(2.0), now_unix=1_700_000_000.0)
    assert h["anthropic-ratelimit-requests-remaining"] == "49"
    assert h["anthropic-ratelimit-input-tokens-remaining"] == "39000"  # 38,766: nearest 1000
    assert h["anthropic-ratelimit-output-tokens-remaining"] == "7000"
    assert h["anthropic-ratelimit-tokens-limit"] == "48000"
    # Input refills 1,234 tokens at 40,000/min: 1.851 scenario s, 0.93 wall s at scale 2.
    assert h["anthropic-ratelimit-input-tokens-reset"] == "2023-11-14T22:13:21Z"
    assert h["anthropic-ratelimit-requests-reset"] == "2023-11-14T22:13:21Z"  # 1.2 s / 2
