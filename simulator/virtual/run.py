"""A virtual run: every strategy of a scenario, in turn, in virtual time, in this process.

It writes what a live run writes (``scenario.yaml``, ``run.json`` with ``"mode":
"virtual"``, ``traces.jsonl`` appended as it goes), so ``stampede report`` and every metric
read it unchanged. Each strategy meets a fresh provider brain at t=0 (its config the
scenario's ``mock_config``), as a live run resets the mock, and its world (traffic, catalogue,
client brain) is built as every Locust process builds it (``simulator/world.py``). The same
scenario and seed give byte-identical traces: nothing reads a wall clock, and every draw comes
from the scenario's seed. Ctrl-C or SIGTERM stops at the virtual time
reached: the requests still running are recorded as stopped, the trace file is closed and the
run is marked partial, as live.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from mock_provider.clock import VirtualClock
from mock_provider.model.provider import Provider
from simulator.config import Scenario
from simulator.run_folder import Interrupted, fresh_run_dir, write_scenario
from simulator.runner import TraceRecorder, virtual_stamp
from simulator.traces import TraceRecord, TraceWriter
from simulator.virtual.driver import VirtualDriver
from simulator.virtual.transport import ProviderTransport
from simulator.workload import build_workload
from simulator.world import strategy_world

__all__ = ["VirtualProgress", "VirtualRun", "run_virtual"]


@dataclass
class _Tally:
    requests: int = 0
    successes: int = 0
    attempts: int = 0
    rate_limited: int = 0
    server_errors: int = 0

    def write(self, record: TraceRecord) -> None:
        if record.kind == "attempt":
            self.attempts += 1
            self.rate_limited += record.status == 429
            self.server_errors += 500 <= record.status < 600
        else:
            self.requests += 1
            self.successes += bool(record.success)


class _Tee:
    """The trace writer, and a tally of what went through it (for the progress line)."""

    def __init__(self, writer: TraceWriter, tally: _Tally) -> None:
        self.writer, self.tally = writer, tally

    def write(self, record: TraceRecord) -> None:
        self.writer.write(record)
        self.tally.write(record)


class VirtualProgress:
    """A long strategy's progress, as the live driver prints it: nothing in its first
    ``FIRST_S`` seconds of wall time (most strategies are done by then), then a line every
    ``EVERY_S``: virtual time reached, requests done of expected, the rate in requests per
    wall second, and the ETA at that rate. ``clock`` is injected (seconds, monotonic)."""

    FIRST_S = 5.0
    EVERY_S = 2.0

    def __init__(
        self,
        name: str,
        expected: int,
        deadline: float,
        tally: _Tally,
        out: IO[str],
        clock: Callable[[], float],
    ) -> None:
        self.name, self.expected, self.deadline = name, expected, deadline
        self.tally, self.out, self.clock = tally, out, clock
        self.began = clock()
        self.last: float | None = None

    def __call__(self, t: float) -> None:
        wall = self.clock() - self.began
        if wall < self.FIRST_S or (self.last is not None and wall - self.last < self.EVERY_S):
            return
        self.last = wall
        print(self.line(t, wall), file=self.out, flush=True)

    def line(self, t: float, wall: float) -> str:
        done = self.tally.requests
        rate = done / wall if wall > 0 else 0.0
        eta = f"ETA {(self.expected - done) / rate:,.0f} s" if rate > 0 else "ETA ?"
        return (
            f"  {self.name[:20]:<20} t={t:4.0f}/{self.deadline:.0f}s  done {done:,}/"
            f"{self.expected:,}  {rate:,.0f} req/s  {eta}"
        )


@dataclass
class VirtualRun:
    scenario: Scenario
    run_dir: Path
    strategies: list[str]
    preflight: list[dict[str, str]] = field(default_factory=list)
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    completed: list[str] = field(default_factory=list)
    interrupted: bool = False
    wall_s: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.perf_counter  # wall time, for progress lines only

    @property
    def traces(self) -> Path:
        return self.run_dir / "traces.jsonl"

    def write_run_info(self, started: str) -> None:
        sc = self.scenario
        info: dict[str, Any] = {
            "scenario": sc.name,
            "mode": "virtual",
            "strategies": self.strategies,
            "completed": self.completed,
            "partial": self.interrupted or len(self.completed) < len(self.strategies),
            "seed": sc.seed,
            "duration_s": sc.duration,
            "drain_s": sc.drain,
            "started": started,
            "wall_s": self.wall_s,
            "preflight": self.preflight,
            "warnings": [],
        }
        (self.run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")


def run_strategy(
    sc: Scenario,
    name: str,
    sink: Any,
    stops: list[VirtualDriver],
    progress: Callable[[float], None] | None = None,
) -> int:
    """One strategy against a fresh provider brain; returns how many requests were cut.

    Its traffic is the scenario's, with the strategy's own prompt layout if it sets one.
    ``progress`` is called now and then with the virtual time reached.
    """
    world = strategy_world(sc, name)
    brain = world.brain
    assert brain is not None, "an app strategy runs only live (the CLI refuses --virtual)"
    workload = world.workload
    recorder = TraceRecorder(name, world.catalog, sink, virtual_stamp)
    driver = VirtualDriver(brain, ProviderTransport(Provider(sc.mock_config, 0.0)), recorder,
                           VirtualClock())  # fmt: skip
    driver.progress = progress
    stops.append(driver)
    return driver.run_schedule(workload.open_loop, workload.closed_loop, sc.duration + sc.drain)


@contextmanager
def _stopping(drivers: list[VirtualDriver], run: VirtualRun) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the strategy being run at the virtual time it reached."""

    def handler(signum: int, frame: FrameType | None) -> None:
        run.interrupted = True
        for d in drivers:
            d.stop()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_virtual(run: VirtualRun) -> None:
    """Run every strategy in turn; raises :class:`Interrupted` after a signal, once the
    traces are closed and ``run.json`` says partial."""
    sc = run.scenario
    fresh_run_dir(run.run_dir)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    write_scenario(sc, run.run_dir)
    run.write_run_info(started)
    workload = build_workload(sc.workload, sc.seed, sc.duration)
    drivers: list[VirtualDriver] = []
    try:
        with _stopping(drivers, run), TraceWriter(run.traces) as writer:
            for name in run.strategies:
                if run.interrupted:
                    break
                tally = _Tally()
                began = run.clock()
                deadline = sc.duration + sc.drain
                progress = VirtualProgress(name, workload.total, deadline, tally, run.out,
                                           run.clock)  # fmt: skip
                cut = run_strategy(sc, name, _Tee(writer, tally), drivers, progress)
                run.wall_s[name] = round(run.clock() - began, 3)
                if run.interrupted:
                    break
                run.completed.append(name)
                print(
                    f"  {name:<20} done {tally.requests}/{workload.total}  ok {tally.successes}"
                    f"  attempts {tally.attempts}  429 {tally.rate_limited}"
                    f"  5xx {tally.server_errors}"
                    + (f"  cut {cut}" if cut else "")
                    + f"  ({run.wall_s[name]:.2f} s)",
                    file=run.out,
                )
    finally:
        run.write_run_info(started)
    if run.interrupted:
        print("\ninterrupted: stopped; every trace recorded is kept", file=run.out)
        raise Interrupted("signal")
