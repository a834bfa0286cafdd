"""The live driver's stop order, with a scripted transport on gevent (no network, no Locust)."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import gevent
import pytest
from gevent.event import Event

from mock_provider.clock import WallClock
from mock_provider.model.catalog import DEFAULT_CATALOG
from simulator.client.engine import ClientBrain
from simulator.client.events import AttemptSpec, Outcome
from simulator.config import ClientConfig, RetryConfig
from simulator.live.driver import LiveDriver
from simulator.traces import TraceRecord, TraceWriter, iter_traces
from simulator.workload import LogicalRequest


def req(seq: int, at: float = 0.0) -> LogicalRequest:
    return LogicalRequest(seq, at, "u1", "chat", "v1", (("user", "hi"),), 10, 16, "gpt-4o-mini")


class SlowTransport:
    """Answers ``status`` after ``wall_s`` seconds; ``busy`` is set once ``n`` are in flight."""

    def __init__(self, clock: WallClock, status: int, wall_s: float, n: int = 1) -> None:
        self.clock, self.status, self.wall_s, self.n = clock, status, wall_s, n
        self.in_flight = 0
        self.busy = Event()

    def send(self, spec: AttemptSpec) -> Outcome:
        self.in_flight += 1
        if self.in_flight >= self.n:
            self.busy.set()
        gevent.sleep(self.wall_s)
        self.in_flight -= 1
        return Outcome(self.clock.now(), self.status, None if self.status == 200 else "err",
                       latency_s=self.clock.scenario(self.wall_s))  # fmt: skip


class Sink(list[TraceRecord]):
    def __init__(self) -> None:
        super().__init__()
        self.attempted = Event()

    def write(self, record: TraceRecord) -> None:
        self.append(record)
        if record.kind == "attempt":
            self.attempted.set()

    def kind(self, kind: str) -> list[TraceRecord]:
        return [r for r in self if r.kind == kind]


def driver(transport_args: tuple[int, float, int], retry: RetryConfig, grace_s: float = 5.0):
    clock = WallClock(1.0, time.time())
    transport = SlowTransport(clock, *transport_args)
    brain = ClientBrain(ClientConfig(retry=retry), DEFAULT_CATALOG, random.Random(0))
    sink = Sink()
    d = LiveDriver(brain, transport, clock, sink, "s", grace_s=grace_s)
    return d, transport, sink


def stop_when(d: LiveDriver, event: Event) -> None:
    def watch() -> None:
        assert event.wait(10), "the condition never came"
        d.stop()

    gevent.spawn(watch)


def test_stop_ends_a_backoff_at_once_and_records_the_request() -> None:
    # 503 answered at once, then a 30 s backoff: the stop must not wait for it.
    d, _, sink = driver((503, 0.01, 1), RetryConfig(kind="fixed", delay_s=30, max_attempts=5))
    stop_when(d, sink.attempted)
    started = time.monotonic()
    cut = d.run_schedule([req(0)], [], deadline=1000.0)
    assert time.monotonic() - started < 2.0
    assert cut == 0
    (attempt,) = sink.kind("attempt")
    (request,) = sink.kind("request")
    assert attempt.status == 503
    assert request.error == "run_stopped" and request.attempt == 1 and request.success is False


def test_attempts_in_flight_at_the_stop_finish_and_later_arrivals_never_start() -> None:
    d, transport, sink = driver((200, 0.3, 3), RetryConfig(kind="none"))
    stop_when(d, transport.busy)
    arrivals = [req(i, 0.0) for i in range(3)] + [req(i, 2.0) for i in range(3, 6)]
    started = time.monotonic()
    cut = d.run_schedule(arrivals, [], deadline=1000.0)
    took = time.monotonic() - started
    assert 0.3 <= took < 1.5  # the in-flight attempts ran to the end; arrival t=2 never came
    assert cut == 0
    assert [r.status for r in sink.kind("attempt")] == [200, 200, 200]
    assert sorted(r.trace_id for r in sink.kind("request")) == ["s-0", "s-1", "s-2"]
    assert all(r.success for r in sink.kind("request"))


def test_the_grace_period_cuts_what_is_still_in_flight() -> None:
    d, transport, sink = driver((200, 30.0, 1), RetryConfig(kind="none"), grace_s=0.2)
    stop_when(d, transport.busy)
    started = time.monotonic()
    cut = d.run_schedule([req(0)], [], deadline=1000.0)
    assert time.monotonic() - started < 2.0
    assert cut == 1
    assert sink.kind("attempt") == []  # no answer came back: nothing to record
    (request,) = sink.kind("request")
    assert request.error == "run_stopped_in_flight" and request.attempt == 0


def test_trace_writer_refuses_writes_after_close(tmp_path: Path, caplog) -> None:
    d, _, sink = driver((200, 0.0, 1), RetryConfig(kind="none"))
    d.run_schedule([req(0)], [], deadline=10.0)
    record = sink.kind("request")[0]
    writer = TraceWriter(tmp_path / "t.jsonl")
    writer.write(record)
    writer.close()
    with caplog.at_level(logging.ERROR):
        writer.write(record)
        writer.write_line(record.to_json())
        writer.flush()
    writer.close()
    assert writer.dropped == 2
    assert len(list(iter_traces(tmp_path / "t.jsonl"))) == 1
    assert sum("after the writer was closed" in m for m in caplog.messages) == 1


@pytest.mark.parametrize("stopped_first", [True, False])
def test_stop_signal_sleep(stopped_first: bool) -> None:
    from simulator.live.driver import StopSignal

    stop = StopSignal()
    if stopped_first:
        stop.set()
    else:
        gevent.spawn_later(0.05, stop.set)
    started = time.monotonic()
    assert stop.sleep(10.0) is True
    assert time.monotonic() - started < 1.0
    assert StopSignal().sleep(0.01) is False  # a sleep that runs out says so
