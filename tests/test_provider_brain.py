"""The provider brain, sans-I/O: no server, no sleeps, every ``now`` passed in by the test.

Every expected number is worked out from the rules the modules state (token buckets of
capacity ``limit`` refilled at ``limit / 60`` per second, OpenAI's per-message token overhead,
128-token cache steps, the latency phases), never copied from a run. Limits are observed
only through what the brain returns (Completion, Rejection, RateLimitView, Limited), so the
tests hold while the internals of ``limits.py`` change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import tiktoken
from msgspec.structs import astuple

from mock_provider.config import (
    DistConfig,
    FaultWindowConfig,
    LatencyConfig,
    ModelConfig,
    ProviderConfig,
)
from mock_provider.dialects.openai import parse_chat
from mock_provider.dialects.openai.tokens import cache_prefixes, count_chat_tokens
from mock_provider.model.cache import PromptCache
from mock_provider.model.catalog import Dist, LatencyProfile, build_catalog
from mock_provider.model.faults import ErrorFault, FaultSchedule, FaultTarget
from mock_provider.model.latency import draw_plan
from mock_provider.model.limits import (
    Bucket,
    Limited,
    LimitState,
    RateLimitView,
    format_go_duration,
)
from mock_provider.model.provider import ChatRequest, Completion, Decision, Provider, Rejection
from mock_provider.model.randomness import RequestRandom
from mock_provider.model.tokens import ENCODING_NAME

KEY = "sk-test"
MODEL = "gpt-4o-mini"
HELLO: list[dict[str, Any]] = [{"role": "user", "content": "hello"}]
ENC = tiktoken.get_encoding(ENCODING_NAME)
# A sentence of 10 cl100k tokens (11 with the trailing space at the very end of a repeat).
SENTENCE = "The quick brown fox jumps over the lazy dog. "


def _cfg(**kwargs: Any) -> ProviderConfig:
    """A provider config with a small fixed output length unless the test says otherwise."""
    kwargs.setdefault("output_tokens", DistConfig(median=10))
    return ProviderConfig(**kwargs)


def _ask(
    p: Provider,
    now: float,
    *,
    key: str | None = KEY,
    model: str = MODEL,
    max_tokens: int | None = 10,
    input_tokens: int = 20,
    messages: Sequence[Mapping[str, Any]] = HELLO,
) -> Decision:
    req = ChatRequest(key, model, input_tokens, max_tokens, False, messages, cache_prefixes)
    return p.chat(req, now)


def _completion(d: Decision) -> Completion:
    assert isinstance(d, Completion), d
    return d


def _rejection(d: Decision) -> Rejection:
    assert isinstance(d, Rejection), d
    return d


def _limited(d: Decision) -> Limited:
    """The 429's Limited, after checking the decision is a rate-limit refusal."""
    rej = _rejection(d)
    assert (rej.status, rej.kind) == (429, "rate_limit")
    assert rej.limited is not None
    wait = rej.limited.retry_after_s  # from admission; the Rejection's, from receipt
    exact = None if wait is None else max(0.0, wait - rej.latency_s)
    if rej.limited.kind == "concurrency":
        exact = 1.0  # a second, whatever the limits say
    assert rej.message_args["wait_s"] == exact
    # What the 429 tells: the model's retry_after (the default profile: whole seconds).
    told = {
        "exact": exact,
        "seconds": None if exact is None else float(max(1, math.ceil(exact))),
        "none": None,
    }[rej.message_args["retry_after"]]
    assert rej.retry_after_s == told
    return rej.limited


def _view(v: RateLimitView | Limited) -> RateLimitView:
    assert isinstance(v, RateLimitView), v
    return v


def _tokens(text: str) -> int:
    return len(ENC.encode(text, disallowed_special=()))


def _floor128(n: int) -> int:
    return n - n % 128


# -- 1. RPM per (API key, model) ---------------------------------------------------------------


def test_waiting_exactly_retry_after_is_enough_whatever_the_rounding() -> None:
    """The promise behind Retry-After, over many limits and start times (float refills)."""
    for rpm in range(1, 2000, 13):
        for t0 in (0.0, 5.0, 100.0, 1000.0, 86_400.0):
            state = LimitState(rpm, 10**9, t0)
            for _ in range(rpm):
                assert isinstance(state.admit(1, t0), RateLimitView)
            refused = state.admit(1, t0)
            assert isinstance(refused, Limited) and refused.retry_after_s is not None
            assert refused.retry_after_s == pytest.approx(60 / rpm)
            later = t0 + refused.retry_after_s
            assert isinstance(state.admit(1, later), RateLimitView), (rpm, t0)


@pytest.mark.parametrize(
    ("rpm", "t0"),
    [
        (60, 0.0),
        (3, 1000.0),
        (1, 5.0),
        (7, 1000.0),
        (100, 100.0),
    ],
)
def test_rpm_bucket_starts_full_and_retry_after_is_the_refill_time(rpm: int, t0: float) -> None:
    p = Provider(_cfg(models={MODEL: ModelConfig(rpm=rpm)}), t0)
    for i in range(rpm):  # a full bucket: rpm requests at one instant
        c = _completion(_ask(p, t0))
        assert c.ratelimit.requests.limit == rpm
        assert c.ratelimit.requests.remaining == rpm - 1 - i
    limited = _limited(_ask(p, t0))
    assert limited.kind == "requests"
    assert limited.view.requests.remaining == 0
    retry = limited.retry_after_s
    assert retry is not None
    assert retry == pytest.approx(60 / rpm, rel=1e-12)  # one request refills in 60/rpm s
    # A refused request charges nothing, so early retries do not push the wait back.
    assert _limited(_ask(p, t0 + 0.99 * retry)).kind == "requests"
    _completion(_ask(p, t0 + retry))


def test_rate_limits_are_per_key_and_per_model() -> None:
    p = Provider(_cfg(default_rpm=2), 0.0)
    _completion(_ask(p, 0.0))
    _completion(_ask(p, 0.0))
    assert _limited(_ask(p, 0.0)).kind == "requests"
    other_key = _completion(_ask(p, 0.0, key="sk-other"))
    assert other_key.ratelimit.requests.remaining == 1
    other_model = _completion(_ask(p, 0.0, model="gpt-4o"))
    assert other_model.ratelimit.requests.remaining == 1
    assert _limited(_ask(p, 0.0)).kind == "requests"  # the first pair is still empty


# -- 2. TPM ------------------------------------------------------------------------------------


def test_admission_charges_prompt_plus_max_tokens_or_the_default() -> None:
    p = Provider(_cfg(default_tpm=1000, default_max_tokens=250), 0.0)
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=200))
    assert c.ratelimit.tokens.limit == 1000
    assert c.ratelimit.tokens.remaining == 1000 - (100 + 200)
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=None))
    assert c.ratelimit.tokens.remaining == 700 - (100 + 250)


def test_token_limit_names_tokens_and_waits_for_the_shortfall() -> None:
    p = Provider(_cfg(default_tpm=600), 0.0)  # refills 10 tokens a second
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=400))
    assert c.ratelimit.tokens.remaining == 100
    limited = _limited(_ask(p, 0.0, input_tokens=100, max_tokens=200))
    assert limited.kind == "tokens"
    assert (limited.limit, limited.used, limited.requested) == (600, 500, 300)
    assert limited.retry_after_s == pytest.approx((300 - 100) / 10)
    assert _limited(_ask(p, 19.8, input_tokens=100, max_tokens=200)).kind == "tokens"
    c = _completion(_ask(p, 20.0, input_tokens=100, max_tokens=200))
    assert c.ratelimit.tokens.remaining == 0


def test_a_request_larger_than_the_whole_tpm_is_too_large_for_good() -> None:
    p = Provider(_cfg(default_tpm=1000), 0.0)
    for now in (0.0, 3600.0):  # waiting does not help
        rej = _rejection(_ask(p, now, input_tokens=600, max_tokens=401))
        limited = _limited(rej)
        assert limited.kind == "too_large"
        assert limited.retry_after_s is None
        assert rej.retry_after_s is None
    # Refusals charged nothing: a request of exactly the capacity still fits.
    c = _completion(_ask(p, 3600.0, input_tokens=600, max_tokens=400))
    assert c.ratelimit.tokens.remaining == 0


def test_settle_corrects_the_charge_to_actual_usage() -> None:
    p = Provider(_cfg(default_tpm=1000, output_tokens=DistConfig(median=10)), 0.0)
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=200))
    assert c.ratelimit.tokens.remaining == 700
    assert c.output_tokens == 10
    assert c.ticket is not None  # a model with latency: settled when the response is done
    p.settle(c.ticket, c.output_tokens, 0.0)  # used 110 of the 300 charged
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=200))
    assert c.ratelimit.tokens.remaining == 1000 - 110 - 300


def test_limit_state_settle_refunds_and_is_capped_at_capacity() -> None:
    state = LimitState(60, 1000, 0.0)
    assert _view(state.admit(300, 0.0)).tokens.remaining == 700
    state.settle(300, 50, 0.0)
    rr, rt, sr, st = state.snapshot(0.0)
    assert (rr, rt) == (59, 950)
    assert sr == pytest.approx(1 / 1.0)  # one request short, refilled at 1/s
    assert st == pytest.approx(50 / (1000 / 60))
    state.settle(300, 0, 30.0)  # a refund on a bucket refilled to the brim
    assert state.snapshot(30.0) == (60, 1000, 0.0, 0.0)


# -- 3. Remaining and reset values -------------------------------------------------------------


def test_remaining_and_reset_follow_a_continuous_capped_refill() -> None:
    # rpm 60 refills 1 request/s, tpm 6000 refills 100 tokens/s.
    state = LimitState(60, 6000, 10.0)
    for _ in range(3):
        v = _view(state.admit(500, 10.0))
    assert (v.requests.limit, v.tokens.limit) == (60, 6000)
    assert (v.requests.remaining, v.tokens.remaining) == (57, 4500)
    assert v.requests.reset_s == pytest.approx(3.0)
    assert v.tokens.reset_s == pytest.approx(1500 / 100)

    v = _view(state.admit(500, 12.5))  # 57 + 2.5 - 1 = 58.5; 4500 + 250 - 500 = 4250
    assert (v.requests.remaining, v.tokens.remaining) == (58, 4250)
    assert v.requests.reset_s == pytest.approx(1.5)
    assert v.tokens.reset_s == pytest.approx(1750 / 100)

    rr, rt, sr, st = state.snapshot(14.0)  # requests full again; 4250 + 150
    assert (rr, rt) == (60, 4400)
    assert sr == pytest.approx(0.0)
    assert st == pytest.approx(1600 / 100)

    assert state.snapshot(1000.0) == (60, 6000, 0.0, 0.0)  # capped, not overfull
    v = _view(state.admit(500, 1000.0))
    assert (v.requests.remaining, v.tokens.remaining) == (59, 5500)
    assert v.requests.reset_s == pytest.approx(1.0)
    assert v.tokens.reset_s == pytest.approx(5.0)


def test_provider_view_reports_the_refilled_limits() -> None:
    p = Provider(_cfg(default_rpm=120, default_tpm=12_000), 0.0)  # 2 req/s, 200 tok/s
    c = _completion(_ask(p, 0.0, input_tokens=100, max_tokens=500))
    assert _flat(c.ratelimit) == pytest.approx((120, 119, 0.5, 12_000, 11_400, 3.0))
    view = p.view(KEY, MODEL, 2.0)  # requests full again; 11_400 + 2 * 200 tokens
    assert view is not None
    assert _flat(view) == pytest.approx((120, 120, 0.0, 12_000, 11_800, 1.0))
    full = RateLimitView(Bucket(120, 120, 0.0), Bucket(12_000, 12_000, 0.0))
    assert p.view(KEY, MODEL, 600.0) == full


def _flat(view: RateLimitView) -> tuple[float, ...]:
    return (*astuple(view.requests), *astuple(view.tokens))


# -- 4. In-flight cap --------------------------------------------------------------------------


def test_in_flight_cap_refuses_until_a_request_settles() -> None:
    p = Provider(_cfg(models={MODEL: ModelConfig(max_in_flight=2)}), 0.0)
    first = _completion(_ask(p, 0.0))
    _completion(_ask(p, 0.0))
    limited = _limited(_ask(p, 0.0))
    assert limited.kind == "concurrency"
    assert limited.limit == 2
    _completion(_ask(p, 0.0, key="sk-other"))  # the cap is per key
    assert first.ticket is not None
    p.settle(first.ticket, first.output_tokens, 0.5)
    _completion(_ask(p, 0.5))
    assert _limited(_ask(p, 0.5)).kind == "concurrency"


def test_limit_state_in_flight_cap() -> None:
    state = LimitState(100, 10_000, 0.0, max_in_flight=1)
    _view(state.admit(10, 0.0))
    refused = state.admit(10, 0.0)
    assert isinstance(refused, Limited)
    assert refused.kind == "concurrency"
    state.settle(10, 10, 1.0)
    _view(state.admit(10, 1.0))


# -- 5. Go durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.012, "12ms"),
        (1, "1s"),
        (360, "6m0s"),
        (1.5, "1.5s"),
        (0, "0s"),
        (0.999, "999ms"),
        (61.25, "1m1.25s"),
        (3600, "1h0m0s"),
        (3723.5, "1h2m3.5s"),
    ],
)
def test_format_go_duration(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text


# -- 6. Token counting -------------------------------------------------------------------------


def test_chat_tokens_follow_openai_per_message_rules() -> None:
    messages: list[dict[str, str]] = [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "name": "alice", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy? One word, please."},
    ]
    expected = 3  # reply priming
    for m in messages:
        expected += 3 + _tokens(m["role"]) + _tokens(m["content"])
        if "name" in m:
            expected += 1 + _tokens(m["name"])
    assert count_chat_tokens(messages) == expected
    assert count_chat_tokens([]) == 3
    assert count_chat_tokens([{"role": "user", "content": ""}]) == 3 + 3 + 1

    raw = json.dumps({"model": MODEL, "messages": messages, "max_tokens": 50}).encode()
    _, input_tokens, max_tokens = parse_chat(raw)
    assert (input_tokens, max_tokens) == (expected, 50)


# -- 7. Output length and text -----------------------------------------------------------------


def test_output_is_cut_at_max_tokens_with_finish_reason_length() -> None:
    p = Provider(_cfg(output_tokens=DistConfig(median=500)), 0.0)
    c = _completion(_ask(p, 0.0, max_tokens=50))
    assert (c.output_tokens, c.finish_reason) == (50, "max_tokens")
    assert _tokens(c.text) == 50
    assert len(c.plan.gaps_s) == 49


def test_output_stops_naturally_below_the_cap() -> None:
    p = Provider(_cfg(output_tokens=DistConfig(median=37)), 0.0)
    c = _completion(_ask(p, 0.0, max_tokens=None))
    assert (c.output_tokens, c.finish_reason) == (37, "end")
    c = _completion(_ask(p, 0.0, max_tokens=100))
    assert (c.output_tokens, c.finish_reason) == (37, "end")


def test_completion_text_has_exactly_output_tokens() -> None:
    p = Provider(_cfg(output_tokens=DistConfig(median=40, spread=0.8), seed=3), 0.0)
    lengths = set()
    for i in range(40):
        c = _completion(_ask(p, i * 0.1, max_tokens=None))
        assert _tokens(c.text) == c.output_tokens == len(c.pieces)
        lengths.add(c.output_tokens)
    assert len(lengths) > 5  # the spread did draw different lengths


# -- 8. Context window -------------------------------------------------------------------------


def test_context_window_overflow_is_a_400() -> None:
    p = Provider(_cfg(default_rpm=10, models={MODEL: ModelConfig(context_window=1000)}), 0.0)
    rej = _rejection(_ask(p, 0.0, input_tokens=600, max_tokens=401))
    assert (rej.status, rej.kind) == (400, "context_length")
    assert rej.message_args["limit"] == 1000
    assert rej.message_args["total"] == 1001
    rej = _rejection(_ask(p, 0.0, input_tokens=1001, max_tokens=None))
    assert (rej.status, rej.kind) == (400, "context_length")
    c = _completion(_ask(p, 0.0, input_tokens=600, max_tokens=400))  # exactly the window
    assert c.ratelimit.requests.remaining == 9  # the refusals took no request


# -- 9. Model lookup and authentication --------------------------------------------------------


def test_unknown_model_is_404() -> None:
    p = Provider(_cfg(), 0.0)
    rej = _rejection(_ask(p, 0.0, model="gpt-nonexistent"))
    assert (rej.status, rej.kind) == (404, "model_not_found")
    assert rej.message_args["model"] == "gpt-nonexistent"
    rej = _rejection(_ask(p, 0.0, model="text-embedding-3-small"))  # not a chat model
    assert (rej.status, rej.kind) == (404, "model_not_found")


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_401_before_the_model_is_looked_up(key: str | None) -> None:
    p = Provider(_cfg(), 0.0)
    for model in (MODEL, "gpt-nonexistent"):
        rej = _rejection(_ask(p, 0.0, key=key, model=model))
        assert (rej.status, rej.kind) == (401, "auth")


def test_configured_api_keys_are_enforced() -> None:
    p = Provider(_cfg(api_keys=["sk-good"]), 0.0)
    rej = _rejection(p.chat(ChatRequest("sk-bad", MODEL, 20, 10, False, HELLO), 0.0))
    assert (rej.status, rej.kind) == (401, "auth")
    _completion(p.chat(ChatRequest("sk-good", MODEL, 20, 10, False, HELLO), 0.0))
    # With no list, any non-empty key is accepted.
    _completion(_ask(Provider(_cfg(), 0.0), 0.0, key="sk-anything"))


# -- 10. Faults --------------------------------------------------------------------------------


def test_outage_window_is_relative_to_the_provider_epoch() -> None:
    outage = FaultWindowConfig(kind="outage", model=MODEL, start=10, end=20)
    p = Provider(_cfg(faults=[outage]), 1000.0)
    for now in (1009.5, 1020.0, 1100.0):  # before, at the (exclusive) end, after
        _completion(_ask(p, now))
    for now in (1010.0, 1015.0, 1019.9):
        rej = _rejection(_ask(p, now))
        # 503 is OpenAI's overload status (mock_provider/model/family.py), as 529 is Anthropic's
        assert (rej.status, rej.kind) == (503, "overloaded")
        assert rej.message_args["reason"] == "outage"
    _completion(_ask(p, 1015.0, model="gpt-4o"))  # another model is unaffected


def test_error_rate_window_fails_about_that_share() -> None:
    statuses = [500, 502, 503]
    window = FaultWindowConfig(kind="error_rate", rate=0.3, statuses=[500, 502, 503])
    p = Provider(_cfg(faults=[window], output_tokens=DistConfig(median=3)), 0.0)
    n = 2000
    seen: dict[int, int] = {}
    for i in range(n):
        d = _ask(p, i * 0.01)
        if isinstance(d, Rejection):  # an OpenAI model: 503 is its overload status
            assert d.kind == ("overloaded" if d.status == 503 else "server_error")
            seen[d.status] = seen.get(d.status, 0) + 1
    failed = sum(seen.values())
    sd = math.sqrt(n * 0.3 * 0.7)
    assert abs(failed - 0.3 * n) <= 4 * sd
    assert set(seen) == set(statuses)  # each status drawn, and only those


def test_fault_schedule_first_matching_rule_decides() -> None:
    schedule = FaultSchedule.from_config(
        [
            FaultWindowConfig(kind="outage", model="a", start=0, end=5, status=502),
            FaultWindowConfig(kind="error_rate", rate=1.0, statuses=[504]),
        ]
    )
    rng = RequestRandom(0, 0)
    fault = schedule.decide(FaultTarget("a"), 1.0, rng)
    assert isinstance(fault, ErrorFault) and (fault.status, fault.reason) == (502, "outage")
    fault = schedule.decide(FaultTarget("b"), 1.0, rng)
    assert isinstance(fault, ErrorFault) and (fault.status, fault.reason) == (504, "error_rate")
    assert FaultSchedule.from_config([]).decide(FaultTarget("a"), 1.0, rng) is None


# -- 11. Determinism ---------------------------------------------------------------------------


def _run(seed: int) -> list[Completion]:
    cfg = _cfg(seed=seed, output_tokens=DistConfig(median=50, spread=0.5))
    p = Provider(cfg, 0.0)
    out = []
    for i in range(30):
        req = ChatRequest(KEY, MODEL, 20 + 7 * i, None, False, HELLO)
        out.append(_completion(p.chat(req, i * 0.37)))
    return out


def _signature(c: Completion) -> tuple[Any, ...]:
    return (c.request_id, c.output_tokens, c.finish_reason, c.cached_tokens, c.plan, c.text)


def test_same_seed_same_decisions_different_seed_different_plans() -> None:
    a, b = _run(7), _run(7)
    assert [_signature(c) for c in a] == [_signature(c) for c in b]
    assert len({c.output_tokens for c in a}) > 5  # there was spread to draw from
    assert len({c.plan.ttft_s for c in a}) == len(a)
    other = _run(8)
    assert [c.plan for c in other] != [c.plan for c in a]
    assert [c.output_tokens for c in other] != [c.output_tokens for c in a]
    assert {c.request_id for c in other}.isdisjoint(c.request_id for c in a)


# -- 12. Timing plan ---------------------------------------------------------------------------

_STEADY = LatencyConfig(
    network_ms=DistConfig(median=40),
    prefill_ms_per_token=DistConfig(median=0.5),
    first_token_ms=DistConfig(median=200),
    decode_ms_per_token=DistConfig(median=12),
)


def test_timing_plan_adds_up_the_latency_phases() -> None:
    cfg = _cfg(models={MODEL: ModelConfig(latency=_STEADY)}, output_tokens=DistConfig(median=30))
    p = Provider(cfg, 0.0)
    c = _completion(_ask(p, 0.0, input_tokens=800, max_tokens=None))
    plan = c.plan
    assert plan.network_s == pytest.approx(0.040)
    assert plan.prefill_s == pytest.approx(0.5 * 800 / 1000)
    assert plan.ttft_s == pytest.approx(0.040 + 0.400 + 0.200)
    assert len(plan.gaps_s) == c.output_tokens - 1 == 29
    assert plan.gaps_s == pytest.approx([0.012] * 29)
    assert plan.total_s == pytest.approx(plan.ttft_s + sum(plan.gaps_s))
    assert plan.total_s == pytest.approx(0.640 + 29 * 0.012)


def test_draw_plan_one_token_has_no_gaps() -> None:
    profile = LatencyProfile(Dist(40.0), Dist(0.5), Dist(200.0), Dist(12.0))
    plan = draw_plan(profile, 100, 1, RequestRandom(0, 0))
    assert plan.gaps_s == ()
    assert plan.ttft_s == pytest.approx(0.040 + 0.050 + 0.200)
    assert plan.total_s == pytest.approx(plan.ttft_s)


# -- 13. Prompt caching ------------------------------------------------------------------------


def _system(text: str, question: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": text}, {"role": "user", "content": question}]


def test_repeated_long_prompt_is_cached_in_128_token_steps() -> None:
    p = Provider(_cfg(), 0.0)
    assert p.cfg.cache_min_tokens == 1024
    system = SENTENCE * 150
    messages = _system(system, "What does the fox do?")
    n = count_chat_tokens(messages)
    assert n >= 1024
    first = _completion(_ask(p, 0.0, messages=messages, input_tokens=n, max_tokens=None))
    assert first.cached_tokens == 0
    again = _completion(_ask(p, 1.0, messages=messages, input_tokens=n, max_tokens=None))
    assert again.cached_tokens == _floor128(n) > 0

    # Another question after the same system prompt: only the shared prefix is cached.
    other = _system(system, "And the dog?")
    m = count_chat_tokens(other)
    shared = 3 + 3 + _tokens("system") + _tokens(system)  # priming + the system message
    c = _completion(_ask(p, 2.0, messages=other, input_tokens=m, max_tokens=None))
    assert c.cached_tokens == _floor128(shared)
    assert c.cached_tokens % 128 == 0 and 0 < c.cached_tokens <= m


def test_prompts_below_the_minimum_are_never_cached() -> None:
    p = Provider(_cfg(), 0.0)
    messages = _system(SENTENCE * 40, "Why?")  # about 400 tokens
    n = count_chat_tokens(messages)
    assert n < 1024
    for now in (0.0, 1.0, 2.0):
        c = _completion(_ask(p, now, messages=messages, input_tokens=n, max_tokens=None))
        assert c.cached_tokens == 0
    # A long prompt whose shared prefix is short: nothing is cached either.
    for now, question in ((3.0, SENTENCE * 80 + "A?"), (4.0, SENTENCE * 80 + "B?")):
        msgs = _system(SENTENCE * 40, question)
        assert count_chat_tokens(msgs) >= 1024
        c = _completion(_ask(p, now, messages=msgs, input_tokens=count_chat_tokens(msgs)))
        assert c.cached_tokens == 0


def test_cache_minimum_comes_from_the_config() -> None:
    p = Provider(_cfg(cache_min_tokens=128), 0.0)
    messages = _system(SENTENCE * 20, "Why?")  # about 200 tokens
    n = count_chat_tokens(messages)
    assert 128 <= n < 1024
    _completion(_ask(p, 0.0, messages=messages, input_tokens=n))
    c = _completion(_ask(p, 1.0, messages=messages, input_tokens=n))
    assert c.cached_tokens == _floor128(n) > 0


def test_cache_entries_expire_after_the_ttl() -> None:
    p = Provider(_cfg(cache_ttl_s=300), 0.0)
    messages = _system(SENTENCE * 150, "Hi")
    n = count_chat_tokens(messages)
    assert _completion(_ask(p, 0.0, messages=messages, input_tokens=n)).cached_tokens == 0
    assert _completion(_ask(p, 301.0, messages=messages, input_tokens=n)).cached_tokens == 0
    assert _completion(_ask(p, 302.0, messages=messages, input_tokens=n)).cached_tokens > 0


def test_cached_tokens_are_not_prefilled_again() -> None:
    cfg = _cfg(models={MODEL: ModelConfig(latency=_STEADY)})
    p = Provider(cfg, 0.0)
    messages = _system(SENTENCE * 150, "Hi")
    n = count_chat_tokens(messages)
    _completion(_ask(p, 0.0, messages=messages, input_tokens=n))
    c = _completion(_ask(p, 1.0, messages=messages, input_tokens=n))
    assert c.cached_tokens > 0
    assert c.plan.prefill_s == pytest.approx(0.5 * (n - c.cached_tokens) / 1000)


def test_prompt_cache_counts_the_longest_shared_prefix() -> None:
    cache = PromptCache(ttl_s=300.0, min_tokens=1024)
    assert cache.lookup([(1, 500), (2, 1500)], 0.0) == 0  # first sight
    assert cache.lookup([(1, 500), (3, 2000)], 1.0) == 0  # shares 500 < 1024
    assert cache.lookup([(1, 500), (2, 1500)], 2.0) == _floor128(1500)


def test_cached_tokens_of_list_content_are_a_multiple_of_128() -> None:
    # A prompt whose billed size sits just under a multiple of 128, in content parts.
    for k in range(1, 200):
        text = SENTENCE * 110 + "word " * k
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": [{"type": "text", "text": text}]},
            {"role": "user", "content": "Hi"},
        ]
        n = count_chat_tokens(messages)
        if n >= 1024 and n % 128 >= 120:
            break
    else:
        raise AssertionError("no prompt size found")
    p = Provider(_cfg(), 0.0)
    _completion(_ask(p, 0.0, messages=messages, input_tokens=n))
    c = _completion(_ask(p, 1.0, messages=messages, input_tokens=n))
    assert c.cached_tokens == _floor128(n)


# -- 14. Catalog -------------------------------------------------------------------------------


def test_catalog_covers_the_openai_dialect_models() -> None:
    catalog = build_catalog(ProviderConfig())
    for name in ("gpt-4o", "gpt-4o-mini", "gpt-5", "o3"):
        spec = catalog[name]
        assert (spec.name, spec.kind, spec.dialect) == (name, "chat", "openai")
        assert spec.context_window > 0 and spec.price_output > 0


def test_catalog_applies_model_overrides() -> None:
    base = build_catalog(ProviderConfig())["gpt-4o"]
    cfg = ProviderConfig(
        models={
            "gpt-4o": ModelConfig(
                context_window=8000,
                price_input=9.0,
                latency=LatencyConfig(network_ms=DistConfig(median=5)),
            ),
            "house-model": ModelConfig(max_output_tokens=512),
        }
    )
    catalog = build_catalog(cfg)
    spec = catalog["gpt-4o"]
    assert (spec.context_window, spec.price_input) == (8000, 9.0)
    assert spec.price_output == base.price_output  # untouched fields keep the default
    assert spec.latency.network_ms == Dist(5.0)
    assert spec.latency.first_token_ms == base.latency.first_token_ms
    assert catalog["house-model"].max_output_tokens == 512
    assert catalog["house-model"].kind == "chat"
    assert Provider(cfg, 0.0).catalog["gpt-4o"].context_window == 8000
