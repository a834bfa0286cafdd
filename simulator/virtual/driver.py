"""The virtual driver: one strategy's logical requests as a discrete-event loop.

Theory of operation (simpy's core, specialised): a heap of ``(time, sequence, kind,
payload)`` entries; the sequence number breaks ties in the order they were pushed, so the same
inputs always run in the same order. Popping an entry moves the :class:`VirtualClock` to its
time and resumes one logical request through its
:class:`~simulator.runner.RequestRunner`:

- ``ARRIVE``: an open-loop arrival, or a closed-loop user's next request after its think time;
- ``ANSWER``: an attempt's outcome arrives (the :class:`ProviderTransport` decided it when it
  was sent, at the attempt's start);
- ``WAKE``: a backoff ends.

A ``Send`` is carried out at once (the brain decides at the send time, and the outcome is
scheduled at the time it arrives); a ``Sleep`` schedules its wake-up. Requests still running
at the deadline are cut there (``run_ended``); :meth:`VirtualDriver.stop` (Ctrl-C) cuts them
at the virtual time reached (``run_stopped``). Nothing here reads a wall clock: every few
thousand events the driver calls ``progress`` (when set) with the virtual time reached, and
whoever prints progress reads its own clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from mock_provider.clock import VirtualClock
from simulator.client.engine import ClientBrain
from simulator.client.events import Send
from simulator.runner import RequestRunner, TraceRecorder
from simulator.virtual.transport import ProviderTransport
from simulator.workload import LogicalRequest

__all__ = ["RUN_ENDED", "RUN_STOPPED", "VirtualDriver"]

RUN_ENDED = "run_ended"
RUN_STOPPED = "run_stopped"
ARRIVE, ANSWER, WAKE = 0, 1, 2
_CHECK_EVERY = 4096  # events between looks at the stop flag (a Ctrl-C lands in between)


class VirtualDriver:
    """Runs one strategy's schedule against one provider brain, in virtual time."""

    def __init__(
        self,
        brain: ClientBrain,
        transport: ProviderTransport,
        recorder: TraceRecorder,
        clock: VirtualClock | None = None,
    ) -> None:
        self.brain = brain
        self.transport = transport
        self.recorder = recorder
        self.clock = clock or VirtualClock()
        self.stopped = False
        self.progress: Callable[[float], None] | None = None  # called with the virtual time

    def stop(self) -> None:
        """End the run at the virtual time reached; safe to call from a signal handler."""
        self.stopped = True

    def run_schedule(
        self,
        open_loop: Sequence[LogicalRequest],
        closed_loop: Sequence[Sequence[LogicalRequest]],
        deadline: float,
    ) -> int:
        """Run every request to its end or to ``deadline``; returns how many were cut."""
        heap: list[tuple[float, int, int, Any]] = []
        push, pop = heapq.heappush, heapq.heappop
        seq = 0
        for req in open_loop:  # already sorted by arrival
            heap.append((req.at, seq, ARRIVE, (req, req.at, None)))
            seq += 1
        for u, requests in enumerate(closed_loop):
            if requests:
                first = requests[0]
                push(heap, (first.at, seq, ARRIVE, (first, first.at, (u, 0))))
                seq += 1
        heapq.heapify(heap)
        brain, rec, clock = self.brain, self.recorder, self.clock
        send = self.transport.send  # which settles what ended before it decides
        active: dict[RequestRunner, tuple[int, int] | None] = {}
        steps = 0
        while heap:
            t, _, kind, payload = heap[0]
            if t > deadline:
                break
            pop(heap)
            steps += 1
            if steps % _CHECK_EVERY == 0:
                if self.stopped:
                    break
                if self.progress is not None:
                    self.progress(t)
            clock.t = t
            if kind == ARRIVE:
                req, due, place = payload
                runner = RequestRunner(brain, req, rec, t, due)
                active[runner] = place
                event = runner.begin()
            elif kind == ANSWER:
                runner, outcome, t0 = payload
                event = runner.answered(outcome, t0)
            else:
                runner, seconds = payload
                event = runner.woke(t, seconds)
            if event is None:
                place = active.pop(runner)
                if place is not None:  # a closed-loop user thinks, then sends its next request
                    u, i = place
                    if i + 1 < len(closed_loop[u]):
                        nxt = closed_loop[u][i + 1]
                        push(heap, (t + nxt.at, seq, ARRIVE, (nxt, t + nxt.at, (u, i + 1))))
                        seq += 1
            elif isinstance(event, Send):
                outcome = send(event.attempt, t)
                push(heap, (outcome.now, seq, ANSWER, (runner, outcome, t)))
                seq += 1
            else:
                push(heap, (t + event.seconds, seq, WAKE, (runner, event.seconds)))
                seq += 1
        end = clock.t if self.stopped else deadline
        error = RUN_STOPPED if self.stopped else RUN_ENDED
        for runner in active:
            runner.cut(end, error)
        return len(active)
