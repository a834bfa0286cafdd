"""Scenario time: the one place it is converted to wall time, and the one that has none.

Every duration in a scenario (latencies, waits, Retry-After, fault windows) is scenario
time. A live run goes ``time_scale`` times faster than that: :class:`WallClock` is the only
code that divides by the scale (:meth:`WallClock.wall`) or multiplies by it
(:meth:`WallClock.scenario`), for the mock's server and the live client alike; whatever
crosses the wire as wall time (``retry-after``, reset headers) is converted through it: a
dialect is handed the clock as a :class:`TimeBase` and calls ``wall`` where it writes a time.
A virtual run has no wall time at all: :class:`VirtualClock` is whatever time its event loop
says it is, and what its clients are told is scenario time (its ``wall`` is the identity).
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "TimeBase", "VirtualClock", "WallClock"]


class TimeBase(Protocol):
    """What a dialect needs of a clock: the wall time a client must be told."""

    def wall(self, scenario_s: float) -> float:
        """Wall seconds that ``scenario_s`` scenario seconds take."""
        ...


class Clock(TimeBase, Protocol):
    def now(self) -> float:
        """Scenario seconds since t=0."""
        ...


class WallClock:
    """Scenario seconds since ``epoch`` (a ``time.time()``), ``time_scale`` times faster.

    Read from the monotonic clock, so a wall-clock step does not move scenario time; the
    epoch is wall time so that processes sharing it (the mock, Locust workers) share t=0.
    """

    def __init__(self, time_scale: float = 1.0, epoch: float | None = None) -> None:
        self.rescale(time_scale)
        self.reset(epoch)

    def rescale(self, time_scale: float) -> None:
        """Run ``time_scale`` times faster from now on (the mock's reset endpoint sets it)."""
        self.time_scale = time_scale

    def reset(self, epoch: float | None = None) -> None:
        """Restart scenario time at 0 now, or at the wall time ``epoch``."""
        wall, mono = time.time(), time.monotonic()
        self.epoch = wall if epoch is None else epoch
        self._t0 = mono + (self.epoch - wall)

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.time_scale

    def wall(self, scenario_s: float) -> float:
        """Wall seconds that ``scenario_s`` scenario seconds take."""
        return scenario_s / self.time_scale

    def scenario(self, wall_s: float) -> float:
        """Scenario seconds that ``wall_s`` wall seconds stand for."""
        return wall_s * self.time_scale

    def wall_until(self, t: float) -> float:
        """Wall seconds from now until scenario time ``t`` (negative when it has passed)."""
        return (t - self.now()) / self.time_scale


class VirtualClock:
    """Scenario time as a discrete-event loop sets it; it never reads a wall clock."""

    __slots__ = ("t",)

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def wall(self, scenario_s: float) -> float:
        """``scenario_s`` itself: a virtual client is told scenario time."""
        return scenario_s
