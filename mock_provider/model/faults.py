"""The fault schedule: which requests fail, per model, in scenario-time windows.

Theory of operation: a schedule is an ordered list of rules. For each request the first rule
whose window contains ``now`` and whose model matches gets to draw; it returns a
:class:`Fault` or nothing. Rules are small frozen objects with one method, so new kinds of
chaos (slow tokens, dropped connections, cut streams) are new rule classes, not new branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mock_provider.config import FaultWindowConfig

from .randomness import RequestRandom

__all__ = ["ErrorRate", "Fault", "FaultRule", "FaultSchedule", "Outage"]


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    reason: str  # "outage" | "error_rate"


class FaultRule(Protocol):
    def applies(self, model: str, now: float) -> bool: ...
    def draw(self, rng: RequestRandom) -> Fault | None: ...


@dataclass(frozen=True, slots=True)
class _Window:
    model: str
    start: float
    end: float | None

    def applies(self, model: str, now: float) -> bool:
        return (
            (self.model == "*" or self.model == model)
            and now >= self.start
            and (self.end is None or now < self.end)
        )


@dataclass(frozen=True, slots=True)
class Outage(_Window):
    status: int = 503

    def draw(self, rng: RequestRandom) -> Fault | None:
        return Fault(self.status, "outage")


@dataclass(frozen=True, slots=True)
class ErrorRate(_Window):
    rate: float = 0.0
    statuses: tuple[int, ...] = (500,)

    def draw(self, rng: RequestRandom) -> Fault | None:
        if rng.random() >= self.rate:
            return None
        status = self.statuses[rng.integers(len(self.statuses))]
        return Fault(status, "error_rate")


class FaultSchedule:
    def __init__(self, rules: Sequence[FaultRule] = ()) -> None:
        self.rules = tuple(rules)

    @classmethod
    def from_config(cls, windows: Sequence[FaultWindowConfig]) -> FaultSchedule:
        rules: list[FaultRule] = []
        for w in windows:
            if w.kind == "outage":
                rules.append(Outage(w.model, w.start, w.end, w.status))
            else:
                rules.append(ErrorRate(w.model, w.start, w.end, w.rate, tuple(w.statuses)))
        return cls(rules)

    def decide(self, model: str, now: float, rng: RequestRandom) -> Fault | None:
        for rule in self.rules:
            if rule.applies(model, now):
                return rule.draw(rng)
        return None
