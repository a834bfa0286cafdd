"""The master-worker conversation (simulator/live/messages.py) between stand-in runners.

Run in a child interpreter: importing Locust patches the standard library with gevent,
which the rest of the test session must not get.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Three workers ask a master with two shares; each runner delivers its messages straight to
# the other's handlers, as Locust does over its socket.
SCRIPT = textwrap.dedent(
    """
    import json
    from types import SimpleNamespace
    from gevent.event import AsyncResult
    from locust.runners import MasterRunner, WorkerRunner
    from simulator.live import messages as m

    class Master(MasterRunner):
        greenlet = None  # Locust's runners kill theirs when collected
        def __init__(self):
            self.handlers, self.workers = {}, {}
        def register_message(self, kind, handler):
            self.handlers[kind] = handler
        def send_message(self, kind, data=None, client_id=None):
            self.workers[client_id].handlers[kind](msg=SimpleNamespace(data=data))

    class Worker(WorkerRunner):
        greenlet = None
        def __init__(self, master, client_id, index):
            self.master, self.client_id, self.worker_index = master, client_id, index
            self.handlers = {}
            master.workers[client_id] = self
        def send_message(self, kind, data=None, client_id=None):
            msg = SimpleNamespace(data=data, node_id=self.client_id)
            self.master.handlers[kind](msg=msg)

    master = Master()
    m.hand_out_shares(master, 2)
    got = []
    for i, name in enumerate(["c", "a", "b"]):  # Locust's indexes, in connection order
        w = Worker(master, name, i)
        answer = AsyncResult()
        w.handlers[m.SHARE_MSG] = lambda msg, answer=answer: answer.set(msg.data["share"])
        got.append(m.ask_share(w, answer, lambda: False, 5.0))
    stopped = Worker(master, "d", 3)
    stopped.handlers[m.SHARE_MSG] = lambda msg: None  # its answer never comes
    codes = [
        m.worker_exit_code(SimpleNamespace(stampede_strategy="s", stampede_last=False), False),
        m.worker_exit_code(SimpleNamespace(stampede_strategy="s", stampede_last=True), False),
        m.worker_exit_code(SimpleNamespace(stampede_strategy="s", stampede_last=False), True),
        m.worker_exit_code(SimpleNamespace(stampede_strategy="", stampede_last=False), False),
    ]
    print(json.dumps({
        "shares": got,
        "stopped": m.ask_share(stopped, AsyncResult(), lambda: True, 5.0),
        "unanswered": m.ask_share(stopped, AsyncResult(), lambda: False, 0.3),
        "codes": codes,
    }))
    """
)


def test_shares_are_numbered_in_asking_order_and_none_past_n_and_exit_codes():
    from simulator.live.worker import NEXT_STRATEGY_EXIT, RUN_OVER_EXIT

    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["shares"] == [0, 1, None]  # a third worker for two shares gets none
    assert result["stopped"] == 3  # stopped before an answer: Locust's index, no work
    # No answer in time: no share, rather than Locust's index (which may be another's share)
    assert result["unanswered"] is None
    assert result["codes"] == [NEXT_STRATEGY_EXIT, RUN_OVER_EXIT, RUN_OVER_EXIT, None]
