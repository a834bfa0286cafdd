"""The live driver of an app strategy: call the user's function once per logical request.

The schedule is the built-in strategies' (:meth:`LiveDriver.run_schedule`: open-loop arrivals
on time, closed-loop users with their think times, the deadline, the stop and its grace); only
a request's run differs. There is no client brain: the app decides its own retries, waits and
fallbacks and calls the mock itself, so this driver sees a call, not its attempts. It records
one :class:`~simulator.apps.calls.AppCall` per logical request (when it started, when it
returned or raised, the exception's type), and the orchestrator joins those with the mock's
journal into trace records once the strategy has run (:mod:`simulator.apps.attribution`).

An exception from the app is a failed logical request, its error the exception's type name;
nothing the app raises stops the run. A call still running at the scenario's deadline (the
end of the drain) is cut, recorded with the error ``run_ended`` and a message that says the
app had not returned; one still running when a stop's grace ends, ``run_stopped_in_flight``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gevent

from mock_provider.clock import WallClock
from simulator.apps.calling import AppCaller
from simulator.apps.calls import MESSAGE_CHARS, AppCall
from simulator.apps.request import AppRequest
from simulator.client.events import RequestResult
from simulator.live.driver import (
    RUN_ENDED,
    RUN_STOPPED,
    RUN_STOPPED_IN_FLIGHT,
    LiveDriver,
    StopSignal,
)
from simulator.workload import LogicalRequest

__all__ = ["AppDriver", "CallSink"]

HUNG = "the app had not returned when the scenario ended (duration + drain): cut"
STOPPED = "the run was stopped before this call returned: cut"


class CallSink(Protocol):
    def write(self, record: Any) -> None: ...


class AppDriver(LiveDriver):
    """Runs one strategy's logical requests through the app's function in one process."""

    def __init__(
        self,
        caller: AppCaller,
        make_request: Callable[[LogicalRequest], AppRequest],
        clock: WallClock,
        sink: CallSink,
        worker: int = 0,
        on_call: Callable[[AppCall], None] | None = None,
        grace_s: float = 5.0,
    ) -> None:
        # Not LiveDriver.__init__: there is no brain, transport or recorder here; the
        # schedule needs only the clock, the stop signal and the grace.
        self.caller = caller
        self.make_request = make_request
        self.clock = clock
        self.sink = sink
        self.worker = worker
        self.on_call = on_call
        self.grace_s = grace_s
        self.stop_signal = StopSignal()

    def run_request(self, req: LogicalRequest, due: float | None = None) -> RequestResult:
        """Call the app for ``req`` now; record how the call ended (never raises but for a
        cut, which it records first)."""
        clock = self.clock
        start = clock.now()
        lag = start - (req.at if due is None else due)
        if self.stop_signal.is_set:
            self._record(req, start, start, lag, RUN_STOPPED, None)
            return _result(False, RUN_STOPPED)
        try:
            self.caller(self.make_request(req))
        except gevent.GreenletExit:
            stopped = self.stop_signal.is_set
            error, message = (RUN_STOPPED_IN_FLIGHT, STOPPED) if stopped else (RUN_ENDED, HUNG)
            self._record(req, start, clock.now(), lag, error, message)
            raise
        except Exception as exc:  # the app failed this request: recorded, the run goes on
            error = type(exc).__name__
            self._record(req, start, clock.now(), lag, error, str(exc)[:MESSAGE_CHARS])
            return _result(False, error)
        self._record(req, start, clock.now(), lag, None, None)
        return _result(True, None)

    def _record(
        self,
        req: LogicalRequest,
        start: float,
        end: float,
        lag: float,
        error: str | None,
        message: str | None,
    ) -> None:
        call = AppCall(
            seq=req.seq,
            start_t=start,
            t=end,
            success=error is None,
            error=error,
            message=message,
            lag_ms=lag * 1000.0,
            worker=self.worker,
        )
        self.sink.write(call)
        if self.on_call is not None:
            self.on_call(call)


def _result(success: bool, error: str | None) -> RequestResult:
    """What :meth:`LiveDriver.run_request` returns; the attempts are the journal's to tell."""
    return RequestResult(success, None, 0, None, error, 0.0, 0.0, None)
