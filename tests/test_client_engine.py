"""The client brain driven by scripted outcomes in virtual time (no I/O)."""

from __future__ import annotations

import random

from mock_provider.model.catalog import DEFAULT_CATALOG
from simulator.client.engine import ClientBrain, respond, run_scripted
from simulator.client.events import Event, Send, Sleep
from simulator.config import ClientConfig, GuardConfig, RetryConfig, TimeoutConfig
from simulator.workload import LogicalRequest


def req(model: str = "gpt-4o-mini", user: str = "u1", seq: int = 0, **kw: object) -> LogicalRequest:
    fields: dict[str, object] = {
        "seq": seq,
        "at": 0.0,
        "user_id": user,
        "feature": "chat",
        "prompt_version": "v1",
        "messages": (("user", "hello"),),
        "input_tokens": 1000,
        "max_tokens": 256,
        "model": model,
    }
    fields.update(kw)
    return LogicalRequest(**fields)  # type: ignore[arg-type]


def brain(seed: int = 0, **kw: object) -> ClientBrain:
    return ClientBrain(ClientConfig(**kw), DEFAULT_CATALOG, random.Random(seed))


def sleeps(events: list[Event]) -> list[Sleep]:
    return [e for e in events if isinstance(e, Sleep)]


def sends(events: list[Event]) -> list[Send]:
    return [e for e in events if isinstance(e, Send)]


def test_success_first_try_builds_the_attempt() -> None:
    b = brain(stream=True, guards=GuardConfig(max_output_tokens=100))
    res, ev = run_scripted(
        b.request(req(model="claude-haiku-4-5"), 0.0), [respond(200, output_tokens=50)]
    )
    (send,) = sends(ev)
    assert send.attempt.dialect == "anthropic" and send.attempt.max_tokens == 100
    assert send.attempt.stream and send.attempt.input_tokens == 1000 and send.attempt.attempt == 1
    spec = DEFAULT_CATALOG["claude-haiku-4-5"]
    assert res.success and res.attempts == 1 and res.fallback_used is None and res.error is None
    assert res.cost_usd == spec.cost_usd(1000, 50)


def test_output_guard_sets_missing_max_tokens_and_input_guard_refuses() -> None:
    b = brain(guards=GuardConfig(max_input_tokens=500, max_output_tokens=64))
    _, ev = run_scripted(b.request(req(input_tokens=400, max_tokens=None), 0.0), [respond()])
    assert sends(ev)[0].attempt.max_tokens == 64
    res, ev = run_scripted(b.request(req(input_tokens=501), 0.0), [])
    assert ev == [] and not res.success and res.error == "input_too_long" and res.attempts == 0


def test_retry_after_is_honoured_by_openai_default() -> None:
    b = brain(retry=RetryConfig(kind="openai_default"))
    script = [respond(429, retry_after_s=4.0), respond(200)]
    res, ev = run_scripted(b.request(req(), 0.0), script)
    assert [(s.seconds, s.reason) for s in sleeps(ev)] == [(4.0, "retry_after")]
    assert sends(ev)[1].slept_s == 4.0
    assert res.success and res.attempts == 2 and res.slept_s == 4.0


def test_openai_default_delays_reproduce_with_same_seed() -> None:
    def delays(seed: int, seq: int = 0) -> list[float]:
        b = brain(seed=seed, retry=RetryConfig(kind="openai_default", max_attempts=5))
        res, ev = run_scripted(b.request(req(seq=seq), 0.0), [respond(500)] * 5)
        assert not res.success and res.attempts == 5 and res.error == "http_500"
        return [s.seconds for s in sleeps(ev)]

    got = delays(5)
    for n, d in enumerate(got):  # the SDK's rule: min(0.5 * 2^n, 8) * (1 - 0.25 U)
        base = min(0.5 * 2**n, 8.0)
        assert 0.75 * base <= d <= base
    assert delays(5) == got  # same seed, same waits
    assert delays(6) != got  # another seed, other waits
    # each logical request has its own draws: another request, other waits
    assert delays(5, seq=1) != got


def test_call_with_backoff_and_aware_strategies_wait_retry_after() -> None:
    for cfg in (
        RetryConfig(kind="call_with_backoff", max_attempts=5),
        RetryConfig(kind="exponential", base_s=0.1, honor_retry_after=True),
    ):
        res, ev = run_scripted(
            brain(retry=cfg).request(req(), 0.0), [respond(429, retry_after_s=20.0), respond(200)]
        )
        assert sleeps(ev)[0].seconds == 20.0 and res.success


def test_client_errors_end_the_request_even_with_fallback() -> None:
    for status in (400, 401, 403, 404):
        b = brain(
            retry=RetryConfig(kind="immediate", max_attempts=5, retry_on=[status, 429]),
            fallback=["gpt-4o"],
        )
        res, ev = run_scripted(b.request(req(), 0.0), [respond(status)] * 5)
        assert res.attempts == 1 and not res.success and res.error == f"http_{status}"
        assert len(sends(ev)) == 1


def test_fallback_order_and_fallback_used() -> None:
    b = brain(
        retry=RetryConfig(kind="immediate", max_attempts=2),
        fallback=["claude-haiku-4-5", "gpt-4o-mini", "gpt-4o"],
    )
    script = [
        respond(503),
        respond(503),
        respond(0, error="timeout"),
        respond(0, error="timeout"),
        respond(200),
    ]
    res, ev = run_scripted(b.request(req(), 0.0), script)
    models = [s.attempt.model for s in sends(ev)]
    assert models == ["gpt-4o-mini"] * 2 + ["claude-haiku-4-5"] * 2 + ["gpt-4o"]
    assert res.success and res.model == "gpt-4o" and res.fallback_used == "gpt-4o"
    ok = run_scripted(b.request(req(), 0.0), [respond(200)])[0]
    assert ok.fallback_used is None


def test_long_retry_after_moves_on_and_non_trigger_does_not() -> None:
    aware = RetryConfig(kind="exponential", honor_retry_after=True)
    b = brain(retry=aware, fallback=["gpt-4o"], fallback_on=["429"])
    res, ev = run_scripted(b.request(req(), 0.0), [respond(429, retry_after_s=30), respond(200)])
    assert sleeps(ev) == [] and res.fallback_used == "gpt-4o"
    res, ev = run_scripted(b.request(req(), 0.0), [respond(500)] * 3)
    assert {s.attempt.model for s in sends(ev)} == {"gpt-4o-mini"} and not res.success


def test_a_library_waits_its_own_way_before_the_app_falls_back() -> None:
    """The openai SDK sleeps a 30 s Retry-After inside ``create``: the app's fallback only
    sees the error the SDK finally raises, so there is no moving on early."""
    b = brain(retry=RetryConfig(kind="openai_sdk"), fallback=["gpt-4o"], fallback_on=["429"])
    script = [respond(429, retry_after_s=30)] * 3 + [respond(200)]
    res, ev = run_scripted(b.request(req(), 0.0), script)
    assert [s.seconds for s in sleeps(ev)] == [30, 30]
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o-mini"] * 3 + ["gpt-4o"]
    assert res.success and res.fallback_used == "gpt-4o"
    res, ev = run_scripted(b.request(req(), 0.0), [respond(400)])
    assert len(sends(ev)) == 1 and res.error == "http_400"  # the app falls back on 429/5xx only


def test_total_timeout_gives_up_before_a_long_sleep() -> None:
    b = brain(
        retry=RetryConfig(kind="fixed", delay_s=30, max_attempts=10),
        timeouts=TimeoutConfig(total_s=100),
    )
    res, ev = run_scripted(b.request(req(), 0.0), [respond(503, latency_s=1.0)] * 10)
    assert res.error == "total_timeout" and res.attempts == 4  # t=1,32,63,94 ; 94+30 > 100
    assert sum(s.seconds for s in sleeps(ev)) <= 100


def test_budget_stops_a_runaway_loop() -> None:
    budget = 0.05
    b = brain(guards=GuardConfig(user_daily_budget_usd=budget))
    one = DEFAULT_CATALOG["gpt-4o-mini"].cost_usd(1000, 500)
    results = [
        run_scripted(b.request(req(seq=i), 10.0 + i), [respond(200, output_tokens=500)])[0]
        for i in range(500)
    ]
    spent = sum(r.cost_usd for r in results)
    first_refused = next(i for i, r in enumerate(results) if r.error == "budget_exceeded")
    assert all(r.success for r in results[:first_refused])
    assert all(r.error == "budget_exceeded" and r.attempts == 0 for r in results[first_refused:])
    assert budget <= spent <= budget + one
    other = run_scripted(b.request(req(user="u2"), 20.0), [respond(200)])[0]
    assert other.success  # the budget is per user
    tomorrow = run_scripted(b.request(req(), 86_400.0 + 5), [respond(200)])[0]
    assert tomorrow.success  # and per day


def test_feature_budget_and_failed_attempts_cost_nothing() -> None:
    b = brain(
        guards=GuardConfig(feature_daily_budget_usd=0.01),
        retry=RetryConfig(kind="immediate", max_attempts=3),
    )
    res = run_scripted(b.request(req(), 0.0), [respond(503)] * 3)[0]
    assert res.cost_usd == 0.0 and res.attempts == 3
    cut = run_scripted(
        b.request(req(), 1.0), [respond(200, error="stream_cut", output_tokens=40), respond(200)]
    )[0]
    assert cut.success and cut.attempts == 2
    spec = DEFAULT_CATALOG["gpt-4o-mini"]
    assert cut.cost_usd == spec.cost_usd(1000, 40) + spec.cost_usd(1000, 0)


def test_circuit_breaker_refuses_locally_and_falls_back() -> None:
    from simulator.config import CircuitBreakerConfig

    cfg = RetryConfig(
        kind="none", circuit_breaker=CircuitBreakerConfig(failure_threshold=2, reset_timeout_s=60)
    )
    b = brain(retry=cfg)
    for t in (0.0, 1.0):
        assert run_scripted(b.request(req(), t), [respond(503)])[0].error == "http_503"
    res, ev = run_scripted(b.request(req(), 2.0), [])
    assert res.error == "circuit_open" and res.attempts == 0 and ev == []
    fb = brain(retry=cfg, fallback=["gpt-4o"])
    fb.policy.breakers.update(b.policy.breakers)
    res, ev = run_scripted(fb.request(req(), 3.0), [respond(200)])
    assert res.success and res.fallback_used == "gpt-4o" and res.attempts == 1


def test_retry_budget_limits_amplification_in_the_brain() -> None:
    from simulator.config import RetryBudgetConfig

    cfg = RetryConfig(
        kind="immediate", max_attempts=5, retry_budget=RetryBudgetConfig(max_tokens=10)
    )
    b = brain(retry=cfg)
    attempts = [
        run_scripted(b.request(req(seq=i), float(i)), [respond(503)] * 5)[0].attempts
        for i in range(5)
    ]
    assert attempts[0] == 5 and attempts[-1] == 1
    assert sum(attempts) < 5 * 5


def test_budget_counts_requests_in_flight() -> None:
    """A loop that fires many requests at once: reservations stop it within one request."""
    from simulator.client.events import Outcome
    from simulator.client.guards import estimate_cost

    b = brain(guards=GuardConfig(user_daily_budget_usd=0.05))
    spec = DEFAULT_CATALOG["gpt-4o-mini"]
    requests = [req(seq=i, input_tokens=20_000) for i in range(200)]
    gens = [b.request(r, 0.0) for r in requests]
    in_flight = []
    refused = 0
    for g in gens:  # every request reaches its Send before any response arrives
        try:
            event = next(g)
        except StopIteration as stop:
            assert stop.value.error == "budget_exceeded"
            refused += 1
            continue
        assert isinstance(event, Send)
        in_flight.append((g, event.attempt))
    one = estimate_cost(spec, requests[0].input_tokens, requests[0].max_tokens)
    assert refused > 0
    assert len(in_flight) * one <= 0.05 + one  # never more than one request over budget
    spent = 0.0
    for g, attempt in in_flight:
        try:
            g.send(Outcome(1.0, 200, input_tokens=attempt.input_tokens, output_tokens=50))
        except StopIteration as stop:
            spent += stop.value.cost_usd
    assert 0 < spent <= 0.05 + one


def router_brain(seed: int = 0, **retry: object) -> ClientBrain:
    cfg = RetryConfig(kind="litellm_router", **retry)  # type: ignore[arg-type]
    return brain(seed, retry=cfg, fallback=["gpt-4o"])


def test_litellm_sleeps_after_its_last_try_then_falls_back_on_any_error() -> None:
    b = router_brain()
    res, ev = run_scripted(b.request(req(), 0.0), [respond(500)] * 3 + [respond(200)])
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o-mini"] * 3 + ["gpt-4o"]
    waits = [s.seconds for s in sleeps(ev)]
    assert len(waits) == 3  # three tries, three sleeps: the last one before the fallback
    for n, w in enumerate(waits):
        assert 0.5 * 2**n <= w <= 0.5 * 2**n + 0.75
    assert res.success and res.fallback_used == "gpt-4o"
    res, ev = run_scripted(b.request(req(), 10.0), [respond(400), respond(200)])
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o-mini", "gpt-4o"] and sleeps(ev) == []
    assert res.success  # a 400 goes straight to the fallback group


def test_litellm_cooldown_after_a_401_refuses_locally_until_it_ends() -> None:
    b = brain(retry=RetryConfig(kind="litellm_router", cooldown_time_s=5))
    first = run_scripted(b.request(req(), 0.0), [respond(401)])[0]
    assert first.error == "http_401" and first.attempts == 1
    res, ev = run_scripted(b.request(req(), 4.9), [])
    assert res.error == "cooldown" and res.attempts == 0 and ev == []
    assert run_scripted(b.request(req(), 5.0), [respond(200)])[0].success
    # a 429 on a single deployment does not cool it (without allowed_fails)
    run_scripted(b.request(req(), 6.0), [respond(429)] * 3)
    assert run_scripted(b.request(req(), 30.0), [respond(200)])[0].success


def test_litellm_allowed_fails_cools_a_group_with_a_fallback_mid_request() -> None:
    b = router_brain(allowed_fails=1, cooldown_time_s=5)
    res, ev = run_scripted(b.request(req(), 0.0), [respond(500), respond(500), respond(200)])
    # the second failure exceeds allowed_fails: no sleep after it, straight to the fallback
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o-mini"] * 2 + ["gpt-4o"]
    assert len(sleeps(ev)) == 1 and res.fallback_used == "gpt-4o"
    res, ev = run_scripted(b.request(req(), 1.0), [respond(200)])
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o"]  # still cooling
    res, ev = run_scripted(b.request(req(), 60.0), [respond(200)])
    assert [s.attempt.model for s in sends(ev)] == ["gpt-4o-mini"]
    lone = router_brain(allowed_fails=0)
    lone_fb = lone.policy.cooldowns
    assert lone_fb is not None and not lone_fb.has_fallback("gpt-4o")  # a fallback model is lone


def test_litellm_cooldown_lasts_the_retry_after_it_was_given() -> None:
    b = router_brain(allowed_fails=0)
    run_scripted(b.request(req(), 0.0), [respond(429, retry_after_s=2.2), respond(200)])
    cooldowns = b.policy.cooldowns
    assert cooldowns is not None
    assert cooldowns.cooling("gpt-4o-mini", 2.9) and not cooldowns.cooling("gpt-4o-mini", 3.0)
