"""The live client driver: run client-brain generators on gevent, against real HTTP.

Thin by design (the simpy/rt idea): the only differences from a virtual run are that a
``Sleep`` is a real sleep of ``seconds / time_scale`` and a ``Send`` is a real HTTP
attempt. Scenario time is measured from a wall-clock epoch shared by every process of a run
(the mock is reset to the same epoch), so fault windows and arrivals line up.

Stopping (Ctrl-C, SIGTERM): :meth:`LiveDriver.stop` ends arrivals and every wait at once; a
request that would send another attempt or wait ends instead, recorded with the error
``"run_stopped"``; attempts already in flight finish and are recorded. :meth:`run_schedule`
gives them ``grace_s`` wall seconds; one still running then is cut, and its request is recorded
as ``"run_stopped_in_flight"`` (a request cut by the scenario's own deadline: ``"run_ended"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import gevent
from gevent.event import Event
from gevent.hub import Waiter, get_hub
from gevent.pool import Group

from simulator.client.engine import ClientBrain
from simulator.client.events import AttemptSpec, Outcome, RequestResult, Send, Woke
from simulator.client.guards import attempt_cost
from simulator.traces import TraceRecord, attempt_record, request_record
from simulator.workload import LogicalRequest

__all__ = [
    "RUN_ENDED",
    "RUN_STOPPED",
    "RUN_STOPPED_IN_FLIGHT",
    "LiveDriver",
    "ScenarioClock",
    "StopSignal",
    "TraceSink",
]

# Request errors written by the driver, not the brain (see the module docstring).
RUN_STOPPED = "run_stopped"
RUN_STOPPED_IN_FLIGHT = "run_stopped_in_flight"
RUN_ENDED = "run_ended"


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

    def wall_until(self, t: float) -> float:
        """Wall seconds from now until scenario time ``t`` (negative when it has passed)."""
        return self.epoch + t / self.k - time.time()

    def sleep_until(self, t: float) -> None:
        wait = self.wall_until(t)
        if wait > 0:
            gevent.sleep(wait)


class StopSignal:
    """Set once, when the run must stop; the sleeps it hands out end early when it is.

    The driver's backoff sleeps and arrival waits go through :meth:`sleep`, so a stop ends a
    30 s backoff at once. It is ``gevent.sleep`` (a loop timer and a Waiter) plus a set
    entry: ``Event.wait(timeout)`` does the same but cost about four times the CPU per wait
    (18-23 us against 5-6 us here), and the live driver sleeps once per retry.
    """

    def __init__(self) -> None:
        self.is_set = False
        self.event = Event()  # for whoever waits on the stop itself (not per request)
        self._sleeping: set[Waiter] = set()

    def set(self) -> None:
        if self.is_set:
            return
        self.is_set = True
        self.event.set()
        loop = get_hub().loop
        for waiter in self._sleeping:
            # A Waiter is switched from the hub. One whose timer fired first has already
            # moved on: its greenlet is None again, so this switch only stores the value.
            loop.run_callback(waiter.switch, True)

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` of wall time; True if the stop came first (or had come)."""
        if self.is_set:
            return True
        if seconds <= 0:
            gevent.sleep(0)  # still let others run, as a zero backoff always did
            return self.is_set
        hub = get_hub()
        loop = hub.loop
        timer = loop.timer(seconds)
        waiter = Waiter(hub)
        loop.update_now()  # as gevent.sleep: the timer counts from now, not the loop's last tick
        timer.start(waiter.switch, False)
        sleeping = self._sleeping
        sleeping.add(waiter)
        try:
            return bool(waiter.get())
        finally:
            timer.close()
            sleeping.discard(waiter)


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
        grace_s: float = 5.0,
    ) -> None:
        self.brain = brain
        self.transport = transport
        self.clock = clock
        self.sink = sink
        self.strategy = strategy
        self.worker = worker
        self.on_request = on_request
        self.grace_s = grace_s  # wall seconds in-flight attempts get after a stop
        self.stop_signal = StopSignal()

    def stop(self) -> None:
        """No new arrivals, attempts or waits from now on; attempts in flight finish."""
        self.stop_signal.set()

    def run_request(self, req: LogicalRequest, due: float | None = None) -> RequestResult:
        """Run one logical request now; ``due`` is when it should have started (scenario
        seconds; default ``req.at``, an open-loop arrival), to measure how late it did."""
        clock, catalog = self.clock, self.brain.catalog
        send, stop = self.transport.send, self.stop_signal
        start = clock.now()
        gen = self.brain.request(req, start)
        # What the request did so far: its record if the run stops or ends it midway.
        attempts, cost, slept, model, final = 0, 0.0, 0.0, req.model, None
        # Scheduling lag (see timing.py): how late the moment that starts the next attempt
        # came, the arrival or the wake-ups since the last attempt; None: no wait came first.
        lag: float | None = start - (req.at if due is None else due)
        last = start  # the last time read: a wait is due ``seconds`` after it
        try:
            event = next(gen)
            while True:
                if isinstance(event, Send):
                    if stop.is_set:
                        return self._cut(req, gen, RUN_STOPPED, start, attempts, cost, slept,
                                         model, final)  # fmt: skip
                    sent, spec = event, event.attempt
                    # The first attempt starts when the request does: no wait comes before it,
                    # so the brain's few microseconds are not worth a second clock read.
                    t0 = start if spec.attempt == 1 else clock.now()
                    outcome = send(spec)
                    attempts, model, final, last = attempts + 1, spec.model, outcome, outcome.now
                    attempt_lag, lag = lag, None
                    # The brain hears the outcome before the attempt is recorded (it does no
                    # I/O, so no other greenlet runs in between): when that ends the request,
                    # a one-attempt request's cost is the attempt's, and both records share
                    # one timestamp and end time (the brain's own microseconds aside).
                    try:
                        event = gen.send(outcome)
                    except StopIteration as stop_iteration:
                        result: RequestResult = stop_iteration.value
                        stamp = _stamp()
                        c = (
                            result.cost_usd
                            if result.attempts == 1
                            else attempt_cost(catalog.get(spec.model), outcome)
                        )
                        self._attempt(req, sent, outcome, t0, c, stamp, attempt_lag)
                        self._finish(req, result, start, outcome.now, stamp)
                        return result
                    except BaseException:
                        c = attempt_cost(catalog.get(spec.model), outcome)
                        self._attempt(req, sent, outcome, t0, c, _stamp(), attempt_lag)
                        raise
                    c = attempt_cost(catalog.get(spec.model), outcome)
                    cost += c
                    self._attempt(req, sent, outcome, t0, c, _stamp(), attempt_lag)
                    if isinstance(event, Send):
                        continue
                # A wait: the request's end is read from the clock if it ends after one.
                if stop.sleep(event.seconds / clock.k):
                    return self._cut(req, gen, RUN_STOPPED, start, attempts, cost, slept, model,
                                     final)  # fmt: skip
                slept += event.seconds
                woke = clock.now()
                late = woke - last - event.seconds
                lag, last = late if lag is None else lag + late, woke
                try:
                    event = gen.send(Woke(woke))
                except StopIteration as stop_iteration:
                    result = stop_iteration.value
                    self._finish(req, result, start, clock.now(), _stamp())
                    return result
        except StopIteration as stop_iteration:  # refused before any attempt
            result = stop_iteration.value
            self._finish(req, result, start, clock.now(), _stamp())
            return result
        except gevent.GreenletExit:  # cut mid-request: the deadline, or a stop's grace ended
            error = RUN_STOPPED_IN_FLIGHT if stop.is_set else RUN_ENDED
            self._cut(req, gen, error, start, attempts, cost, slept, model, final)
            raise

    def _cut(
        self,
        req: LogicalRequest,
        gen: Any,
        error: str,
        start: float,
        attempts: int,
        cost: float,
        slept: float,
        model: str,
        final: Outcome | None,
    ) -> RequestResult:
        """End a request the run stopped: what it did so far, recorded with ``error``."""
        gen.close()
        result = RequestResult(False, model, attempts, None, error, cost, slept, final)
        self._finish(req, result, start, self.clock.now(), _stamp())
        return result

    def _attempt(
        self,
        req: LogicalRequest,
        send: Send,
        outcome: Outcome,
        t0: float,
        cost: float,
        stamp: str,
        lag: float | None,
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
                lag,
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

        Returns when every request has ended, at the deadline, or after a :meth:`stop` once
        the attempts in flight have finished (``grace_s`` at most). Returns how many logical
        requests were cut off mid-request by the deadline or the grace period.
        """
        clock, stop = self.clock, self.stop_signal
        group = Group()

        def arrivals() -> None:
            for req in open_loop:
                if stop.sleep(clock.wall_until(req.at)):
                    return
                group.spawn(self.run_request, req)

        def user(seq: Sequence[LogicalRequest]) -> None:
            for req in seq:
                due = clock.now() + req.at  # ``at``: the think time before this request
                if stop.sleep(req.at / clock.k) or clock.now() >= deadline:
                    return
                self.run_request(req, due)

        feeders = [gevent.spawn(arrivals)] + [gevent.spawn(user, s) for s in closed_loop]

        def everything() -> None:
            gevent.joinall(feeders)  # no request joins the group after its feeders end
            group.join()

        done = gevent.spawn(everything)
        wall_deadline = clock.epoch + deadline / clock.k
        gevent.wait([done, stop.event], count=1, timeout=max(0.0, wall_deadline - time.time()))
        if stop.is_set:
            grace_end = min(wall_deadline, time.time() + self.grace_s)
            done.join(timeout=max(0.0, grace_end - time.time()))
        cut = len(group) + sum(1 for f in feeders if not f.dead)
        gevent.killall(feeders)
        group.kill()
        done.kill()
        return cut
