"""The start handshake: scenario t=0 is set once every Locust process is ready.

A fixed lead from launch (2.5 s) was not enough on a busy machine: Locust took longer to
import, build its share of the workload and open its connections, so the first arrivals came
half a second of scenario time late, and a token bucket ran that far behind the virtual run's
for the whole run (a tail latency 17% off). Now each process says when it is ready, and t=0
is set a short lead after the last one has:

1. the orchestrator starts Locust with an empty start folder;
2. each process builds its share, opens its connections, writes ``ready-<worker>`` and waits;
3. the orchestrator sees every ``ready-*``, resets the mock to an epoch ``START_LEAD_S`` from
   now, and writes the epoch to ``epoch`` (atomically: a reader sees all of it or nothing);
4. each process reads it and sleeps until t=0.

Both sides wait on the condition, each with a deadline, and give up at a stop.

Locust workers need not share the orchestrator's disk (``stampede worker`` on other hosts):
a worker says ready, and learns the epoch, in Locust messages to and from its master, which
stands in for it at steps 2 and 4 (``locustfile.py``). The master also keeps ``connected``,
the number of workers connected to it, so that the orchestrator can say how many it waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "START_LEAD_S",
    "await_epoch",
    "await_start",
    "connected_count",
    "mark_ready",
    "ready_count",
    "set_connected",
    "set_start",
]

START_LEAD_S = 0.5  # wall seconds from setting t=0 to t=0: the mock's reset, every reader
READY_PREFIX, EPOCH_FILE, CONNECTED_FILE = "ready-", "epoch", "connected"
POLL_S = 0.005


def await_start(
    start_dir: Path,
    worker: int,
    stopped: Callable[[], bool],
    timeout_s: float,
    sleep: Callable[[float], object] = time.sleep,
) -> float | None:
    """A Locust process's side: say ready, then wait for the epoch of t=0 (a ``time.time()``).

    None when ``stopped()`` turned true or ``timeout_s`` passed first. ``sleep`` is
    ``gevent.sleep`` inside Locust, so the process's other greenlets keep running.
    """
    mark_ready(start_dir, worker)
    return await_epoch(start_dir, stopped, timeout_s, sleep)


def mark_ready(start_dir: Path, worker: int) -> None:
    """Step 2's end: ``worker`` has built its share and opened its connections."""
    (start_dir / f"{READY_PREFIX}{worker}").touch()


def await_epoch(
    start_dir: Path,
    stopped: Callable[[], bool],
    timeout_s: float,
    sleep: Callable[[float], object] = time.sleep,
) -> float | None:
    """Step 4: the epoch of t=0 once it is set; None at a stop or past ``timeout_s``."""
    epoch_file = start_dir / EPOCH_FILE
    deadline = time.monotonic() + timeout_s
    while not stopped() and time.monotonic() < deadline:
        if epoch_file.exists():
            return float(epoch_file.read_text())
        sleep(POLL_S)
    return None


def ready_count(start_dir: Path) -> int:
    """How many processes have said they are ready."""
    return sum(1 for _ in start_dir.glob(f"{READY_PREFIX}*"))


def set_start(start_dir: Path, reset: Callable[[float], object]) -> float:
    """The orchestrator's side, once every process is ready: t=0 ``START_LEAD_S`` from now,
    the mock reset to it (``reset(epoch)``) before any process can read it."""
    epoch = time.time() + START_LEAD_S
    reset(epoch)
    tmp = start_dir / f"{EPOCH_FILE}.tmp"
    tmp.write_text(repr(epoch))
    tmp.replace(start_dir / EPOCH_FILE)
    return epoch


def set_connected(start_dir: Path, count: int) -> None:
    """The master's side: ``count`` workers are connected now (written atomically)."""
    tmp = start_dir / f"{CONNECTED_FILE}.tmp"
    tmp.write_text(str(count))
    tmp.replace(start_dir / CONNECTED_FILE)


def connected_count(start_dir: Path) -> int:
    """How many workers the master last said were connected (0 before it said)."""
    try:
        return int((start_dir / CONNECTED_FILE).read_text())
    except (OSError, ValueError):
        return 0
