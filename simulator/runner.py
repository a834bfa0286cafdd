"""One logical request, stepped: the client brain's generator, and the trace rows it leaves.

Theory of operation
-------------------
A driver owns time and the network; the :class:`RequestRunner` owns everything else about a
logical request. Both drivers, live (gevent, real HTTP) and virtual (a discrete-event loop
over the provider brain), do the same three things with it:

- :meth:`RequestRunner.begin` at the request's start: the brain's first event, or None when
  a guard refused it before any attempt (its record is written then);
- carry out a :class:`~simulator.client.events.Send` through a :class:`Transport` and hand
  the :class:`~simulator.client.events.Outcome` to :meth:`RequestRunner.answered`, with the
  attempt's start time;
- carry out a :class:`~simulator.client.events.Sleep` and report the wake-up to
  :meth:`RequestRunner.woke`.

Each returns the brain's next event, or None when the request has ended. The runner writes
the attempt's row once the brain has heard its outcome (so the row carries the attempt's cost
as the brain priced it: the next event's ``charged_usd``, or the result's), and the request's
row when it ends; :meth:`RequestRunner.cut` ends a request the run stopped. Rows go through a
:class:`TraceRecorder`, which knows the strategy, the sink and how to stamp a row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from mock_provider.model.catalog import ModelSpec
from simulator.client.engine import ClientBrain, RequestGen
from simulator.client.events import AttemptSpec, Event, Outcome, RequestResult, Send, Woke
from simulator.traces import TraceRecord, attempt_record, request_record
from simulator.workload import LogicalRequest

__all__ = [
    "RequestRunner",
    "TraceRecorder",
    "TraceSink",
    "Transport",
    "virtual_stamp",
    "wall_stamp",
]


class TraceSink(Protocol):
    def write(self, record: TraceRecord) -> None: ...


class Transport(Protocol):
    """Carries out one attempt: real HTTP (live), or the provider brain called directly."""

    def send(self, spec: AttemptSpec) -> Outcome: ...


_second: list[Any] = [None, ""]  # (whole second, its ISO prefix): strftime once a second


def wall_stamp(now: float) -> str:
    """Wall-clock ISO-8601 UTC at millisecond precision, as the article's traces have (a live
    run's rows; ``now``, the scenario time, is not used)."""
    wall = time.time()
    sec = int(wall)
    if _second[0] != sec:
        _second[0] = sec
        _second[1] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{int((wall - sec) * 1000):03d}+00:00"


_VIRTUAL_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


_virtual_second: list[Any] = [None, ""]  # as _second, for virtual time


def virtual_stamp(now: float) -> str:
    """A virtual run's timestamp: scenario time from a fixed epoch, so that the same seed
    writes the same bytes whenever it runs."""
    sec, ms = divmod(round((_VIRTUAL_EPOCH + now) * 1000), 1000)
    if _virtual_second[0] != sec:
        _virtual_second[0] = sec
        _virtual_second[1] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_virtual_second[1]}.{ms:03d}+00:00"


class TraceRecorder:
    """Writes a strategy's attempt and request rows to a sink."""

    def __init__(
        self,
        strategy: str,
        catalog: dict[str, ModelSpec],
        sink: TraceSink,
        stamp: Callable[[float], str] = wall_stamp,
        worker: int = 0,
        on_request: Callable[[TraceRecord], None] | None = None,
    ) -> None:
        self.strategy = strategy
        self.catalog = catalog
        self.sink = sink
        self.stamp = stamp
        self.worker = worker
        self.on_request = on_request

    def attempt(
        self,
        req: LogicalRequest,
        send: Send,
        outcome: Outcome,
        t0: float,
        cost: float,
        stamp: str,
        lag: float | None,
    ) -> None:
        self.sink.write(
            attempt_record(  # positional (see attempt_record): this runs per attempt
                self.strategy, req, send.attempt, outcome, t0, send.slept_s, cost, req.model,
                stamp, self.worker, lag,
            )
        )  # fmt: skip

    def request(
        self,
        req: LogicalRequest,
        result: RequestResult,
        start: float,
        end: float,
        stamp: str,
        answer_start: float | None = None,
    ) -> None:
        spec = self.catalog.get(result.model or req.model)
        record = request_record(  # positional (see request_record)
            self.strategy, req, result, start, end, spec.dialect if spec else None, stamp,
            self.worker, answer_start,
        )  # fmt: skip
        self.sink.write(record)
        if self.on_request is not None:
            self.on_request(record)


class RequestRunner:
    """The steps of one logical request (see the module docstring)."""

    __slots__ = (
        "answer_start",
        "attempts",
        "cost",
        "final",
        "gen",
        "lag",
        "last",
        "model",
        "pending",
        "rec",
        "req",
        "result",
        "slept",
        "start",
    )  # fmt: skip

    def __init__(
        self,
        brain: ClientBrain,
        req: LogicalRequest,
        rec: TraceRecorder,
        start: float,
        due: float | None = None,
    ) -> None:
        self.req, self.rec, self.start = req, rec, start
        self.gen: RequestGen = brain.request(req, start)
        self.attempts, self.cost, self.slept = 0, 0.0, 0.0
        self.model = req.model
        self.final: Outcome | None = None
        self.answer_start: float | None = None  # when the attempt behind ``final`` was sent
        self.result: RequestResult | None = None
        self.pending: Send | None = None  # the Send being carried out
        # Scheduling lag (simulator/live/timing.py): how late the moment that starts the next
        # attempt came (the arrival, or the wake-ups since the last attempt); None when no
        # wait came first. ``due``: when the request should have started (``req.at``).
        self.lag: float | None = start - (req.at if due is None else due)
        self.last = start  # the last time read: a wait is due ``seconds`` after it

    def _next(self, reply: Outcome | Woke | None) -> Event | None:
        try:
            event = self.gen.send(reply) if reply is not None else next(self.gen)
        except StopIteration as stop:
            self.result = stop.value
            return None
        if isinstance(event, Send):
            self.pending = event
        return event

    def begin(self) -> Event | None:
        event = self._next(None)
        if event is None:  # refused before any attempt
            self._end(self.start)
        return event

    def answered(self, outcome: Outcome, t0: float) -> Event | None:
        """The outcome of the pending Send, which started at scenario time ``t0``."""
        sent = self.pending
        assert sent is not None, "answered() without a Send"
        self.pending = None
        self.attempts += 1
        self.model, self.final, self.last = sent.attempt.model, outcome, outcome.now
        self.answer_start = t0
        lag, self.lag = self.lag, None
        try:
            event = self._next(outcome)
        except BaseException:  # the brain failed on this outcome: keep the attempt's row
            self.rec.attempt(self.req, sent, outcome, t0, 0.0, self.rec.stamp(outcome.now), lag)
            raise
        charged = self.result.charged_usd if event is None else event.charged_usd  # type: ignore[union-attr]
        self.cost += charged
        # Both rows of a request that ends here share one stamp and end time.
        stamp = self.rec.stamp(outcome.now)
        self.rec.attempt(self.req, sent, outcome, t0, charged, stamp, lag)
        if event is None:
            self._end(outcome.now, stamp)
        return event

    def woke(self, now: float, seconds: float) -> Event | None:
        """A Sleep of ``seconds`` ended at scenario time ``now``."""
        self.slept += seconds
        late = now - self.last - seconds
        self.lag = late if self.lag is None else self.lag + late
        self.last = now
        event = self._next(Woke(now))
        if event is None:
            self._end(now)
        return event

    def cut(self, now: float, error: str) -> RequestResult:
        """End a request the run stopped or ran out of time for: what it did so far."""
        self.gen.close()
        self.result = RequestResult(
            False, self.model, self.attempts, None, error, self.cost, self.slept, self.final
        )
        self._end(now)
        return self.result

    def _end(self, end: float, stamp: str | None = None) -> None:
        assert self.result is not None
        self.rec.request(
            self.req, self.result, self.start, end, stamp or self.rec.stamp(end), self.answer_start
        )
