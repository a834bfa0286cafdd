"""Instructions per logical request of a Locust user, plain and through the client brain.

    python bench/client_instructions.py [--requests 2000] [--warmup 500] [--users 4]
                                        [--user both|PlainUser|BrainUser|BrainNoTraceUser]
    python bench/client_instructions.py --driver [--requests 2000]

Wall-clock rates on this small shared machine move by +-20% between runs (more while someone
else runs callgrind); an instruction count moves by well under 1%, so it is the measure to
compare one change of the client path against the next. Instructions are not time, but the
ranking of changes follows them.

Default mode: the bare server of ``client_overhead.py`` runs normally; one headless Locust
process runs under ``valgrind --tool=callgrind --instr-atstart=no`` with a user class from
``overhead_locustfile.py`` wrapped in a gate (below). After ``--warmup`` logical requests the
users pause, instrumentation is switched on, ``--requests`` logical requests run, the users
pause again and the dump's total is divided by ``--requests``. The brain's own cost is the
difference between ``BrainUser`` and ``PlainUser``.

``--driver``: no Locust, no network. ``LiveDriver.run_request`` runs in this process with a
transport that returns a fixed Outcome and a real TraceWriter; prints the best-of-5 wall time
per logical request. Quick, but noisy: use it to iterate, the callgrind mode to decide.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# Set by main() for the Locust process; when present, this module is the locustfile.
_GATE_DIR = os.environ.get("STAMPEDE_INSTR_GATE")
_WARMUP = int(os.environ.get("STAMPEDE_INSTR_WARMUP", "0"))
_MEASURED = int(os.environ.get("STAMPEDE_INSTR_REQUESTS", "0"))


def _wait_for(path: Path, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"locust exited with {proc.returncode} before {path.name}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} not reached within {timeout:.0f}s")
        time.sleep(0.05)


if _GATE_DIR is not None:  # imported by Locust as its locustfile
    import gevent
    from locust import task

    from bench.overhead_locustfile import BrainNoTraceUser, BrainUser, PlainUser

    class _Gate:
        """Tickets 1..W are warm-up, W+1..W+N are measured, later ones never run.

        Users holding a measured ticket wait until the controller (``main``) has switched
        instrumentation on; the greenlet below tells it when each phase has finished.
        """

        def __init__(self, gate_dir: str, warmup: int, measured: int) -> None:
            self.dir = Path(gate_dir)
            self.warmup, self.measured = warmup, measured
            self.issued = self.finished = 0
            self.go = gevent.event.Event()
            self.watcher: gevent.Greenlet | None = None

        def enter(self) -> None:
            if self.watcher is None:
                self.watcher = gevent.spawn(self._watch)
            self.issued += 1
            ticket = self.issued
            if ticket > self.warmup + self.measured:
                gevent.sleep(3600)  # the controller kills Locust first
            if ticket > self.warmup:
                self.go.wait()

        def leave(self) -> None:
            self.finished += 1

        def _watch(self) -> None:
            while self.finished < self.warmup:
                gevent.sleep(0.02)
            (self.dir / "ready").touch()
            while not (self.dir / "go").exists():
                gevent.sleep(0.02)
            self.go.set()
            while self.finished < self.warmup + self.measured:
                gevent.sleep(0.02)
            (self.dir / "done").touch()

    GATE = _Gate(_GATE_DIR, _WARMUP, _MEASURED)

    class GatedPlainUser(PlainUser):
        @task
        def post(self) -> None:
            GATE.enter()
            super().post()
            GATE.leave()

    class GatedBrainUser(BrainUser):
        @task
        def logical_request(self) -> None:
            GATE.enter()
            super().logical_request()
            GATE.leave()

    class GatedBrainNoTraceUser(BrainNoTraceUser):
        @task
        def logical_request(self) -> None:
            GATE.enter()
            super().logical_request()
            GATE.leave()


def locust_instructions(host: str, user: str, users: int, warmup: int, requests: int) -> float:
    """Instructions per logical request of one gated Locust run under callgrind."""
    with tempfile.TemporaryDirectory(prefix="stampede-cinstr-") as tmp:
        gate, out = Path(tmp), Path(tmp, "locust.callgrind")
        env = {
            **os.environ,
            "STAMPEDE_INSTR_GATE": tmp,
            "STAMPEDE_INSTR_WARMUP": str(warmup),
            "STAMPEDE_INSTR_REQUESTS": str(requests),
            "STAMPEDE_BENCH_TRACES": tmp,
        }
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            "--dump-instr=no", sys.executable, "-m", "locust", "-f", __file__, "--headless",
            "--host", host, "-u", str(users), "-r", str(users * 10), "--run-time", "1h",
            "--skip-log", "--exit-code-on-error", "0", f"Gated{user}",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for(gate / "ready", 900, proc)
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                           capture_output=True)  # fmt: skip
            (gate / "go").touch()
            _wait_for(gate / "done", 900, proc)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                           capture_output=True)  # fmt: skip
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(60)
        totals = 0
        for dump in gate.glob(out.name + "*"):
            for line in dump.read_text(errors="replace").splitlines():
                if line.startswith(("summary:", "totals:")):
                    totals = max(totals, int(line.split()[1]))
        return totals / requests


def driver_us_per_request(requests: int) -> float:
    """Best-of-5 wall microseconds per logical request through LiveDriver, no network."""
    import random

    from bench.overhead_locustfile import CLIENT, REQUEST
    from mock_provider.clock import WallClock
    from mock_provider.model.catalog import DEFAULT_CATALOG
    from simulator.client.engine import ClientBrain
    from simulator.client.events import AttemptSpec, Outcome
    from simulator.live.driver import LiveDriver
    from simulator.traces import TraceWriter
    from simulator.wire import build_call

    class FixedTransport:
        def __init__(self, now: object) -> None:
            self.now = now

        def send(self, spec: AttemptSpec) -> Outcome:
            build_call(spec)
            return Outcome(self.now(), 200, None, None, 30, 4, 0, "stop", None, 0.0001, 999)  # type: ignore[operator]

    clock = WallClock(1.0, time.time())
    brain = ClientBrain(CLIENT, DEFAULT_CATALOG, random.Random(0))
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp, TraceWriter(Path(tmp, "t.jsonl")) as writer:
        driver = LiveDriver(brain, FixedTransport(clock.now), clock, writer, "bench")
        run = driver.run_request
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(requests):
                run(REQUEST)
            best = min(best, time.perf_counter() - t0)
    return best / requests * 1e6


def main() -> int:
    from bench.client_overhead import BARE_SERVER

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--user", default="both",
                   choices=["both", "PlainUser", "BrainUser", "BrainNoTraceUser"])  # fmt: skip
    p.add_argument("--driver", action="store_true", help="in-process LiveDriver loop, no Locust")
    args = p.parse_args()
    if args.driver:
        print(f"LiveDriver.run_request, fixed outcome: {driver_us_per_request(args.requests):.1f} "
              "us/logical request (best of 5)")  # fmt: skip
        return 0
    server = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        host = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        names = ["PlainUser", "BrainUser"] if args.user == "both" else [args.user]
        got = {}
        for name in names:
            got[name] = locust_instructions(host, name, args.users, args.warmup, args.requests)
            print(f"{name}: {got[name] / 1000:.1f}k instructions/logical request", flush=True)
        if len(got) == 2:
            plain, brain = got["PlainUser"], got["BrainUser"]
            print(f"brain's own work: {(brain - plain) / 1000:.1f}k instructions/logical request; "
                  f"plain/brain instruction ratio {plain / brain:.2f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
