"""``stampede worker``: one command serves every strategy of a ``stampede run --master``.

A Locust worker serves one master: when its master quits, the worker quits too (Locust 2.x
sends it ``quit``; a master that falls silent is given up after 60 s without a heartbeat).
``stampede run`` starts a master per strategy, on the same port, so this command starts a
Locust worker on the project's locustfile, and another each time the one before says that a
strategy follows (:data:`NEXT_STRATEGY_EXIT`, set in ``locustfile.py``), until one says the
run is over (:data:`RUN_OVER_EXIT`: the last strategy ended, or the run was stopped).

Bounded in time: a Locust worker gives up on a master it cannot reach after 60 tries of 5 s
(Locust's ``CONNECT_RETRY_COUNT`` and ``CONNECT_TIMEOUT``), and then exits with -1.
The worker needs no file of the run's: the master hands it the scenario and t=0.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TextIO

from mock_provider.arguments import bounded_int

__all__ = ["NEXT_STRATEGY_EXIT", "RUN_OVER_EXIT", "add_worker_arguments", "worker_main"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
RUN_OVER_EXIT = 0
NEXT_STRATEGY_EXIT = 10  # not one of Locust's own (0, 1, 2, -1)
CONNECT_GIVE_UP_S = 300  # Locust's: 60 tries of 5 s
STOP_WAIT_S = 20.0  # a stopped worker ships its last records to the master first


def add_worker_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master-host", required=True, help="host of `stampede run --master`")
    p.add_argument(
        "--master-port", type=bounded_int(1, 65_535), default=5557, help="its port (default 5557)"
    )
    p.add_argument("--loglevel", default="WARNING", help="Locust's log level (default WARNING)")


def locust_worker_cmd(master_host: str, master_port: int, loglevel: str) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
        "--master-host", master_host, "--master-port", str(master_port),
        "--loglevel", loglevel,
    ]  # fmt: skip


class _Stop:
    """SIGINT or SIGTERM to this command: passed on to the Locust worker, which tells its
    master it quits and exits; no new worker is started."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.requested = False

    def note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.proc is not None and self.proc.poll() is None and signum != signal.SIGINT:
            self.proc.send_signal(signum)  # Ctrl-C reaches the whole process group already


def _strategies(n: int) -> str:
    return f"{n} strateg{'y' if n == 1 else 'ies'}"


def worker_main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run Locust workers until the run is over; 0 then, 3 when no master came, 130 stopped."""
    where = f"{args.master_host}:{args.master_port}"
    cmd = locust_worker_cmd(args.master_host, args.master_port, args.loglevel)
    stop = _Stop()
    old = {s: signal.signal(s, stop.note) for s in (signal.SIGINT, signal.SIGTERM)}
    served = 0
    try:
        while not stop.requested:
            print(f"stampede worker: waiting for the master at {where}", file=out, flush=True)
            stop.proc = subprocess.Popen(cmd)
            code = stop.proc.wait()
            if stop.requested:
                break
            if code == NEXT_STRATEGY_EXIT:
                served += 1
                print(f"stampede worker: strategy {served} done", file=out, flush=True)
                continue
            if code == RUN_OVER_EXIT:
                print(f"stampede worker: the run is over, after {_strategies(served + 1)}",
                      file=out, flush=True)  # fmt: skip
                return 0
            if code in (255, -1):
                print(f"stampede worker: no master answered at {where} in "
                      f"{CONNECT_GIVE_UP_S} s; is `stampede run --master` running, and port "
                      f"{args.master_port} open?", file=sys.stderr)  # fmt: skip
            else:
                print(f"stampede worker: the Locust worker exited with status {code}",
                      file=sys.stderr)  # fmt: skip
            return 3
    finally:
        if stop.proc is not None and stop.proc.poll() is None:
            try:
                stop.proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                stop.proc.kill()
                stop.proc.wait()
        for s, h in old.items():
            signal.signal(s, h)
    return 130
