"""The live client driver: run client-brain generators on gevent, against real HTTP.

Thin by design (the simpy/rt idea): the only differences from a virtual run are that a
``Sleep`` is a real sleep of ``clock.wall(seconds)`` and a ``Send`` is a real HTTP
attempt. Scenario time is measured from a wall-clock epoch shared by every process of a run
(the mock is reset to the same epoch), so fault windows and arrivals line up.

Stopping (Ctrl-C, SIGTERM): :meth:`LiveDriver.stop` ends arrivals and every wait at once; a
request that would send another attempt or wait ends instead, recorded with the error
``"run_stopped"``; attempts already in flight finish and are recorded. :meth:`run_schedule`
gives them ``grace_s`` wall seconds; one still running then is cut, and its request is recorded
as ``"run_stopped_in_flight"`` (a request cut by the scenario's own deadline: ``"run_ended"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gevent
from gevent.event import Event
from gevent.hub import Waiter, get_hub
from gevent.pool import Group

from mock_provider.clock import WallClock
from simulator.client.engine import ClientBrain
from simulator.client.events import RequestResult, Send
from simulator.runner import RequestRunner, TraceRecorder, TraceSink, Transport, wall_stamp
from simulator.traces import TraceRecord
from simulator.workload import LogicalRequest

__all__ = [
    "RUN_ENDED",
    "RUN_STOPPED",
    "RUN_STOPPED_IN_FLIGHT",
    "LiveDriver",
    "StopSignal",
]

# Request errors written by the driver, not the brain (see the module docstring).
RUN_STOPPED = "run_stopped"
RUN_STOPPED_IN_FLIGHT = "run_stopped_in_flight"
RUN_ENDED = "run_ended"


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


class LiveDriver:
    """Runs logical requests for one strategy in one process and records every attempt."""

    def __init__(
        self,
        brain: ClientBrain,
        transport: Transport,
        clock: WallClock,
        sink: TraceSink,
        strategy: str,
        worker: int = 0,
        on_request: Callable[[TraceRecord], None] | None = None,
        grace_s: float = 5.0,
    ) -> None:
        self.brain = brain
        self.transport = transport
        self.clock = clock
        self.recorder = TraceRecorder(strategy, brain.catalog, sink, wall_stamp, worker, on_request)
        self.grace_s = grace_s  # wall seconds in-flight attempts get after a stop
        self.stop_signal = StopSignal()

    def stop(self) -> None:
        """No new arrivals, attempts or waits from now on; attempts in flight finish."""
        self.stop_signal.set()

    def run_request(self, req: LogicalRequest, due: float | None = None) -> RequestResult:
        """Run one logical request now; ``due`` is when it should have started (scenario
        seconds; default ``req.at``, an open-loop arrival), to measure how late it did."""
        clock, send, stop = self.clock, self.transport.send, self.stop_signal
        start = clock.now()
        runner = RequestRunner(self.brain, req, self.recorder, start, due)
        try:
            event = runner.begin()
            while event is not None:
                if isinstance(event, Send):
                    if stop.is_set:
                        return runner.cut(clock.now(), RUN_STOPPED)
                    # The first attempt starts when the request does: no wait comes before
                    # it, so the brain's few microseconds are not worth a second clock read.
                    t0 = start if event.attempt.attempt == 1 else clock.now()
                    event = runner.answered(send(event.attempt), t0)
                else:
                    if stop.sleep(clock.wall(event.seconds)):
                        return runner.cut(clock.now(), RUN_STOPPED)
                    event = runner.woke(clock.now(), event.seconds)
        except gevent.GreenletExit:  # cut mid-request: the deadline, or a stop's grace ended
            runner.cut(clock.now(), RUN_STOPPED_IN_FLIGHT if stop.is_set else RUN_ENDED)
            raise
        assert runner.result is not None
        return runner.result

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
                if stop.sleep(clock.wall(req.at)) or clock.now() >= deadline:
                    return
                self.run_request(req, due)

        feeders = [gevent.spawn(arrivals)] + [gevent.spawn(user, s) for s in closed_loop]

        def everything() -> None:
            gevent.joinall(feeders)  # no request joins the group after its feeders end
            group.join()

        done = gevent.spawn(everything)
        gevent.wait([done, stop.event], count=1, timeout=max(0.0, clock.wall_until(deadline)))
        if stop.is_set:
            done.join(timeout=max(0.0, min(clock.wall_until(deadline), self.grace_s)))
        cut = len(group) + sum(1 for f in feeders if not f.dead)
        gevent.killall(feeders)
        group.kill()
        done.kill()
        return cut
