"""Metrics on hand-built traces whose answers are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from msgspec.structs import replace

from simulator.report.metrics import (
    METRICS,
    busiest_window,
    herd_index,
    load_traces,
    retry_peak_rps,
    strategies_in_order,
    summarize,
)
from simulator.traces import TraceRecord

BASE = TraceRecord(
    kind="attempt",
    trace_id="x",
    timestamp="2026-05-01T12:00:00Z",
    t=0.0,
    strategy="a",
    user_id="u1",
    feature="chat",
    model="gpt-4o-mini",
    prompt_version="v1",
    provider="openai",
    attempt=1,
    status=200,
    error=None,
    retry_after_s=None,
    slept_s=0.0,
    input_tokens=0,
    output_tokens=0,
    cached_tokens=0,
    cost_usd=0.0,
    latency_ms=0.0,
    ttft_ms=None,
    finish_reason=None,
    fallback_used=None,
    start_t=0.0,
)


def att(trace: str, n: int, start: float, status: int = 200, **kw: object) -> TraceRecord:
    error = {429: "rate_limited", 502: "server_error", 503: "server_error", 0: "timeout"}.get(
        status
    )
    fields = {"error": error, **kw}
    return replace(
        BASE, trace_id=trace, attempt=n, start_t=start, t=start + 0.1, status=status, **fields
    )  # type: ignore[arg-type]


def req(trace: str, start: float, end: float, success: bool = True, **kw: object) -> TraceRecord:
    fields = {
        "kind": "request",
        "trace_id": trace,
        "start_t": start,
        "t": end,
        "success": success,
        "latency_ms": (end - start) * 1000,
        "status": 200 if success else 429,
        "error": None if success else "rate_limited",
        **kw,
    }
    return replace(BASE, **fields)  # type: ignore[arg-type]


def write(path: Path, records: list[TraceRecord], tail: str = "") -> Path:
    path.write_text("".join(r.to_json() + "\n" for r in records) + tail)
    return path


def summary_of(tmp_path: Path, records: list[TraceRecord], strategies: list[str] | None = None):
    df = load_traces(write(tmp_path / "traces.jsonl", records))
    return summarize(df, strategies or ["a"])


def test_amplification_counts_only_attempt_records(tmp_path: Path) -> None:
    records = [
        att("r1", 1, 0.0, 429),
        att("r1", 2, 1.0, 429),
        att("r1", 3, 2.0, 200),
        req("r1", 0.0, 2.1, attempt=3),
        att("r2", 1, 0.5, 200),
        req("r2", 0.5, 0.6, attempt=1),
        # a local refusal: a request record with attempt 0 and no attempt record
        req("r3", 1.0, 1.0, success=False, attempt=0, status=0, error="throttled"),
    ]
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["logical_requests"] == 3
    assert s["attempts"] == 4
    assert s["amplification"] == pytest.approx(4 / 3)
    assert s["successes"] == 2 and s["give_ups"] == 1
    assert s["success_rate"] == pytest.approx(2 / 3)
    assert s["error_rate"] == pytest.approx(1 / 3)
    assert s["rate_limited"] == 2
    assert s["server_errors"] == 0
    assert s["local_refusals"] == 1
    assert s["refused_by_guard"] == 0  # a throttle's refusal is a give-up, not a guard's
    assert s["makespan_s"] == pytest.approx(2.1)
    assert s["goodput_rps"] == pytest.approx(2 / 2.1)


def test_guard_refusals_are_intended_not_failures(tmp_path: Path) -> None:
    records = [
        att("r1", 1, 0.0, 200),
        req("r1", 0.0, 0.5),
        att("r2", 1, 0.1, 503),
        req("r2", 0.1, 0.6, success=False, status=503, error="server_error"),
        req("r3", 0.2, 0.2, success=False, attempt=0, status=0, error="budget_exceeded"),
        req("r4", 0.3, 0.3, success=False, attempt=0, status=0, error="input_too_long"),
    ]
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["logical_requests"] == 4
    assert s["refused_by_guard"] == 2
    assert s["refusal_rate"] == pytest.approx(2 / 4)
    # one success and one failure among the two requests the client tried to serve
    assert s["success_rate"] == pytest.approx(1 / 2)
    assert s["give_ups"] == 1 and s["error_rate"] == pytest.approx(1 / 2)


def test_every_request_refused_leaves_rates_undefined(tmp_path: Path) -> None:
    records = [req("r1", 0.0, 0.0, success=False, attempt=0, status=0, error="budget_exceeded")]
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["refused_by_guard"] == 1
    assert s["success_rate"] is None and s["error_rate"] is None


def test_herd_index_is_one_for_spread_retries_and_high_for_waves() -> None:
    # retries at random times (a Poisson process) score 1: nothing bunches beyond chance
    rng = np.random.default_rng(7)
    assert herd_index(rng.uniform(0, 200, 2000), 2.0) == pytest.approx(1.0, abs=0.05)
    # evenly spaced retries are spread more evenly than chance: they read as 1
    assert herd_index(np.arange(0.0, 20.0, 0.5), 2.0) == 1.0
    # no retries, or no time scale: no value
    assert herd_index(np.array([]), 2.0) is None
    assert herd_index(np.array([1.0, 2.0]), None) is None
    assert herd_index(np.array([1.0, 2.0]), 0.0) is None
    # one lone retry scores exactly 1
    assert herd_index(np.array([3.0]), 2.0) == pytest.approx(1.0)
    # a wave of m retries inside 1/40 of the period, alone within half of it, scores
    # m / (1 + (m - 1) / 20)
    m, period = 40, 4.0
    wave = np.full(m, 5.0) + np.linspace(0, period / 40, m)
    assert herd_index(wave, period) == pytest.approx(m / (1 + (m - 1) / 20))


def test_herd_index_ranks_waves_above_a_flood_and_jitter() -> None:
    rng = np.random.default_rng(1)
    clients = 40
    # exponential backoff without jitter: every client retries at 1, 3, 7, 15 s, give or take
    # a round trip's spread; the period is the median wait (2-4 s) plus a 50 ms round trip
    waves = np.concatenate([np.full(clients, t) + rng.uniform(0, 0.02, clients)
                            for t in (1.0, 3.0, 7.0, 15.0)])  # fmt: skip
    # full jitter: the same retries spread over their backoff windows
    jitter = np.concatenate([rng.uniform(0, 2.0**k, clients) for k in range(4)])
    # an immediate-retry flood: a retry every round trip (50 ms, varying) for three seconds
    flood = np.sort(rng.uniform(0, 3.0, 400))
    # everyone waits the same 1 s Retry-After: waves every second
    periodic = np.concatenate([np.full(clients, float(t)) for t in range(1, 10)])
    h = {
        "waves": herd_index(waves, 3.05),
        "jitter": herd_index(jitter, 1.05),
        "flood": herd_index(flood, 0.05),
        "periodic": herd_index(periodic, 1.05),
    }
    assert h["waves"] > h["periodic"] > h["flood"]
    assert h["waves"] > h["jitter"]
    assert h["jitter"] < 2 and h["flood"] < 2


def test_herd_index_in_summary_reads_retry_starts_and_the_run_period(tmp_path: Path) -> None:
    # five first attempts at once (a burst) are not retries; only the four retries count. The
    # period: median wait 0.9 s plus the failed round trip, 0.1 s (att() lasts 0.1 s)
    records = [att(f"r{i}", 1, 0.0, 429, latency_ms=100.0) for i in range(5)]
    records += [att(f"r{i}", 2, 1.0 + 0.01 * i, slept_s=0.9, latency_ms=100.0) for i in range(4)]
    records += [req(f"r{i}", 0.0, 2.0) for i in range(5)]
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["herd_index"] == pytest.approx(herd_index(np.array([1.0, 1.01, 1.02, 1.03]), 1.0))
    # near window +-0.025 s: the first and last (0.03 s apart) miss each other; the around
    # window +-0.5 s holds all four
    together = np.array([3, 4, 4, 3])  # itself included
    expected = 3 / 20
    assert s["herd_index"] == pytest.approx(float(np.mean(together / (1 + expected))))


def test_latency_percentiles_are_exact_over_successes_only(tmp_path: Path) -> None:
    lat = [100, 200, 300, 400, 1000]
    records = [req(f"r{i}", 0.0, v / 1000) for i, v in enumerate(lat)]
    records.append(req("slow-fail", 0.0, 99.0, success=False))  # excluded: not a success
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["p50_latency_ms"] == pytest.approx(300)
    assert s["p90_latency_ms"] == pytest.approx(400 + 0.6 * 600)  # rank 3.6, linear
    assert s["p95_latency_ms"] == pytest.approx(400 + 0.8 * 600)
    assert s["p99_latency_ms"] == pytest.approx(400 + 0.96 * 600)
    assert s["max_latency_ms"] == pytest.approx(1000)


def test_ttft_percentiles_and_none_when_absent(tmp_path: Path) -> None:
    records = [req(f"r{i}", 0, 1, ttft_ms=v) for i, v in enumerate([100.0, 300.0])]
    records += [req("b1", 0, 1, strategy="b")]
    s = summary_of(tmp_path, records, ["a", "b"])["strategies"]
    assert s["a"]["p50_ttft_ms"] == pytest.approx(200)
    assert s["a"]["p95_ttft_ms"] == pytest.approx(290)
    assert s["b"]["p50_ttft_ms"] is None


def test_fallback_rate_and_model_share(tmp_path: Path) -> None:
    records = [req(f"r{i}", 0, 1) for i in range(3)]
    records.append(req("fb", 0, 1, model="gpt-4o", fallback_used="gpt-4o"))
    records.append(req("fail", 0, 1, success=False, fallback_used=None))
    out = summary_of(tmp_path, records)
    assert out["strategies"]["a"]["fallback_rate"] == pytest.approx(0.25)
    assert out["per_model"]["a"]["gpt-4o"]["share"] == pytest.approx(0.25)
    assert out["per_model"]["a"]["gpt-4o-mini"]["served"] == 3


def test_cost_tokens_and_cache_hit_rate(tmp_path: Path) -> None:
    records = [
        req("r1", 0, 1, input_tokens=1000, cached_tokens=800, output_tokens=100, cost_usd=0.002),
        req("r2", 0, 1, input_tokens=1000, cached_tokens=0, output_tokens=100, cost_usd=0.004),
        req("r3", 0, 1, success=False, input_tokens=500, cost_usd=0.0),
        req("r4", 0, 1, finish_reason="length", cost_usd=0.0, user_id="u2", feature="search"),
    ]
    out = summary_of(tmp_path, records)
    s = out["strategies"]["a"]
    assert s["input_tokens"] == 2500 and s["cached_tokens"] == 800
    assert s["cache_hit_rate"] == pytest.approx(800 / 2500)
    assert s["cost_usd"] == pytest.approx(0.006)
    assert s["cost_per_success_usd"] == pytest.approx(0.002)
    assert s["cost_per_1k_requests_usd"] == pytest.approx(1.5)
    assert s["length_rate"] == pytest.approx(1 / 3)
    assert out["per_user"]["a"]["u1"]["cost_usd"] == pytest.approx(0.006)
    assert out["per_feature"]["a"]["search"]["logical_requests"] == 1


def test_status_classes_and_errors_by_type(tmp_path: Path) -> None:
    records = [att("r", 1, 0, 503), att("r", 2, 1, 0), att("r", 3, 2, 429), att("r", 4, 3, 502)]
    records.append(req("r", 0, 3.1, success=False, attempt=4, error="server_error"))
    records.append(req("ok", 0, 1))
    out = summary_of(tmp_path, records)
    s = out["strategies"]["a"]
    assert (s["server_errors"], s["timeouts"], s["rate_limited"]) == (2, 1, 1)
    assert out["errors_by_type"]["a"] == {"server_error": {"count": 1, "rate": 0.5}}
    assert out["attempt_errors_by_type"]["a"]["server_error"]["count"] == 2


def test_strategies_are_separate_and_missing_ones_are_empty(tmp_path: Path) -> None:
    records = [att("a1", 1, 0), req("a1", 0, 1)]
    records += [
        att("b1", 1, 0, strategy="b"),
        att("b1", 2, 1, strategy="b"),
        req("b1", 0, 2, strategy="b"),
    ]
    out = summary_of(tmp_path, records, ["b", "a", "ghost"])
    assert list(out["strategies"]) == ["b", "a", "ghost"]
    assert out["strategies"]["a"]["amplification"] == 1.0
    assert out["strategies"]["b"]["amplification"] == 2.0
    ghost = out["strategies"]["ghost"]
    assert ghost["logical_requests"] == 0 and ghost["success_rate"] is None
    json.dumps(out, allow_nan=False)  # JSON-safe: no NaN anywhere


def test_summary_has_every_registered_metric(tmp_path: Path) -> None:
    out = summary_of(tmp_path, [att("r", 1, 0), req("r", 0, 1)])
    assert set(out["strategies"]["a"]) == set(METRICS)
    required = {
        "logical_requests",
        "successes",
        "success_rate",
        "give_ups",
        "attempts",
        "amplification",
        "rate_limited",
        "server_errors",
        "fallback_rate",
        "herd_index",
        "p50_latency_ms",
        "p95_latency_ms",
        "p99_latency_ms",
        "p50_ttft_ms",
        "p95_ttft_ms",
        "cost_usd",
        "makespan_s",
    }
    assert required <= set(METRICS)


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    records = [att("r", 1, 0), req("r", 0, 1)]
    path = write(tmp_path / "traces.jsonl", records, tail='{"kind":"attempt","trace_id":"r2","t')
    df = load_traces(path)
    assert len(df) == 2
    assert list(df["kind"].astype(str)) == ["attempt", "request"]


def test_damaged_middle_line_falls_back_to_line_by_line(tmp_path: Path) -> None:
    good = [att("r", 1, 0).to_json(), req("r", 0, 1).to_json()]
    path = tmp_path / "traces.jsonl"
    path.write_text(good[0] + "\n" + "{not json\n" + good[1] + "\n")
    assert len(load_traces(path)) == 2


def test_load_types_and_empty_file(tmp_path: Path) -> None:
    df = load_traces(write(tmp_path / "t.jsonl", [att("r", 1, 0), req("r", 0, 1)]))
    assert str(df["strategy"].dtype) == "category"
    assert df["success"].dtype == bool
    assert df["remaining_requests"].isna().all()
    empty = load_traces(write(tmp_path / "e.jsonl", []))
    assert empty.empty and "latency_ms" in empty.columns
    assert summarize(empty, ["a"])["strategies"]["a"]["attempts"] == 0


def test_strategy_order_of_first_appearance(tmp_path: Path) -> None:
    records = [
        req("1", 0, 1, strategy="z"),
        req("2", 0, 1, strategy="a"),
        req("3", 0, 1, strategy="z"),
    ]
    assert strategies_in_order(load_traces(write(tmp_path / "t.jsonl", records))) == ["z", "a"]


def test_retry_peak_counts_retries_in_the_busiest_quarter_second(tmp_path: Path) -> None:
    # a lockstep wave: 3 retries inside [2.0, 2.25); a jittered retry alone at 5 s
    assert retry_peak_rps(np.array([2.0, 2.1, 2.24, 5.0])) == pytest.approx(3 / 0.25)
    # half-open window: 0.25 s apart is not the same window
    assert retry_peak_rps(np.array([0.0, 0.25, 0.5])) == pytest.approx(1 / 0.25)
    assert retry_peak_rps(np.array([])) is None
    assert busiest_window(np.array([9.0, 1.0, 1.1]), 0.25) == (2, 1.0)
    # first attempts never count, however bunched: only attempt > 1 is a retry
    records = [att(f"r{i}", 1, 0.0, status=429) for i in range(5)]
    records += [att(f"r{i}", 2, 1.0 + 0.01 * i) for i in range(4)] + [att("r4", 2, 3.0)]
    records += [req(f"r{i}", 0.0, 3.1) for i in range(5)]
    s = summary_of(tmp_path, records)["strategies"]["a"]
    assert s["retry_peak_rps"] == pytest.approx(4 / 0.25)
