"""What a Locust master and its workers say to each other in a live run (``locustfile.py``).

Workers may be on other hosts (``stampede worker``), so nothing passes through files: a
worker asks the master for its share's number, says when it is ready and hears t=0 back
(the master stands in for it in the start folder: ``start.py``), ships its trace records,
and says when its share is done. The master tells its workers to stop, and whether the whole
run stops with them, which a worker's exit code passes on to ``stampede worker``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult
from locust.runners import MasterRunner, WorkerRunner

from simulator.apps.calls import AppCall
from simulator.live.start import await_epoch, mark_ready, set_connected
from simulator.live.worker import NEXT_STRATEGY_EXIT, RUN_OVER_EXIT
from simulator.traces import TraceRecord

__all__ = [
    "CALLS_MSG",
    "DONE_MSG",
    "EPOCH_MSG",
    "READY_MSG",
    "SHARE_MSG",
    "STOP_MSG",
    "TRACE_MSG",
    "MessageSink",
    "ask_share",
    "hand_out_shares",
    "hear_epoch",
    "stand_in_for_workers",
    "worker_exit_code",
]

TRACE_MSG, DONE_MSG, STOP_MSG = "stampede_traces", "stampede_done", "stampede_stop"
CALLS_MSG = "stampede_app_calls"  # an app strategy's calls (simulator/apps/calls.py)
READY_MSG, EPOCH_MSG = "stampede_ready", "stampede_epoch"  # the start handshake (start.py)
SHARE_MSG = "stampede_share"  # a worker asks for its share's number; the master answers
POLL_S = 0.05


class MessageSink:
    """On a worker: batch records (trace records, or an app's calls) and send them to the
    master."""

    def __init__(self, runner: WorkerRunner, message: str = TRACE_MSG) -> None:
        self.runner = runner
        self.message = message
        self.buffer: list[str] = []

    def write(self, record: TraceRecord | AppCall) -> None:
        self.buffer.append(record.to_json())

    def flush(self) -> None:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            self.runner.send_message(self.message, {"lines": batch})


def hand_out_shares(runner: MasterRunner, shares: int) -> None:
    """The master: number the shares 0..N-1 in the order workers ask (None past N).

    Not Locust's worker index: Locust gives the N users to any N of the workers connected,
    so with one more connected the indexes of those N may skip a number and lose a share.
    Which process runs a share does not matter: its requests and waits follow its number."""
    numbers = iter(range(shares))

    def on_ask(msg: Any, **_: Any) -> None:
        runner.send_message(SHARE_MSG, {"share": next(numbers, None)}, client_id=msg.node_id)

    runner.register_message(SHARE_MSG, on_ask)


def ask_share(
    runner: WorkerRunner, answer: AsyncResult, stopped: Callable[[], bool], timeout_s: float
) -> int | None:
    """A worker: its share's number, from the master (``answer`` is set by the message);
    None when there is none for it, or when the master did not answer in time: Locust's own
    index could name a share another worker runs (it skips numbers), so a worker that heard
    nothing runs nothing and the master's start handshake says which share is missing.
    Stopped first: Locust's index (it will run nothing)."""
    runner.send_message(SHARE_MSG)
    deadline = time.monotonic() + timeout_s
    while not answer.ready() and not stopped() and time.monotonic() < deadline:
        answer.wait(POLL_S)
    if answer.ready():
        share = answer.get()
    elif stopped():
        share = runner.worker_index
    else:
        share = None
    return None if share is None else int(share)


def hear_epoch(
    runner: WorkerRunner,
    share: int,
    answer: AsyncResult,
    stopped: Callable[[], bool],
    timeout_s: float,
) -> float | None:
    """A worker: say ready, then wait for t=0 from the master; None at a stop or timeout."""
    runner.send_message(READY_MSG, {"worker": share})
    deadline = time.monotonic() + timeout_s
    epoch: float | None = None
    while epoch is None and not stopped() and time.monotonic() < deadline:
        epoch = answer.wait(POLL_S)  # None until the master sends it
    return epoch


def stand_in_for_workers(
    runner: MasterRunner, start_dir: Path, stopped: Callable[[], bool], timeout_s: float
) -> None:
    """The master's part in the start handshake (start.py): keep ``connected`` current, mark
    each worker ready as it says so, and pass t=0 on to every worker once it is set."""
    relay: list[gevent.Greenlet] = []

    def keep_connected() -> None:
        shown = -1
        while True:
            if runner.worker_count != shown:
                shown = runner.worker_count
                set_connected(start_dir, shown)
            gevent.sleep(0.1)

    def pass_epoch_on() -> None:
        epoch = await_epoch(start_dir, stopped, timeout_s, gevent.sleep)
        if epoch is not None:
            runner.send_message(EPOCH_MSG, {"epoch": epoch})

    def on_ready(msg: Any, **_: Any) -> None:
        mark_ready(start_dir, int(msg.data["worker"]))
        if not relay:
            relay.append(gevent.spawn(pass_epoch_on))

    gevent.spawn(keep_connected)
    runner.register_message(READY_MSG, on_ready)


def worker_exit_code(opts: Any, run_over: bool) -> int | None:
    """What a worker tells ``stampede worker``: the run is over, another strategy comes,
    or (None) Locust's own code, when no master ever gave it a strategy."""
    if run_over or (opts is not None and getattr(opts, "stampede_last", False)):
        return RUN_OVER_EXIT
    if opts is None or not getattr(opts, "stampede_strategy", ""):
        return None
    return NEXT_STRATEGY_EXIT
