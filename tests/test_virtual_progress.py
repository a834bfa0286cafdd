"""A virtual strategy that runs longer than 5 s of wall time prints progress every 2 s.

The clock is injected (a list of scripted readings, or one that advances a second per
reading), so nothing sleeps; the run's traces are the same with and without progress lines.
"""

from __future__ import annotations

import io
from pathlib import Path

from simulator.config import Scenario
from simulator.virtual.run import VirtualProgress, VirtualRun, _Tally, run_virtual


class ScriptedClock:
    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_nothing_before_5_s_then_a_line_every_2_s() -> None:
    out = io.StringIO()
    tally = _Tally(requests=500)
    clock = ScriptedClock(100.0, 101.0, 104.9, 105.0, 106.9, 107.0, 108.0, 108.9)
    progress = VirtualProgress("full_jitter", 1500, 180.0, tally, out, clock)
    for t in (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0):
        progress(t)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 5.0 s and 7.0 s of wall time; 6.9, 8.0 and 8.9 too soon after
    first = lines[0]
    assert first.startswith("  full_jitter")
    assert "t=  30/180s" in first
    assert "done 500/1,500" in first
    assert "100 req/s" in first  # 500 requests in 5 s
    assert "ETA 10 s" in first  # 1,000 left at 100 a second
    assert "t=  50/180s" in lines[1]
    assert all(len(line) <= 100 for line in lines)


def test_a_long_name_and_big_counts_fit_100_columns() -> None:
    out = io.StringIO()
    tally = _Tally(requests=999_999)
    progress = VirtualProgress("x" * 60, 1_000_000, 2_592_000.0, tally, out, ScriptedClock(0, 6))
    progress(2_000_000.0)
    assert len(out.getvalue().rstrip("\n")) <= 100


def test_no_rate_yet_says_so() -> None:
    progress = VirtualProgress("a", 10, 10.0, _Tally(), io.StringIO(), ScriptedClock(0, 6))
    assert progress.line(1.0, 6.0).endswith("0 req/s  ETA ?")


SCENARIO = {
    "name": "long",
    "duration": 10,
    "drain": 30,
    "workload": {"arrivals": {"kind": "poisson", "rate": 700}},
    "strategies": {"a": {"retry": {"kind": "full_jitter"}}},
}


def _run(tmp_path: Path, name: str, clock: object = None) -> tuple[str, bytes]:
    sc = Scenario.model_validate(SCENARIO)
    out = io.StringIO()
    run = VirtualRun(sc, tmp_path / name, ["a"], out=out)
    if clock is not None:
        run.clock = clock  # type: ignore[assignment]
    run_virtual(run)
    return out.getvalue(), (tmp_path / name / "traces.jsonl").read_bytes()


def test_a_slow_strategy_prints_progress_and_the_same_traces(tmp_path: Path) -> None:
    """7,000 requests: enough events for the driver to report in three times; a clock that
    gains 3 s at every reading makes the strategy 'slow', one that stands still makes it
    quick."""
    ticks = iter(range(0, 10**6, 3))
    slow_out, slow_traces = _run(tmp_path, "slow", lambda: float(next(ticks)))
    fast_out, fast_traces = _run(tmp_path, "fast", lambda: 0.0)
    progress = [line for line in slow_out.splitlines() if "req/s" in line]
    assert progress, slow_out
    assert all("done " in line and "ETA" in line for line in progress)
    assert not [line for line in fast_out.splitlines() if "req/s" in line]
    assert slow_traces == fast_traces
