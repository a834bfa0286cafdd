"""The report's chaos tables: the faults clients met, and success over time (the tail)."""

from __future__ import annotations

import pandas as pd

from simulator.report.faults import fault_counts, faults_section, success_over_time


def frame() -> pd.DataFrame:
    rows = []
    for i in range(100):  # a: fails from t=30 on and never recovers; b: recovers at t=60
        for s, ok in (("a", i < 30), ("b", i < 30 or i >= 60)):
            rows.append({"kind": "request", "strategy": s, "start_t": float(i), "success": ok,
                         "fault": None})  # fmt: skip
            broke = None if ok else ("timeout" if s == "a" else "connection")
            rows.append({"kind": "attempt", "strategy": s, "start_t": float(i), "success": None,
                         "fault": broke})  # fmt: skip
    return pd.DataFrame(rows)


def test_fault_counts_per_strategy_and_kind():
    counts = fault_counts(frame(), ["a", "b"])
    assert counts["a"]["timeout"] == 70 and counts["a"]["connection"] == 0
    assert counts["b"]["connection"] == 30 and counts["b"]["stream_cut"] == 0
    assert fault_counts(frame().assign(fault=None), ["a", "b"]) == {}


def test_success_over_time_shows_the_tail():
    edges, rates = success_over_time(frame(), ["a", "b"])
    assert len(edges) == 10 and edges[0] == 0.0
    assert rates["a"][:3] == [1.0, 1.0, 1.0] and rates["a"][-1] == 0.0
    assert rates["b"][-1] == 1.0 and rates["b"][4] == 0.0
    html = faults_section(frame(), ["a", "b"])
    assert "Faults the clients met" in html and "Success over time" in html


def test_a_burst_has_no_success_over_time():
    burst = frame().assign(start_t=lambda d: d["start_t"] / 1000.0)  # 100 arrivals in 0.1 s
    assert success_over_time(burst, ["a", "b"]) == ([], {})
    assert "Success over time" not in faults_section(burst, ["a", "b"])
