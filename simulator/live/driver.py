"""The live client driver: run client-brain generators on gevent, against real HTTP.

Thin by design (the simpy/rt idea): the only differences from a virtual run are that a
``Sleep`` is a real ``gevent.sleep`` of ``seconds / time_scale`` and a ``Send`` is a real HTTP
attempt. Scenario time is measured from a wall-clock epoch shared by every process of a run
(the mock is reset to the same epoch), so fault windows and arrivals line up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import gevent
from gevent.pool import Group

from simulator.client.engine import ClientBrain
from simulator.client.events import AttemptSpec, Outcome, RequestResult, Send, Woke
from simulator.client.guards import attempt_cost
from simulator.traces import TraceRecord, attempt_record, request_record
from simulator.workload import LogicalRequest

__all__ = ["LiveDriver", "ScenarioClock", "TraceSink"]


class TraceSink(Protocol):
    def write(self, record: TraceRecord) -> None: ...


class Transport(Protocol):
    def send(self, spec: AttemptSpec) -> Outcome: ...


class ScenarioClock:
    """Scenario seconds since ``epoch`` (wall time.time()), ``time_scale`` times faster."""

    def __init__(self, epoch: float, time_scale: float) -> None:
        self.epoch = epoch
        self.k = time_scale

    def now(self) -> float:
        return (time.time() - self.epoch) * self.k

    def sleep_until(self, t: float) -> None:
        wait = self.epoch + t / self.k - time.time()
        if wait > 0:
            gevent.sleep(wait)


_second: list[Any] = [None, ""]  # (whole second, its ISO prefix): strftime once a second


def _stamp() -> str:
    """Wall-clock ISO-8601 UTC at millisecond precision, as the article's traces have."""
    now = time.time()
    sec = int(now)
    if _second[0] != sec:
        _second[0] = sec
        _second[1] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{int((now - sec) * 1000):03d}+00:00"


class LiveDriver:
    """Runs logical requests for one strategy in one process and records every attempt."""

    def __init__(
        self,
        brain: ClientBrain,
        transport: Transport,
        clock: ScenarioClock,
        sink: TraceSink,
        strategy: str,
        worker: int = 0,
        on_request: Callable[[TraceRecord], None] | None = None,
    ) -> None:
        self.brain = brain
        self.transport = transport
        self.clock = clock
        self.sink = sink
        self.strategy = strategy
        self.worker = worker
        self.on_request = on_request

    def run_request(self, req: LogicalRequest) -> RequestResult:
        clock, catalog = self.clock, self.brain.catalog
        send = self.transport.send
        start = clock.now()
        gen = self.brain.request(req, start)
        try:
            event = next(gen)
            while True:
                if isinstance(event, Send):
                    sent, spec = event, event.attempt
                    # The first attempt starts when the request does: no wait comes before it,
                    # so the brain's few microseconds are not worth a second clock read.
                    t0 = start if spec.attempt == 1 else clock.now()
                    outcome = send(spec)
                    # The brain hears the outcome before the attempt is recorded (it does no
                    # I/O, so no other greenlet runs in between): when that ends the request,
                    # a one-attempt request's cost is the attempt's, and both records share
                    # one timestamp and end time (the brain's own microseconds aside).
                    try:
                        event = gen.send(outcome)
                    except StopIteration as stop:
                        result: RequestResult = stop.value
                        stamp = _stamp()
                        cost = (
                            result.cost_usd
                            if result.attempts == 1
                            else attempt_cost(catalog.get(spec.model), outcome)
                        )
                        self._attempt(req, sent, outcome, t0, cost, stamp)
                        self._finish(req, result, start, outcome.now, stamp)
                        return result
                    except BaseException:
                        cost = attempt_cost(catalog.get(spec.model), outcome)
                        self._attempt(req, sent, outcome, t0, cost, _stamp())
                        raise
                    cost = attempt_cost(catalog.get(spec.model), outcome)
                    self._attempt(req, sent, outcome, t0, cost, _stamp())
                    if isinstance(event, Send):
                        continue
                # A wait: the request's end is read from the clock if it ends after one.
                gevent.sleep(max(0.0, event.seconds / clock.k))
                try:
                    event = gen.send(Woke(clock.now()))
                except StopIteration as stop:
                    result = stop.value
                    self._finish(req, result, start, clock.now(), _stamp())
                    return result
        except StopIteration as stop:  # refused before any attempt
            result = stop.value
            self._finish(req, result, start, clock.now(), _stamp())
            return result
        except gevent.GreenletExit:  # the run ended (deadline or interrupt) mid-request
            gen.close()
            result = RequestResult(False, req.model, 0, None, "run_ended", 0.0, 0.0, None)
            self._finish(req, result, start, clock.now(), _stamp())
            raise

    def _attempt(
        self,
        req: LogicalRequest,
        send: Send,
        outcome: Outcome,
        t0: float,
        cost: float,
        stamp: str,
    ) -> None:
        """Write the record of one attempt."""
        spec = send.attempt
        self.sink.write(
            attempt_record(  # positional (see attempt_record): this runs per attempt
                self.strategy,
                req,
                spec,
                outcome,
                t0,
                send.slept_s,
                cost,
                req.model,
                stamp,
                self.worker,
            )
        )

    def _finish(
        self, req: LogicalRequest, result: RequestResult, start: float, end: float, stamp: str
    ) -> None:
        """Write the request record, ending at scenario time ``end``."""
        spec = self.brain.catalog.get(result.model or req.model)
        record = request_record(  # positional (see request_record)
            self.strategy,
            req,
            result,
            start,
            end,
            spec.dialect if spec else None,
            stamp,
            self.worker,
        )
        self.sink.write(record)
        if self.on_request is not None:
            self.on_request(record)

    def run_schedule(
        self,
        open_loop: Sequence[LogicalRequest],
        closed_loop: Sequence[Sequence[LogicalRequest]],
        deadline: float,
    ) -> int:
        """Fire open-loop arrivals on time and run closed-loop users until ``deadline``.

        Returns how many logical requests were still running when the deadline cut them off.
        """
        group = Group()

        def arrivals() -> None:
            for req in open_loop:
                self.clock.sleep_until(req.at)
                group.spawn(self.run_request, req)

        def user(seq: Sequence[LogicalRequest]) -> None:
            for req in seq:
                gevent.sleep(req.at / self.clock.k)
                if self.clock.now() >= deadline:
                    return
                self.run_request(req)

        feeders = [gevent.spawn(arrivals)] + [gevent.spawn(user, s) for s in closed_loop]
        wall_deadline = self.clock.epoch + deadline / self.clock.k
        gevent.joinall(feeders, timeout=max(0.0, wall_deadline - time.time()))
        group.join(timeout=max(0.0, wall_deadline - time.time()))
        cut = len(group) + sum(1 for f in feeders if not f.dead)
        gevent.killall(feeders)
        group.kill()
        return cut
