"""The report's lean read against the obvious computation on the same seeded trace file.

``build_report`` reads only :data:`REPORT_COLUMNS`, keys ``trace_id`` as integers and groups
with vectorised pandas (see bench/report_speed.py for why). Here the same file is read a second
way, every field of every line through ``json.loads``, and the summary's numbers are computed
from those dicts in plain pandas and numpy, one strategy and one group at a time. They must be
equal, not close: the lean path may reorder nothing that a float sum would notice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.report_speed import synthesize_run
from simulator.report import loading
from simulator.report.herd import herd_index, retry_period
from simulator.report.html import build_report
from simulator.report.loading import REPORT_COLUMNS, TRACE_SCHEMA, load_traces
from simulator.report.metrics import summarize

STRATEGIES = ["naive", "exponential", "full_jitter", "jitter_fallback"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded synthetic run, with guard refusals and broken attempts mixed in so that every
    group-by of the summary has something to count."""
    run = tmp_path_factory.mktemp("run")
    synthesize_run(run, n_attempts=12_000, seed=11)
    path = run / "traces.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rng = np.random.default_rng(5)
    for r in rows:
        if r["kind"] == "request" and not r["success"] and rng.random() < 0.3:
            r["error"] = "budget_exceeded"  # a guard's refusal: out of the rates' denominators
        if r["kind"] == "attempt" and r["status"] == 0 and rng.random() < 0.5:
            r["fault"] = "stream_cut"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


@pytest.fixture(scope="module")
def rows(run_dir: Path) -> pd.DataFrame:
    """Every field of every line, read the slow way."""
    lines = (run_dir / "traces.jsonl").read_text().splitlines()
    return pd.DataFrame([json.loads(line) for line in lines])


def _pct(values: pd.Series, q: float) -> float | None:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q)) if v.size else None


def _by_hand(rows: pd.DataFrame, name: str) -> dict[str, Any]:
    own = rows[rows["strategy"] == name]
    att = own[own["kind"] == "attempt"]
    req = own[own["kind"] == "request"]
    ok = req[req["success"] == True]  # noqa: E712 - the raw column holds None for attempts
    refused = int(req["error"].isin(["budget_exceeded", "input_too_long"]).sum())
    tried = len(req) - refused
    retry = (att["attempt"] > 1).to_numpy()
    failed = ~att["status"].between(200, 299).to_numpy()
    period = retry_period(
        att["slept_s"].to_numpy()[retry], att["latency_ms"].to_numpy()[failed] / 1000
    )
    keys = pd.factorize(att["trace_id"])[0][retry]  # the ids as strings
    return {
        "logical_requests": len(req),
        "refused_by_guard": refused,
        "successes": len(ok),
        "success_rate": len(ok) / tried,
        "attempts": len(att),
        "amplification": len(att) / tried,
        "rate_limited": int((att["status"] == 429).sum()),
        "server_errors": int(att["status"].between(500, 599).sum()),
        "timeouts": int((att["error"] == "timeout").sum()),
        "herd_index": herd_index(att["start_t"].to_numpy()[retry], period, keys),
        "p50_latency_ms": _pct(ok["latency_ms"], 50),
        "p95_latency_ms": _pct(ok["latency_ms"], 95),
        "p99_latency_ms": _pct(ok["latency_ms"], 99),
        "p95_ttft_ms": _pct(ok["ttft_ms"], 95),
        "fallback_rate": float(ok["fallback_used"].notna().sum()) / len(ok),
        "length_rate": float((ok["finish_reason"] == "length").sum()) / len(ok),
        "input_tokens": float(req["input_tokens"].sum()),
        "cost_usd": float(req["cost_usd"].sum()),
    }


def test_summary_values_equal_a_computation_by_hand(run_dir: Path, rows: pd.DataFrame) -> None:
    summary = json.loads(build_report(run_dir).summary_path.read_text())
    for name in STRATEGIES:
        got = summary["strategies"][name]
        want = _by_hand(rows, name)
        assert {k: got[k] for k in want} == want, name
    assert summary["strategies"]["naive"]["refused_by_guard"] > 0  # the test has teeth
    assert sum(summary["faults"]["naive"].values()) > 0


def test_per_group_values_equal_a_computation_by_hand(run_dir: Path, rows: pd.DataFrame) -> None:
    summary = summarize(load_traces(run_dir / "traces.jsonl", REPORT_COLUMNS), STRATEGIES)
    for name in STRATEGIES:
        req = rows[(rows["strategy"] == name) & (rows["kind"] == "request")]
        for feature, g in req.groupby("feature"):
            ok = g[g["success"] == True]  # noqa: E712
            refused = int(g["error"].isin(["budget_exceeded", "input_too_long"]).sum())
            got = summary["per_feature"][name][feature]
            assert got["logical_requests"] == len(g)
            assert got["refused_by_guard"] == refused
            assert got["success_rate"] == len(ok) / (len(g) - refused)
            assert got["length_rate"] == (ok["finish_reason"] == "length").mean()
            assert got["p95_latency_ms"] == ok["latency_ms"].quantile(0.95)
            # a group-by sums with compensation, Series.sum pairwise: the last bit may differ
            assert got["cost_usd"] == pytest.approx(g["cost_usd"].sum(), rel=1e-12, abs=0)
        users = summary["per_user"][name]
        assert {u: v["successes"] for u, v in users.items()} == {
            str(u): int((g["success"] == True).sum())  # noqa: E712
            for u, g in req.groupby("user_id")
        }


def test_the_lean_read_summarises_like_the_full_read(run_dir: Path) -> None:
    path = run_dir / "traces.jsonl"
    assert len(REPORT_COLUMNS) < len(TRACE_SCHEMA)
    assert summarize(load_traces(path, REPORT_COLUMNS), STRATEGIES) == summarize(
        load_traces(path), STRATEGIES
    )


@pytest.mark.parametrize("slice_bytes", [200, 4096])
def test_a_file_read_in_slices_reads_as_one(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_bytes: int
) -> None:
    """Slices shorter than a line, and slices of many lines that cut lines apart; with a torn
    last line, as an interrupted run leaves it."""
    lines = (run_dir / "traces.jsonl").read_bytes().splitlines(keepends=True)[:300]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b"".join(lines) + lines[0][:50])
    whole = load_traces(path, REPORT_COLUMNS)
    monkeypatch.setattr(loading, "SLICE_BYTES", slice_bytes)
    sliced = load_traces(path, REPORT_COLUMNS)
    assert len(whole) == 300 and path.stat().st_size > loading.SLICE_BYTES
    pd.testing.assert_frame_equal(sliced, whole)
    assert sliced["trace_id"].nunique() == len({json.loads(x)["trace_id"] for x in lines})


def test_a_file_of_one_torn_line_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text('{"kind":"attempt","trace_id":"r2","t')
    df = load_traces(path, REPORT_COLUMNS)
    assert df.empty and list(df.columns) == list(REPORT_COLUMNS)
