"""Orchestrate a live run: the mock in one process, Locust in another, one strategy at a time.

The parent process owns no event loop and no gevent: it starts the mock (unless ``--target``
names one), resets it to a shared wall-clock epoch before each strategy, starts Locust on
``locustfile.py``, tails ``traces.jsonl`` for progress and timing, and stops everything
cleanly on Ctrl-C or SIGTERM in the order ``stopping.py`` states, so every trace recorded so
far is kept and the summary still gets written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mock_provider.clock import WallClock
from simulator.apps.calls import calls_path
from simulator.config import Scenario
from simulator.live.master import MasterMode
from simulator.live.start import ready_count, set_start
from simulator.live.stopping import (
    LOCUST_EXIT_S,
    STOP_GRACE_S,
    Interrupted,
    StopRequests,
    noting_signals,
    stop_process,
)
from simulator.live.timing import (
    MEASURES,
    STATISTIC,
    Shortest,
    TimingSamples,
    distortion_warnings,
    read_mock_log,
    shortest_latency,
)
from simulator.run_folder import RunError, fresh_run_dir, write_scenario

__all__ = [
    "STOP_GRACE_S",
    "Interrupted",
    "LiveRun",
    "MockProcess",
    "Progress",
    "RunError",
    "StopRequests",
    "run_live",
    "with_time_scale",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
STARTUP_TIMEOUT_S = 120.0  # wall seconds Locust may take to report ready (start.py)
CALIBRATION_TIMEOUT_S = 30.0  # --time-scale auto (calibrate.py; 6 s for thundering_herd)


class MockProcess:
    """The built-in mock provider, on a free loopback port unless told otherwise (workers
    on other hosts need an address of this host they can reach: ``--mock-host``)."""

    def __init__(self, run_dir: Path, sc: Scenario, host: str = "127.0.0.1", port: int = 0) -> None:
        self.log_path = run_dir / "mock.log"
        self.request_log = run_dir / "requests.jsonl"
        # The run folder's scenario.yaml gives the mock its config the one way a scenario
        # does (Scenario.mock_config); with ``auto`` the calibration's resets set the scale.
        cmd = [
            sys.executable, "-m", "mock_provider", "--host", host, "--port", str(port),
            "--config", str(run_dir / "scenario.yaml"), "--request-log", str(self.request_log),
        ]  # fmt: skip
        self._log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on " not in line:
            self.stop()
            raise RunError(f"the mock provider did not start; see {self.log_path}")
        self.base_url = line.rsplit("listening on ", 1)[1].strip()
        self.host = self.base_url.removesuffix("/v1")

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset_target(host: str, epoch: float, time_scale: float | None = None) -> bool:
    """Reset a stampede mock to scenario t=0 at ``epoch`` (and to ``time_scale`` if given);
    False if the target is not one."""
    body: dict[str, float] = {"epoch": epoch}
    if time_scale is not None:
        body["time_scale"] = time_scale
    req = urllib.request.Request(
        host + "/_stampede/reset",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Progress:
    """Running counts for one strategy, read incrementally from traces.jsonl."""

    strategy: str
    expected: int
    requests: int = 0
    successes: int = 0
    attempts: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    fallbacks: int = 0
    timing: TimingSamples = field(default_factory=TimingSamples)
    _offset: int = 0
    _partial: bytes = field(default=b"", repr=False)
    _calls_offset: int = 0  # in an app strategy's calls file

    def read(self, path: Path) -> None:
        if not path.exists():
            return
        with open(path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("strategy") == self.strategy:
                self.count(rec)

    def count(self, rec: dict[str, Any]) -> None:
        """Count one of this strategy's trace records (the live dashboard feeds them too)."""
        if rec["kind"] == "attempt":
            self.timing.add_trace(rec)
            self.attempts += 1
            status = rec["status"]
            self.rate_limited += status == 429
            self.server_errors += 500 <= status < 600
        else:
            self.requests += 1
            self.successes += bool(rec.get("success"))
            self.fallbacks += rec.get("fallback_used") is not None

    def read_calls(self, path: Path) -> None:
        """An app strategy's progress: its calls as they end (its attempts are the journal's,
        joined when the strategy has run)."""
        if not path.exists():
            return
        with open(path, "rb") as fh:
            fh.seek(self._calls_offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # whole lines only
        self._calls_offset += end
        for line in data[:end].splitlines():
            try:
                call = json.loads(line)
            except ValueError:
                continue
            self.count_call(call)

    def count_call(self, call: dict[str, Any]) -> None:
        """Count one ended call of an app strategy."""
        self.requests += 1
        self.successes += bool(call.get("success"))

    def line(self, t: float, total: float, width: int = 100) -> str:
        """One line of at most ``width`` columns: tighter spacing, then 12.3k-style counts,
        then a shorter strategy name, as the counts grow."""
        for sep, short in (("  ", False), (" ", False), (" ", True)):
            counts = self._counts(t, total, sep, short)
            if len(counts) + 11 <= width:  # room for an 8-column name
                break
        room = max(4, width - len(counts) - 3)
        name = self.strategy if len(self.strategy) <= room else self.strategy[: room - 1] + "…"
        return f"  {name:<{min(room, 20)}} {counts}"[:width]  # the clip: counts in the millions

    def _counts(self, t: float, total: float, sep: str, short: bool) -> str:
        def n(k: int) -> str:
            if short and k >= 1_000_000:
                return f"{k / 1e6:.1f}M"
            return f"{k / 1e3:.1f}k" if short and k >= 10_000 else f"{k:,}"

        return sep.join([
            f"t={max(0.0, t):4.0f}/{total:.0f}s", f"done {n(self.requests)}/{n(self.expected)}",
            f"ok {n(self.successes)}", f"attempts {n(self.attempts)}",
            f"429 {n(self.rate_limited)}", f"5xx {n(self.server_errors)}",
            f"fallback {n(self.fallbacks)}",
        ])  # fmt: skip


@dataclass
class LiveRun:
    scenario: Scenario
    run_dir: Path
    strategies: list[str]
    workers: int = 1
    target: str | None = None
    master: MasterMode | None = None  # --master: the workers are started apart (master.py)
    mock_address: tuple[str, int] = ("127.0.0.1", 0)  # --mock-host, --mock-port
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    completed: list[str] = field(default_factory=list)
    interrupted: bool = False
    preflight: list[dict[str, str]] = field(default_factory=list)  # {"level", "field", "message"}
    stops: StopRequests = field(default_factory=StopRequests)
    mock_log: Path | None = None  # the request log of a mock this run started
    timing: dict[str, Any] = field(default_factory=dict)  # per strategy (simulator/live/timing)
    warnings: list[dict[str, str]] = field(default_factory=list)
    scale_choice: dict[str, Any] | None = None  # --time-scale auto: what was chosen, and why
    host: str | None = None  # the mock's address once known (the dashboard reads its /metrics)

    @property
    def traces(self) -> Path:
        return self.run_dir / "traces.jsonl"

    def write_run_info(self, started: str) -> None:
        info = {
            "scenario": self.scenario.name,
            "mode": "live",
            "strategies": self.strategies,
            "completed": self.completed,
            "partial": self.interrupted or len(self.completed) < len(self.strategies),
            "seed": self.scenario.seed,
            "time_scale": self.scenario.time_scale,
            "time_scale_auto": self.scale_choice,
            "duration_s": self.scenario.duration,
            "drain_s": self.scenario.drain,
            "workers": self.workers,
            "master": None
            if self.master is None
            else {"bind_host": self.master.bind_host, "port": self.master.port},
            "started": started,
            "preflight": self.preflight,
            "timing": self._timing_info(),
            "warnings": self.warnings,
        }
        (self.run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")

    @property
    def shortest(self) -> Shortest | None:
        return shortest_latency(self.scenario)

    def _timing_info(self) -> dict[str, Any]:
        """run.json's ``timing``: the bound, its rule, and each strategy's distortion."""
        shortest = self.shortest
        return {
            "unit": "scenario ms",
            "statistic": STATISTIC,
            "bound_ms": None if shortest is None else shortest.bound_ms,
            "shortest_latency_ms": None if shortest is None else shortest.ms,
            "shortest_latency_model": None if shortest is None else shortest.model,
            "measures": MEASURES,
            "strategies": self.timing,
        }

    def _record_timing(self, strategy: str, samples: TimingSamples, log_offset: int) -> None:
        """Measure one strategy's distortion; print it, and warn past the bound."""
        if self.mock_log is not None:
            for entry in read_mock_log(self.mock_log, log_offset):
                samples.add_mock(entry)
        summary = samples.summary()
        self.timing[strategy] = summary
        shortest = self.shortest
        shown = [
            f"{name.removesuffix('_ms')} {s['p50']:,.0f}/{s['p95']:,.0f}/{s['max']:,.0f}"
            for name, s in summary.items()
            if s is not None
        ]
        bound = "" if shortest is None else f"; bound {shortest.bound_ms:,.0f} at {STATISTIC}"
        if shown:
            text = f"timing, scenario ms p50/p95/max: {', '.join(shown)}{bound}"
            print(textwrap.fill(text, 100, initial_indent="  ", subsequent_indent="    "),
                  file=self.out)  # fmt: skip
        for message in distortion_warnings(strategy, summary, shortest):
            print(textwrap.fill(message, 100, initial_indent="  warning: ",
                                subsequent_indent="    "), file=self.out)  # fmt: skip
            self.warnings.append({"source": "timing", "message": message})

    def _calibration(self, host: str, *extra: str) -> dict[str, Any]:
        """Run ``simulator/live/calibrate.py`` (bounded) and return the JSON it prints."""
        cmd = [sys.executable, "-m", "simulator.live.calibrate", host, str(self.run_dir), *extra]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + CALIBRATION_TIMEOUT_S
        while proc.poll() is None and not self.stops.requested and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        stdout, stderr = proc.communicate()
        self.stops.check()
        lines = stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            why = (stderr.strip().splitlines() or ["timed out"])[-1]
            raise RunError(f"calibration against the mock failed: {why}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def calibrate(self, host: str) -> None:
        """``time_scale: auto``: choose the scale against the mock, then run at it."""
        print(
            "time scale auto: calibrating against the mock (a few seconds; at most "
            f"{CALIBRATION_TIMEOUT_S:.0f} s)",
            file=self.out,
        )
        self.out.flush()
        started = time.monotonic()
        choice = self._calibration(host)
        choice["wall_s"] = round(time.monotonic() - started, 2)
        self.scale_choice = choice
        self.scenario = with_time_scale(self.scenario, float(choice["scale"]))
        write_scenario(self.scenario, self.run_dir)
        text = f"time scale auto: {choice['scale']:g}x, {choice['reason']} ({choice['wall_s']:g} s)"
        print(textwrap.fill(text, 100, subsequent_indent="  "), file=self.out)

    def warm_up(self, host: str) -> None:
        """Serve the scenario's opening once before the first strategy (calibrate.py --at);
        say so now if its timing is already past the bound."""
        probe = self._calibration(host, "--at", repr(self.scenario.scale))["probe"]
        shortest = self.shortest
        worst = max(probe["excess_p50_ms"], probe["lag_p50_ms"])
        if shortest is not None and worst > shortest.bound_ms:
            text = (
                f"note: at {self.scenario.scale:g}x the scenario's opening already met a median "
                f"excess of {probe['excess_p50_ms']:,.0f} ms and lag of "
                f"{probe['lag_p50_ms']:,.0f} ms of scenario time, over the "
                f"{shortest.bound_ms:,.0f} ms bound: expect timing warnings "
                "(--time-scale auto picks a scale within it)"
            )
            print(textwrap.fill(text, 100, subsequent_indent="  "), file=self.out)

    def _locust_cmd(self, host: str, strategy: str, start_dir: Path) -> list[str]:
        sc = self.scenario
        wall = WallClock(sc.scale).wall(sc.duration + sc.drain) + STARTUP_TIMEOUT_S + 10
        n = self.workers
        cmd = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", host, "-u", str(n), "-r", str(n), "--run-time", f"{int(wall) + 1}s",
            "--stop-timeout", "5", "--exit-code-on-error", "0", "--only-summary",
            "--csv", str(self.run_dir / "locust" / strategy),
            "--stampede-run-dir", str(self.run_dir), "--stampede-strategy", strategy,
            "--stampede-start-dir", str(start_dir), "--stampede-workers", str(n),
        ]  # fmt: skip
        if strategy == self.strategies[-1]:
            cmd.append("--stampede-last")  # its workers exit when it ends (worker.py)
        if self.master is not None:
            cmd += self.master.locust_args(n)
        elif n > 1:
            # Locust's master binds every interface on port 5557 by default: loopback only,
            # and a free port, so two runs on one machine do not collide.
            port = str(free_port())
            cmd += ["--processes", str(n), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", port, "--master-host", "127.0.0.1",
                    "--master-port", port]  # fmt: skip
        return cmd

    def run_strategy(self, host: str, strategy: str, expected: int) -> None:
        sc = self.scenario
        log = self.mock_log
        log_offset = log.stat().st_size if log is not None and log.exists() else 0
        (self.run_dir / "locust").mkdir(exist_ok=True)
        start_dir = self.run_dir / "locust" / f"{strategy}.start"
        shutil.rmtree(start_dir, ignore_errors=True)
        start_dir.mkdir()
        locust_log = open(self.run_dir / "locust" / f"{strategy}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            self._locust_cmd(host, strategy, start_dir),
            stdout=locust_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        traces_offset = self.traces.stat().st_size if self.traces.exists() else 0
        progress = Progress(strategy, expected, _offset=traces_offset)
        clock = WallClock(sc.scale)
        total = sc.duration + sc.drain
        tty = self.out.isatty()
        last_print = 0.0
        try:
            if not self._start(proc, host, start_dir, clock):
                raise RunError(
                    f"locust did not get ready for strategy {strategy!r} in "
                    f"{STARTUP_TIMEOUT_S:g} s; see {self.run_dir / 'locust' / (strategy + '.log')}"
                )
            calls = calls_path(self.run_dir, strategy) if strategy in sc.apps else None
            while proc.poll() is None and not self.stops.requested:
                time.sleep(0.1)
                if calls is None:
                    progress.read(self.traces)
                else:
                    progress.read_calls(calls)
                now = time.time()
                if tty or now - last_print >= 5.0:
                    text = progress.line(clock.now(), total)
                    print("\r" + text if tty else text, end="" if tty else "\n", file=self.out)
                    self.out.flush()
                    last_print = now
            if self.stops.requested and proc.poll() is None:
                print(
                    f"\n  stopping: attempts in flight get up to {STOP_GRACE_S:g} s to finish",
                    file=self.out,
                )
        finally:
            stop_process(proc, LOCUST_EXIT_S, self.stops, signal.SIGUSR1)  # see stopping.py
            locust_log.close()
            if strategy in sc.apps:
                self._attribute(strategy, clock.epoch, log_offset)
                progress = Progress(strategy, expected, _offset=traces_offset)
            progress.read(self.traces)
            text = progress.line(min(total, clock.now()), total)
            print(("\r" if tty else "") + text, file=self.out)
            self._record_timing(strategy, progress.timing, log_offset)
        self.stops.check()
        if proc.returncode not in (0, None) and progress.requests == 0:
            raise RunError(
                f"locust exited with status {proc.returncode} for strategy {strategy!r}; "
                f"see {self.run_dir / 'locust' / (strategy + '.log')}"
            )
        self.completed.append(strategy)

    def _start(
        self, proc: subprocess.Popen[bytes], host: str, start_dir: Path, clock: WallClock
    ) -> bool:
        """Set scenario t=0 once every Locust process is ready (``simulator/live/start.py``).

        False when Locust did not report ready in time; True once started, and on Locust's
        exit or a stop (the caller handles those as before).
        """
        if self.master is not None:
            self.master.await_workers(start_dir, self.workers, proc, self.stops)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while ready_count(start_dir) < self.workers:
            if proc.poll() is not None or self.stops.requested:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

        def reset(epoch: float) -> None:
            if not reset_target(host, epoch, self.scenario.scale):
                note = f"  note: {host} has no stampede reset endpoint; state not reset"
                print(note, file=self.out)

        clock.reset(set_start(start_dir, reset))
        return True

    def _attribute(self, strategy: str, epoch: float, log_offset: int) -> None:
        """An app strategy's trace records: its calls joined with the mock's journal."""
        from mock_provider.journal import read_journal
        from simulator.apps.attribution import attribute
        from simulator.apps.calls import read_calls
        from simulator.traces import TraceWriter
        from simulator.world import strategy_world

        sc = self.scenario
        if self.mock_log is None or not self.mock_log.exists():
            return  # the CLI refuses an app strategy without a mock of its own
        _settled(self.mock_log)
        world = strategy_world(sc, strategy)
        workload = world.workload
        requests = list(workload.open_loop) + [r for u in workload.closed_loop for r in u]
        clock = WallClock(sc.scale, epoch)

        def stamp(t: float) -> str:
            wall = epoch + clock.wall(t)
            return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")

        joined = attribute(
            strategy,
            requests,
            read_calls(calls_path(self.run_dir, strategy)),
            read_journal(self.mock_log, log_offset),
            world.catalog,
            stamp,
        )
        with TraceWriter(self.traces) as writer:
            for record in joined.records:
                writer.write(record)
        for message in joined.warnings(strategy):
            print(textwrap.fill(message, 100, initial_indent="  warning: ",
                                subsequent_indent="    "), file=self.out)  # fmt: skip
            self.warnings.append({"source": "attribution", "message": message})


JOURNAL_QUIET_S = 0.5  # no new entry for this long: the attempts in flight have landed
JOURNAL_SETTLE_S = 5.0  # at most


def _settled(journal: Path) -> None:
    """Wait until the mock's journal stops growing (bounded): an attempt still in flight when
    the app's call was cut is journalled when the mock sees its connection close, just after
    Locust exits, and it belongs to this strategy."""
    deadline = time.monotonic() + JOURNAL_SETTLE_S
    size, quiet_since = journal.stat().st_size, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now_size = journal.stat().st_size
        if now_size != size:
            size, quiet_since = now_size, time.monotonic()
        elif time.monotonic() - quiet_since >= JOURNAL_QUIET_S:
            return


def with_time_scale(sc: Scenario, time_scale: float) -> Scenario:
    """The scenario at ``time_scale``, for its clients and its mock alike (which derives its
    own from the scenario's: :attr:`Scenario.mock_config`)."""
    return sc.model_copy(update={"time_scale": time_scale})


def run_live(run: LiveRun, expected: int) -> None:
    """Run every strategy in turn; raises :class:`Interrupted` after cleaning up on a signal."""
    fresh_run_dir(run.run_dir)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    write_scenario(run.scenario, run.run_dir)
    run.write_run_info(started)
    mock: MockProcess | None = None
    with noting_signals(run.stops):
        try:
            if run.target:
                host = run.target.rstrip("/").removesuffix("/v1")
            else:
                mock = MockProcess(run.run_dir, run.scenario, *run.mock_address)
                host = mock.host
                run.mock_log = mock.request_log
                print(f"mock provider: {mock.base_url}", file=run.out)
            run.host = host
            if run.scenario.time_scale == "auto":
                run.calibrate(host)  # which warms the mock up too
                run.write_run_info(started)
            elif mock is not None:
                run.warm_up(host)
            for strategy in run.strategies:
                run.stops.check()
                run.run_strategy(host, strategy, expected)
        except Interrupted as exc:
            run.interrupted = True
            print(f"\ninterrupted ({exc}): stopped; every trace recorded is kept", file=run.out)
            raise
        finally:
            if mock is not None:
                mock.stop()
            run.write_run_info(started)
