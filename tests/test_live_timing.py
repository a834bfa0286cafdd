"""Live timing: what the client reads from the mock's plan header, what it records, and the rule.

No network: the transport gets a fake session, the driver a scripted transport on gevent.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from mock_provider.clock import WallClock
from mock_provider.model.catalog import DEFAULT_CATALOG
from mock_provider.plan_header import PLAN_HEADER, plan_ms_text
from simulator.client.engine import ClientBrain
from simulator.client.events import AttemptSpec, Outcome
from simulator.config import ClientConfig, RetryConfig, Scenario
from simulator.live.driver import LiveDriver
from simulator.live.timing import (
    SHARE,
    STATISTIC,
    Shortest,
    Spread,
    TimingSamples,
    distortion_warnings,
    shortest_latency,
)
from simulator.live.transport import LocustTransport
from simulator.traces import TraceRecord
from simulator.wire import read_headers
from simulator.workload import LogicalRequest


def test_plan_header_is_wall_ms_and_read_back_in_wall_seconds() -> None:
    assert plan_ms_text(0.040, WallClock(20.0)) == "2.000"
    assert plan_ms_text(0.0, WallClock(20.0)) == "0"
    assert read_headers({PLAN_HEADER: "2.000"}, ok=True).plan_s == pytest.approx(0.002)
    assert read_headers({PLAN_HEADER: "12.5", "retry-after-ms": "3"}).plan_s == 0.0125
    assert read_headers({}).plan_s is None
    assert read_headers({PLAN_HEADER: "soon"}).plan_s is None


class FakeResponse:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status_code, self.content, self.headers, self.error = status, body, headers, None


class FakeSession:
    def __init__(self, response: FakeResponse, wall_s: float) -> None:
        self.response, self.wall_s = response, wall_s

    def request(self, *args: Any, **kw: Any) -> FakeResponse:
        time.sleep(self.wall_s)
        return self.response


SPEC = AttemptSpec(1, "gpt-4o-mini", "openai", (("user", "hi"),), 10, False, 5, 5.0, 30.0, "sk")
OK_BODY = (
    b'{"choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3}}'
)


def test_a_plain_2xx_has_its_latency_as_ttft_and_the_plan_in_scenario_seconds() -> None:
    k = 10.0
    session = FakeSession(FakeResponse(200, OK_BODY, {PLAN_HEADER: "3.000"}), 0.005)
    out = LocustTransport(session, WallClock(k)).send(SPEC)
    assert out.ok and out.latency_s >= 0.05  # 5 wall ms at 10x
    assert out.ttft_s == out.latency_s  # the first token arrives with the whole body
    assert out.plan_s == pytest.approx(0.030)


def test_a_refusal_has_no_ttft_but_carries_its_plan() -> None:
    body = b'{"error":{"code":"rate_limit_exceeded","type":"requests"}}'
    headers = {PLAN_HEADER: "2.000", "retry-after-ms": "100"}
    out = LocustTransport(FakeSession(FakeResponse(429, body, headers), 0.0), WallClock(20.0))
    outcome = out.send(SPEC)
    assert outcome.status == 429 and outcome.ttft_s is None
    assert outcome.plan_s == pytest.approx(0.040) and outcome.retry_after_s == pytest.approx(2.0)


class Scripted:
    """Answers each attempt at once: a 429 with a 1 s Retry-After, then a 200."""

    def __init__(self, clock: WallClock) -> None:
        self.clock, self.calls = clock, 0

    def send(self, spec: AttemptSpec) -> Outcome:
        self.calls += 1
        status = 429 if self.calls == 1 else 200
        return Outcome(self.clock.now(), status, None, 1.0 if status == 429 else None,
                       latency_s=0.0, plan_s=0.0)  # fmt: skip


def test_the_driver_records_how_late_the_arrival_and_the_wake_up_came() -> None:
    clock = WallClock(10.0, time.time())
    cfg = ClientConfig(retry=RetryConfig(kind="fixed", delay_s=0, honor_retry_after=True))
    records: list[TraceRecord] = []

    class Sink:
        def write(self, r: TraceRecord) -> None:
            records.append(r)

    driver = LiveDriver(ClientBrain(cfg, DEFAULT_CATALOG, random.Random(0)), Scripted(clock),
                        clock, Sink(), "s")  # fmt: skip
    late = 2.0  # scenario seconds: the request is run that long after its arrival time
    req = LogicalRequest(0, clock.now() - late, "u", "f", "v", (("user", "hi"),), 5, 10,
                         "gpt-4o-mini")  # fmt: skip
    driver.run_request(req)
    first, second = (r for r in records if r.kind == "attempt")
    assert first.lag_ms is not None and late * 1000 <= first.lag_ms < late * 1000 + 100
    # The retry waited the 1 s Retry-After; gevent wakes it within a few wall ms, times 10.
    assert second.lag_ms is not None and -5 < second.lag_ms < 200
    assert second.slept_s == pytest.approx(1.0)
    assert first.plan_ms == 0.0
    request = next(r for r in records if r.kind == "request")
    assert request.lag_ms is None and request.plan_ms is None


def test_samples_measure_the_mock_the_lag_and_the_excess() -> None:
    samples = TimingSamples()
    samples.add_trace({"kind": "attempt", "status": 200, "latency_ms": 150.0, "plan_ms": 100.0,
                       "lag_ms": 3.0})  # fmt: skip
    samples.add_trace({"kind": "attempt", "status": 429, "latency_ms": 70.0, "plan_ms": 40.0,
                       "lag_ms": None})  # fmt: skip
    samples.add_trace({"kind": "attempt", "status": 0, "latency_ms": 9e9, "plan_ms": None,
                       "lag_ms": 1.0})  # fmt: skip
    samples.add_trace({"kind": "request", "latency_ms": 1.0, "plan_ms": None, "lag_ms": 50.0})
    samples.add_mock({"t": 10.5, "start_t": 10.0, "plan_ms": 480.0})
    samples.add_mock({"t": 1.0, "path": "/v1/models"})  # no plan: not measured
    summary = samples.summary()
    assert summary["excess_ms"] == {"n": 2, "p50": 40.0, "p95": 49.0, "max": 50.0}
    assert summary["lag_ms"] == {"n": 2, "p50": 2.0, "p95": 2.9, "max": 3.0}
    assert summary["mock_ms"] == {"n": 1, "p50": 20.0, "p95": 20.0, "max": 20.0}
    assert TimingSamples().summary() == {"mock_ms": None, "lag_ms": None, "excess_ms": None}
    assert Spread.of([]) is None


def scenario(**models: Any) -> Scenario:
    return Scenario.model_validate({
        "name": "t",
        "provider": {"models": models},
        "workload": {"model": "gpt-4o", "arrivals": {"kind": "burst", "n": 1}},
        "strategies": {"a": {}, "b": {"fallback": ["gpt-4o-mini"]}},
    })  # fmt: skip


def test_the_shortest_latency_is_the_smallest_median_round_trip_called() -> None:
    default = scenario()
    assert shortest_latency(default) == Shortest(40.0, "gpt-4o")  # a tie: the first called
    fast = scenario(**{"gpt-4o-mini": {"latency": {"network_ms": {"median": 15}}}})
    assert shortest_latency(fast) == Shortest(15.0, "gpt-4o-mini")  # a fallback counts
    assert shortest_latency(fast).bound_ms == SHARE * 15.0  # type: ignore[union-attr]
    zero = {"median": 0}
    instant = {"latency": {"network_ms": zero, "prefill_ms_per_token": zero,
                           "first_token_ms": zero, "decode_ms_per_token": zero}}  # fmt: skip
    assert shortest_latency(scenario(**{"gpt-4o": instant, "gpt-4o-mini": instant})) is None


def test_a_warning_names_each_measure_over_the_bound_and_only_then() -> None:
    shortest = Shortest(40.0, "gpt-4o-mini")
    bound = shortest.bound_ms

    def spread(value: float) -> dict[str, float]:
        return {"n": 10, "p50": value, "p95": value * 10, "max": value * 20}

    within = {"mock_ms": spread(bound), "lag_ms": spread(bound / 2), "excess_ms": None}
    assert distortion_warnings("s", within, shortest) == []
    (message,) = distortion_warnings(
        "naive", {**within, "excess_ms": spread(bound + 1), "lag_ms": spread(3 * bound)}, shortest
    )
    assert message.startswith(f"naive: live timing distorted: {STATISTIC} ")
    assert "client lag" in message and "attempt excess" in message
    assert "mock handling" not in message
    assert distortion_warnings("s", {"excess_ms": spread(1e6)}, None) == []  # nothing to bend


def test_choose_scale_takes_the_largest_rung_within_the_margin_in_few_probes() -> None:
    from simulator.live.timing import AUTO_MARGIN, SCALE_LADDER, Probe, choose_scale

    overhead_ms = 2.0  # wall: the excess is k x overhead
    asked: list[float] = []

    def measure(k: float) -> Probe:
        asked.append(k)
        return Probe(k, k * overhead_ms, k * overhead_ms / 2, 100)

    bound = 40.0
    choice = choose_scale(measure, bound, 7)
    best = max(k for k in SCALE_LADDER if k * overhead_ms <= AUTO_MARGIN * bound)
    assert choice.scale == best == 12
    assert len(asked) <= 4 and best in asked
    assert "12x gave 24.0 ms" in choice.reason and "20x gave 40.0 ms" in choice.reason
    data = choice.to_json()
    assert data["scale"] == 12 and data["target_ms"] == AUTO_MARGIN * bound
    assert [p["scale"] for p in data["probes"]] == asked
    slow = choose_scale(lambda k: Probe(k, 1.0, 1e6, 10), bound, 7)  # the lag counts too
    assert slow.scale == SCALE_LADDER[0] and "no scale kept" in slow.reason
    fast = choose_scale(lambda k: Probe(k, 0.0, 0.0, 10), bound, 7)
    assert fast.scale == SCALE_LADDER[-1]


def test_expected_concurrency_counts_the_busiest_window_of_arrivals() -> None:
    from simulator.live.timing import expected_concurrency, typical_latency_s
    from simulator.workload import build_workload

    def concurrency(arrivals: Any) -> tuple[int, float]:
        sc = Scenario.model_validate({
            "name": "c", "duration": 60,
            "workload": {"model": "gpt-4o-mini", "arrivals": arrivals,
                         "prompts": {"input_tokens": {"median": 100}, "max_tokens": 50}},
            "provider": {"output_tokens": {"median": 50, "spread": 0}},
            "strategies": {"a": {}},
        })  # fmt: skip
        w = build_workload(sc.workload, sc.seed, sc.duration)
        return expected_concurrency(sc, w), typical_latency_s(sc, w)

    n, typical = concurrency({"kind": "burst", "n": 37, "at": 5})
    assert n == 37
    lat = DEFAULT_CATALOG["gpt-4o-mini"].latency  # network + prefill + first token + 49 gaps
    assert typical * 1000 == pytest.approx(
        lat.network_ms.median + lat.prefill_ms_per_token.median * 100 + lat.first_token_ms.median
        + lat.decode_ms_per_token.median * 49, rel=0.05
    )  # fmt: skip
    steady, _ = concurrency({"kind": "poisson", "rate": 20})
    assert 20 * typical <= steady <= 20 * typical * 3  # a Poisson window's busiest moment
    assert concurrency({"kind": "poisson", "rate": 0.01})[0] >= 1
