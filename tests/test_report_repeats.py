"""A run repeated over seeds: means and ranges, thresholds that must hold in every repeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.report.html import build_report
from simulator.report.repeats import aggregate, aggregate_verdicts, build_repeat_report
from simulator.report.thresholds import Verdict

from .test_report_html import make_run


def test_aggregate_is_mean_and_range_per_metric() -> None:
    a = {"strategies": {"s": {"success_rate": 0.9, "p95_latency_ms": 100.0, "herd_index": None}}}
    b = {"strategies": {"s": {"success_rate": 1.0, "p95_latency_ms": 300.0, "herd_index": 2.0}}}
    out = aggregate([a, b], ["s"])
    assert out["repeats"] == 2
    assert out["strategies"]["s"]["success_rate"] == pytest.approx(0.95)
    assert out["spread"]["s"]["p95_latency_ms"] == [100.0, 300.0]
    # a metric with a value in one repeat only: that value, and a zero-width range
    assert out["strategies"]["s"]["herd_index"] == 2.0
    assert out["spread"]["s"]["herd_index"] == [2.0, 2.0]


def test_a_threshold_holds_only_if_it_holds_in_every_repeat() -> None:
    one = [Verdict("s", "success_rate", ">= 0.95", 0.99, True)]
    two = [Verdict("s", "success_rate", ">= 0.95", 0.93, False)]
    (v,) = aggregate_verdicts([one, two])
    assert not v.passed and v.actual == pytest.approx(0.96)
    assert v.note.startswith("fails in 1 of 2 repeats")
    (ok,) = aggregate_verdicts([one, one])
    assert ok.passed and ok.note == "mean of 2 repeats"


def _repeat_dirs(top: Path) -> list[Path]:
    """Two finished runs as ``top/repeat-1`` and ``top/repeat-2``."""
    top.mkdir()
    dirs = []
    for i in (1, 2):
        scratch = top.parent / f"scratch-{i}"
        scratch.mkdir()
        dirs.append(make_run(scratch).rename(top / f"repeat-{i}"))
    return dirs


def test_build_repeat_report_writes_summary_and_page(tmp_path: Path) -> None:
    top = tmp_path / "top"
    results = [build_report(d) for d in _repeat_dirs(top)]
    (top / "run.json").write_text(json.dumps({"scenario": "burst-test", "seeds": [1, 2]}))
    agg = build_repeat_report(top, results)
    summary = json.loads((top / "summary.json").read_text())
    assert summary["repeats"] == 2
    assert summary["winner"]["strategy"] == "jitter"
    assert summary["spread"]["naive"]["amplification"] == [3.0, 3.0]
    html = agg.html_path.read_text()
    assert "Repeats" in html and 'href="repeat-1/report.html"' in html
    assert agg.passed


def test_stampede_report_rebuilds_a_repeated_run(tmp_path: Path, capsys) -> None:
    top = tmp_path / "top"
    _repeat_dirs(top)
    (top / "run.json").write_text(json.dumps({"scenario": "burst-test", "seeds": [1, 2]}))
    assert main(["report", str(top)]) == 0
    out = capsys.readouterr().out
    assert "Means over 2 repeats" in out and "Winner: jitter" in out
    assert (top / "report.html").exists()
