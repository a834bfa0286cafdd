"""How long a sweep has left: an estimate from the wall time its finished jobs took.

Pure (no clock: the caller passes the elapsed time), so a test can script the durations.

Theory of operation:

- Jobs differ in size: a point at 8 requests a second runs about eight times as long as one
  at 1, and a grid whose load axis varies slowest finishes its small points first. Counting
  jobs would then promise the end far too early. So each job has an expected *cost*, the
  logical requests its workload draws times its strategies (what the virtual driver steps
  through), and the speed is measured in cost per second of one worker's time.
- A pool of ``workers`` takes the jobs in order, each worker the next job as soon as it
  finishes one: job ``i`` starts at 0 when ``i < workers``, else when the ``(i - workers +
  1)``-th job finished. So every finished job's own duration is known, and so is how long
  each running job has been running.
- The speed is the finished jobs' cost over their durations. The rest of the schedule is then
  played forward: each running job ends when its cost at that speed is spent (at once if it is
  already late), each queued job goes to the first free worker. The ETA is when the last one
  ends. In the tail, fewer jobs than workers are left, and it says so rather than assume
  every worker still helps.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

__all__ = ["EtaEstimator"]


class EtaEstimator:
    """Seconds left of a grid of jobs with expected ``costs`` (see the module docstring)."""

    def __init__(self, costs: Sequence[float], workers: int = 1) -> None:
        self.costs = [max(float(c), 1e-9) for c in costs]
        self.workers = max(1, min(workers, len(self.costs)))
        self.ended: dict[int, float] = {}  # job -> elapsed seconds when it finished
        self.order: list[float] = []  # finish times, in the order the jobs finished

    def finished(self, index: int, elapsed: float) -> None:
        self.ended[index] = elapsed
        self.order.append(elapsed)

    def _start(self, index: int) -> float | None:
        """When job ``index`` started; None if it has not."""
        if index < self.workers:
            return 0.0
        k = index - self.workers
        return self.order[k] if k < len(self.order) else None

    def eta(self, elapsed: float) -> float | None:
        """Seconds left after ``elapsed`` seconds; None before anything has finished."""
        if len(self.ended) == len(self.costs):
            return 0.0
        spent = 0.0
        for i, end in self.ended.items():
            start = self._start(i)
            spent += end - (start if start is not None else 0.0)
        if not self.ended or spent <= 0:
            return None
        speed = sum(self.costs[i] for i in self.ended) / spent  # cost per worker-second
        free: list[float] = []  # when each worker is next free
        queued: list[int] = []
        for i in range(len(self.costs)):
            if i in self.ended:
                continue
            start = self._start(i)
            if start is None:
                queued.append(i)
            else:
                free.append(max(elapsed, start + self.costs[i] / speed))
        free += [elapsed] * (self.workers - len(free))
        heapq.heapify(free)
        for i in queued:
            heapq.heappush(free, heapq.heappop(free) + self.costs[i] / speed)
        return max(free) - elapsed
