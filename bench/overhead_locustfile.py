"""Locust users for ``bench/client_overhead.py``: a plain loop and the client brain's loop.

Both post the same chat completion to the same bare handler, back to back, so the ratio of
their request rates prices what the client brain, the live driver and trace writing add.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from locust import FastHttpUser, task

from mock_provider.clock import WallClock
from mock_provider.dialects.openai.tokens import count_chat_tokens
from mock_provider.model.catalog import DEFAULT_CATALOG
from simulator.client.engine import ClientBrain
from simulator.config import ClientConfig, RetryConfig
from simulator.live.driver import LiveDriver
from simulator.live.transport import LocustTransport
from simulator.traces import TraceWriter
from simulator.wire import build_call
from simulator.workload import LogicalRequest

MESSAGES = (("system", "You are a helpful assistant."), ("user", "Summarise the plan in a line."))
REQUEST = LogicalRequest(
    seq=0,
    at=0.0,
    user_id="user-1",
    feature="chat",
    prompt_version="v1",
    messages=MESSAGES,
    input_tokens=count_chat_tokens([{"role": r, "content": c} for r, c in MESSAGES]),
    max_tokens=50,
    model="gpt-4o-mini",
)
CLIENT = ClientConfig(retry=RetryConfig(kind="full_jitter", max_attempts=3))
TRACE_DIR = Path(os.environ.get("STAMPEDE_BENCH_TRACES", tempfile.gettempdir()))


class PlainUser(FastHttpUser):
    """The baseline: a bare FastHttpUser posting the same body in a loop."""

    def on_start(self) -> None:
        brain = ClientBrain(CLIENT, DEFAULT_CATALOG, random.Random(0))
        spec = next(brain.request(REQUEST, 0.0)).attempt  # type: ignore[union-attr]
        self.call = build_call(spec)

    @task
    def post(self) -> None:
        resp = self.client.post(
            self.call.path,
            data=self.call.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=self.call.headers,
        )
        resp.json()


class _NoTraces:
    def write(self, record: object) -> None:
        pass

    def close(self) -> None:
        pass


class BrainUser(FastHttpUser):
    """The same request through ClientBrain + LiveDriver + LocustTransport + TraceWriter."""

    with_traces = True

    def on_start(self) -> None:
        path = TRACE_DIR / f"overhead-{os.getpid()}-{id(self)}.jsonl"
        self.writer: TraceWriter | _NoTraces = (
            TraceWriter(path) if self.with_traces else _NoTraces()
        )
        clock = WallClock(1.0, time.time())
        brain = ClientBrain(CLIENT, DEFAULT_CATALOG, random.Random(0))
        transport = LocustTransport(self.client, clock)
        self.driver = LiveDriver(brain, transport, clock, self.writer, "bench")

    def on_stop(self) -> None:
        self.writer.close()

    @task
    def logical_request(self) -> None:
        self.driver.run_request(REQUEST)


class BrainNoTraceUser(BrainUser):
    """The client brain and the live driver alone: trace records are built, not written."""

    with_traces = False
