"""The stop order of a live run on Ctrl-C or SIGTERM: nothing recorded is lost.

Children run in their own sessions, so a terminal's Ctrl-C reaches only ``stampede run``
(whether it is sent to the process or to its group). Its handler only notes the signal
(:class:`StopRequests`), and the run loop, which looks every 0.1 s, carries the stop out:

1. SIGUSR1 to Locust (``locustfile.py``, ``STOP_SIGNAL``): it stops new arrivals, attempts
   and waits, lets the attempts in flight finish (:data:`STOP_GRACE_S` at most), writes
   their records (workers ship theirs to the master first), quits as a finished run does
   and closes the trace writer last; Locust exits. (Not SIGTERM: Locust exits from the
   greenlet that handles it, racing its CSV writer against the closing of its files. Not
   SIGINT: KeyboardInterrupt lands in whichever greenlet runs, maybe an attempt in flight.)
2. Only then is the mock stopped, so every attempt it answered reached the client.
3. ``run.json`` (``partial: true``), then the CLI writes the partial summary and report.

A second signal while stopping kills Locust at once instead of waiting for it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from simulator.run_folder import Interrupted

__all__ = [
    "LOCUST_EXIT_S",
    "STOP_GRACE_S",
    "Interrupted",
    "StopRequests",
    "noting_signals",
    "stop_process",
]

# Wall seconds the attempts in flight at a stop get to finish. The longest planned attempt in
# the shipped scenarios (a 1,000-token answer at 12 ms a token, streaming_latency at time
# scale 5) takes about 2.5 s of wall time, a 429 or a 503 a few milliseconds; past 5 s,
# someone who pressed Ctrl-C is kept waiting, and what is still running is cut (recorded as
# ``run_stopped_in_flight``).
STOP_GRACE_S = 5.0
# Then Locust writes or ships its last records and exits; after this it is killed.
LOCUST_EXIT_S = STOP_GRACE_S + 10.0


class StopRequests:
    """SIGINT and SIGTERM during a run, noted rather than raised.

    An exception raised from a signal handler can land anywhere, between a fork and the
    assignment of its ``Popen`` for one, and leave a child running; the run loop looks at
    ``count`` instead and carries out the stop order (module docstring).
    """

    def __init__(self) -> None:
        self.count = 0
        self.name = ""

    def note(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.name = self.name or signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.count > 0

    @property
    def hurry(self) -> bool:
        """A second signal: kill children instead of waiting for them."""
        return self.count > 1

    def check(self) -> None:
        if self.count:
            raise Interrupted(self.name)


@contextmanager
def noting_signals(stops: StopRequests) -> Iterator[None]:
    old = {s: signal.signal(s, stops.note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def stop_process(
    proc: subprocess.Popen[Any],
    timeout: float = 15.0,
    stops: StopRequests | None = None,
    how: signal.Signals = signal.SIGTERM,
) -> None:
    """``how`` (Locust and the mock both shut down gracefully on SIGINT and SIGTERM), then
    SIGKILL after ``timeout`` seconds, or at once if a second Ctrl-C asks to hurry."""
    if proc.poll() is not None:
        return
    proc.send_signal(how)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if stops is not None and stops.hurry:
            break
        try:
            proc.wait(0.1)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
