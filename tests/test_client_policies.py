"""Wait strategies, stop/retryable rules and the shared extras, with seeded rngs only."""

from __future__ import annotations

import random

import pytest

from simulator.client.events import Outcome
from simulator.client.libraries import OpenAISDK
from simulator.client.policies import (
    AdaptiveThrottle,
    BreakerState,
    CallWithBackoff,
    CircuitBreaker,
    DecorrelatedJitter,
    EqualJitter,
    Exponential,
    FullJitter,
    RetryBudget,
    RetryState,
    WaitStrategy,
    build_retry_policy,
)
from simulator.config import (
    RETRY_FIELDS,
    RETRY_KIND_ALIASES,
    AdaptiveThrottleConfig,
    CircuitBreakerConfig,
    RetryBudgetConfig,
    RetryConfig,
)

FAIL_503 = Outcome(now=0.0, status=503)
OK = Outcome(now=0.0, status=200)


def delays(wait: WaitStrategy, seed: int, n: int = 8, outcome: Outcome = FAIL_503) -> list[float]:
    rng = random.Random(seed)
    out: list[float] = []
    prev: float | None = None
    for i in range(n):
        d = wait(RetryState(i, prev, outcome, rng))
        out.append(d)
        prev = d
    return out


def test_exponential_doubles_and_caps() -> None:
    assert delays(Exponential(0.5, 3.0), 0, 5) == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("wait", "low", "high"),
    [
        (FullJitter(0.5, 10.0), lambda n: 0.0, lambda n: min(10.0, 0.5 * 2**n)),
        (
            EqualJitter(0.5, 10.0),
            lambda n: min(10.0, 0.5 * 2**n) / 2,
            lambda n: min(10.0, 0.5 * 2**n),
        ),
    ],
)
def test_jitter_within_bounds(wait: WaitStrategy, low, high) -> None:
    for seed in range(20):
        for n, d in enumerate(delays(wait, seed)):
            assert low(n) <= d <= high(n)


def test_decorrelated_within_bounds() -> None:
    wait = DecorrelatedJitter(0.5, 10.0)
    for seed in range(20):
        prev = 0.5
        for d in delays(wait, seed):
            assert 0.5 <= d <= min(10.0, prev * 3)
            prev = d


@pytest.mark.parametrize(
    "wait",
    [FullJitter(0.5, 30), EqualJitter(0.5, 30), DecorrelatedJitter(0.5, 30), OpenAISDK()],
)
def test_jitter_repeats_under_seed_and_differs_otherwise(wait: WaitStrategy) -> None:
    assert delays(wait, 42) == delays(wait, 42)
    assert delays(wait, 42) != delays(wait, 43)


def test_openai_sdk_matches_formula() -> None:
    got = delays(OpenAISDK(), 7, 6)
    rng = random.Random(7)
    want = [min(0.5 * 2**n, 8.0) * (1 - 0.25 * rng.random()) for n in range(6)]
    assert got == want


def test_openai_sdk_waits_retry_after_up_to_120_s_and_stops_above() -> None:
    policy = build_retry_policy(RetryConfig(kind="openai_sdk"), random.Random(1))
    for ra in (7.5, 120.0):
        b = policy.next_backoff(1, Outcome(0, 429, retry_after_s=ra), None)
        assert b is not None and b.seconds == ra and b.reason == "retry_after"
    assert policy.next_backoff(1, Outcome(0, 429, retry_after_s=120.5), None) is None
    assert policy.next_backoff(1, Outcome(0, 503, retry_after_s=300), None) is None
    b = policy.next_backoff(1, Outcome(0, 503, retry_after_s=0), None)
    assert b is not None and 0.375 <= b.seconds <= 0.5 and b.reason == "backoff"


def test_call_with_backoff_uses_retry_after_and_caps() -> None:
    rng = random.Random(3)
    w = CallWithBackoff()
    assert w(RetryState(0, None, Outcome(0, 429, retry_after_s=12.0), rng)) == 12.0
    assert w(RetryState(0, None, Outcome(0, 429, retry_after_s=300.0), rng)) == 60.0
    d = w(RetryState(2, None, Outcome(0, 429), rng))
    assert 4.0 <= d <= 5.0
    assert w(RetryState(3, None, Outcome(0, 502), rng)) == 8.0


def test_retry_after_aware_wraps_any_strategy() -> None:
    cfg = RetryConfig(kind="full_jitter", base_s=0.1, cap_s=1.0, honor_retry_after=True)
    policy = build_retry_policy(cfg, random.Random(0))
    b = policy.next_backoff(1, Outcome(0, 429, retry_after_s=9.0), None)
    assert b is not None and b.seconds == 9.0 and b.reason == "retry_after"
    plain = build_retry_policy(
        cfg.model_copy(update={"honor_retry_after": False}), random.Random(0)
    )
    b2 = plain.next_backoff(1, Outcome(0, 429, retry_after_s=9.0), None)
    assert b2 is not None and b2.seconds <= 0.1 and b2.reason == "backoff"


@pytest.mark.parametrize(
    "kind",
    [
        "immediate",
        "fixed",
        "exponential",
        "full_jitter",
        "call_with_backoff",
        "openai_default",
        "openai_sdk",
        "anthropic_sdk",
        "vercel_ai_sdk",
    ],
)
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_never_retried(kind: str, status: int) -> None:
    # Kinds with their own retryable set do not read retry_on (a config may not set it).
    listed = (
        {"retry_on": [400, 401, 403, 404, 429]}
        if "retry_on" in RETRY_FIELDS[RETRY_KIND_ALIASES.get(kind, kind)].used
        else {}
    )
    cfg = RetryConfig(kind=kind, max_attempts=10, **listed)
    policy = build_retry_policy(cfg, random.Random(0))
    assert policy.next_backoff(1, Outcome(0, status), None) is None
    assert policy.next_backoff(1, Outcome(0, 429), None) is not None  # the policy does retry


LIBRARY_KINDS = [
    "openai_sdk",
    "anthropic_sdk",
    "litellm_router",
    "langchain_with_retry",
    "tenacity_cookbook",
    "vercel_ai_sdk",
]


@pytest.mark.parametrize("kind", LIBRARY_KINDS)
def test_retries_client_errors_flag_tells_the_truth(kind: str) -> None:
    """The flag is the behaviour: a kind that says it never retries a 400/401/403/404 never
    sends another attempt after one, on this model or (for LiteLLM) a fallback."""
    policy = build_retry_policy(RetryConfig(kind=kind), random.Random(0))
    again = [
        policy.next_backoff(1, Outcome(0, s), None) is not None
        or policy.falls_back(Outcome(0, s), ["429", "5xx", "timeout"])
        for s in (400, 401, 403, 404)
    ]
    assert policy.retries_client_errors == any(again), again


def test_library_kinds_that_retry_every_error_do_retry_a_400() -> None:
    for kind in ("langchain_with_retry", "tenacity_cookbook"):
        p = build_retry_policy(RetryConfig(kind=kind), random.Random(0))
        assert p.next_backoff(1, Outcome(0, 400), None) is not None, kind
    router = build_retry_policy(RetryConfig(kind="litellm_router"), random.Random(0))
    assert router.next_backoff(1, Outcome(0, 400), None) is None  # no retry in the group...
    assert router.falls_back(Outcome(0, 400), [])  # ...but on to the fallback group
    assert router.next_backoff(1, Outcome(0, 403), None) is not None  # the core retries 403


def test_x_should_retry_overrides_the_status_for_the_stainless_sdks() -> None:
    for kind in ("openai_sdk", "anthropic_sdk"):
        p = build_retry_policy(RetryConfig(kind=kind), random.Random(0))
        assert p.next_backoff(1, Outcome(0, 400, should_retry=True), None) is not None
        assert p.next_backoff(1, Outcome(0, 503, should_retry=False), None) is None
    vercel = build_retry_policy(RetryConfig(kind="vercel_ai_sdk"), random.Random(0))
    assert vercel.next_backoff(1, Outcome(0, 400, should_retry=True), None) is None


def test_sdks_do_not_retry_a_cut_stream_but_langchain_does() -> None:
    cut = Outcome(0, 200, error="stream_cut")
    for kind in LIBRARY_KINDS:
        p = build_retry_policy(RetryConfig(kind=kind), random.Random(0))
        assert (p.next_backoff(1, cut, None) is not None) == (kind == "langchain_with_retry")


def test_stop_after_max_attempts_and_retryable_sets() -> None:
    p = build_retry_policy(
        RetryConfig(kind="fixed", max_attempts=3, retry_on=[503]), random.Random(0)
    )
    assert p.next_backoff(2, FAIL_503, None) is not None
    assert p.next_backoff(3, FAIL_503, None) is None
    assert p.next_backoff(1, Outcome(0, 500), None) is None  # not in retry_on
    assert p.next_backoff(1, Outcome(0, 0, error="timeout"), None) is not None
    cwb = build_retry_policy(
        RetryConfig(kind="call_with_backoff", max_attempts=5), random.Random(0)
    )
    assert cwb.next_backoff(1, Outcome(0, 0, error="timeout"), None) is None
    assert cwb.next_backoff(1, Outcome(0, 504), None) is None
    oai = build_retry_policy(RetryConfig(kind="openai_default"), random.Random(0))
    for s in (0, 408, 409, 429, 500, 529):
        assert oai.next_backoff(1, Outcome(0, s), None) is not None
    assert oai.next_backoff(3, Outcome(0, 500), None) is None  # 3 attempts by default


def test_retry_budget_stops_retries_and_refills() -> None:
    budget = RetryBudget(max_tokens=10, token_ratio=0.5)
    fails = 0
    while budget.allows_retry():
        budget.record(FAIL_503)
        fails += 1
    assert fails == 5  # tokens 10 -> 5 is not > 5
    budget.record(OK)
    assert budget.allows_retry()
    cfg = RetryConfig(
        kind="immediate", max_attempts=100, retry_budget=RetryBudgetConfig(max_tokens=4)
    )
    p = build_retry_policy(cfg, random.Random(0))
    allowed = 0
    for _ in range(10):
        p.record("m", FAIL_503)
        allowed += p.next_backoff(1, FAIL_503, None) is not None
    assert allowed == 1  # 4 -> 3 allowed, then 2 is not > 2


def test_adaptive_throttle_probability_matches_formula() -> None:
    k, req, acc = 2.0, 100, 20
    expected = (req - k * acc) / (req + 1)
    trials, rejects = 4000, 0
    rng = random.Random(11)
    for _ in range(trials):
        th = AdaptiveThrottle(k=k, window_s=120)
        for i in range(req):
            th._requests.append(float(i) / 10)
        for i in range(acc):
            th._accepts.append(float(i) / 10)
        assert th.reject_probability(10.0) == pytest.approx(expected)
        rejects += not th.admit(10.0, rng)
    sd = (expected * (1 - expected) / trials) ** 0.5
    assert abs(rejects / trials - expected) < 5 * sd


def test_adaptive_throttle_window_forgets_and_healthy_never_rejects() -> None:
    rng = random.Random(0)
    th = AdaptiveThrottle(k=2, window_s=60)
    for t in range(50):
        assert th.admit(float(t), rng)  # every request accepted: p stays 0
        th.record(Outcome(float(t), 200))
    for t in range(50, 100):
        th.admit(float(t), rng)
        th.record(Outcome(float(t), 429))
    assert th.reject_probability(100.0) > 0.2
    assert th.reject_probability(1000.0) == 0.0  # window emptied


def test_circuit_breaker_transitions() -> None:
    br = CircuitBreaker(failure_threshold=3, reset_timeout_s=30, half_open_max=1)
    for t in range(2):
        assert br.admit(t)
        br.record(Outcome(t, 503))
    br.record(Outcome(2, 200))  # a success resets the consecutive count
    for t in range(3, 6):
        assert br.admit(t)
        br.record(Outcome(t, 429))
    assert br.state is BreakerState.OPEN
    assert not br.admit(20)  # 15 s after opening
    assert br.admit(35) and br.state is BreakerState.HALF_OPEN  # first probe
    assert not br.admit(35.1)  # only one probe at a time
    br.record(Outcome(36, 0, error="timeout"))
    assert br.state is BreakerState.OPEN and not br.admit(50)
    assert br.admit(66)  # 30 s after re-opening at 36
    br.record(Outcome(67, 200))
    assert br.state is BreakerState.CLOSED and br.admit(67)


def test_policy_admit_reports_local_refusals_per_model() -> None:
    cfg = RetryConfig(kind="exponential", circuit_breaker=CircuitBreakerConfig(failure_threshold=1))
    p = build_retry_policy(cfg, random.Random(0))
    p.record("a", FAIL_503)
    assert p.admit("a", 1.0) == "circuit_open"
    assert p.admit("b", 1.0) is None
    th = build_retry_policy(
        RetryConfig(kind="exponential", adaptive_throttle=AdaptiveThrottleConfig(k=1)),
        random.Random(0),
    )
    for t in range(200):
        th.admit("a", float(t))
        th.record("a", Outcome(float(t), 503))
    refusals = [th.admit("a", 200.0 + i / 100) for i in range(100)]
    assert refusals.count("throttled") > 80


def test_vercel_ai_sdk_follows_its_source() -> None:
    """retry-with-exponential-backoff.ts: 2 s doubling, no jitter; a Retry-After under 60 s,
    or under the current backoff, is waited instead (0 too); the backoff doubles regardless."""
    p = build_retry_policy(RetryConfig(kind="vercel_ai_sdk", max_attempts=8), random.Random(0))

    def wait(n: int, ra: float | None = None) -> float:
        b = p.next_backoff(n + 1, Outcome(0, 429, retry_after_s=ra), None)
        assert b is not None
        return b.seconds

    assert [wait(n) for n in range(4)] == [2.0, 4.0, 8.0, 16.0]
    assert wait(0, 30.0) == 30.0 and wait(0, 0.0) == 0.0
    assert wait(0, 70.0) == 2.0  # too long, and longer than the backoff
    assert wait(6, 90.0) == 90.0  # long, but shorter than the 128 s backoff
    assert p.next_backoff(3, Outcome(0, 503), None) is not None
    assert p.next_backoff(8, Outcome(0, 503), None) is None
    for status in (400, 401, 403, 404, 413):
        assert p.next_backoff(1, Outcome(0, status), None) is None


def test_litellm_cools_a_lone_deployment_failing_every_request_of_a_busy_minute() -> None:
    """cooldown_handlers.py: 100% failures and >= 1000 requests in the minute cools even a
    single deployment with no fallback; 999 failures, or one success among them, do not."""
    from simulator.client.litellm_router import RouterCooldowns

    busy = RouterCooldowns(allowed_fails=None, cooldown_time_s=5.0)
    for i in range(999):
        busy.record("m", Outcome(i * 0.05, 503))
    assert not busy.cooling("m", 50.0)
    busy.record("m", Outcome(50.0, 503))
    assert busy.cooling("m", 50.0) and not busy.cooling("m", 55.0)
    mixed = RouterCooldowns(allowed_fails=None, cooldown_time_s=5.0)
    mixed.record("m", Outcome(0.0, 200))
    for i in range(1500):
        mixed.record("m", Outcome(i * 0.01, 503))
    assert not mixed.cooling("m", 15.0)
