"""Client-side overload protection shared by every logical request of one strategy.

A retry budget (gRPC retry throttling), Google SRE adaptive throttling and a circuit breaker.
Each keeps its own state, takes ``now`` (and a seeded ``rng`` where it draws) and never reads a
clock, so it composes with any wait strategy in :mod:`simulator.client.policies`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from simulator.client.events import Outcome
from simulator.client.outcomes import NEVER_RETRY, effective_status, is_overload

__all__ = [
    "AdaptiveThrottle",
    "BreakerState",
    "CircuitBreaker",
    "Draws",
    "RetryBudget",
]


class Draws(Protocol):
    """The draws a policy makes: ``random.Random`` has them, and so has a request's own
    stream (``mock_provider.model.randomness.RequestRandom``)."""

    def random(self) -> float:
        """Uniform on [0, 1)."""
        ...

    def uniform(self, a: float, b: float) -> float:
        """Uniform on [a, b)."""
        ...


@dataclass(slots=True)
class RetryBudget:
    """gRPC retry throttling: retries only while ``tokens > max_tokens / 2``.

    A retryable failure costs one token, a success earns ``token_ratio`` (capped at max), so a
    failing backend quickly stops receiving retries while first attempts still go through.
    """

    max_tokens: float
    token_ratio: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.max_tokens

    def record(self, outcome: Outcome) -> None:
        if effective_status(outcome) in NEVER_RETRY:
            return
        if outcome.ok and outcome.error is None:
            self.tokens = min(self.max_tokens, self.tokens + self.token_ratio)
        else:
            self.tokens = max(0.0, self.tokens - 1.0)

    def allows_retry(self) -> bool:
        return self.tokens > self.max_tokens / 2


@dataclass(slots=True)
class AdaptiveThrottle:
    """Google SRE client-side throttling over a sliding window.

    Before an attempt, reject locally with ``p = max(0, (requests - k*accepts)/(requests + 1))``.
    A local reject counts as a request; an *accept* is any reply that is not an overload signal
    (429, 5xx, timeout), i.e. the backend did not push back.
    """

    k: float
    window_s: float
    _requests: deque[float] = field(default_factory=deque)
    _accepts: deque[float] = field(default_factory=deque)

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        for q in (self._requests, self._accepts):
            while q and q[0] <= horizon:
                q.popleft()

    def reject_probability(self, now: float) -> float:
        self._prune(now)
        req, acc = len(self._requests), len(self._accepts)
        return max(0.0, (req - self.k * acc) / (req + 1))

    def admit(self, now: float, rng: Draws) -> bool:
        """Count a request at ``now``; False means reject locally (no HTTP call)."""
        p = self.reject_probability(now)
        self._requests.append(now)
        return not (p > 0 and rng.random() < p)

    def record(self, outcome: Outcome) -> None:
        if not is_overload(outcome):
            self._accepts.append(outcome.now)


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# Theory of operation (circuit breaker)
#
# CLOSED lets everything through and counts consecutive overload failures (429, 5xx, timeout);
# any other reply (a success, or a 4xx that is the caller's fault) proves the backend is up and
# counts as a success, which resets the count. Reaching ``failure_threshold`` TRIPs it to OPEN.
# OPEN rejects locally ("circuit_open") until ``reset_timeout_s`` has passed since it opened;
# the first admission after that COOLs it to HALF_OPEN.
# HALF_OPEN lets at most ``half_open_max`` probes through; others are rejected. One probe
# success closes it, one probe failure re-opens it (and restarts the timer).
# Outcomes that arrive while OPEN (sent before it opened) change nothing.
_SUCCESS, _FAILURE, _TRIP, _COOL = "success", "failure", "trip", "cool"
_TRANSITIONS: dict[tuple[BreakerState, str], BreakerState] = {
    (BreakerState.CLOSED, _SUCCESS): BreakerState.CLOSED,
    (BreakerState.CLOSED, _FAILURE): BreakerState.CLOSED,
    (BreakerState.CLOSED, _TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, _SUCCESS): BreakerState.OPEN,
    (BreakerState.OPEN, _FAILURE): BreakerState.OPEN,
    (BreakerState.OPEN, _COOL): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, _SUCCESS): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, _FAILURE): BreakerState.OPEN,
}


@dataclass(slots=True)
class CircuitBreaker:
    failure_threshold: int
    reset_timeout_s: float
    half_open_max: int = 1
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0

    def _go(self, event: str, now: float) -> None:
        new = _TRANSITIONS[(self.state, event)]
        if new is BreakerState.OPEN and self.state is not BreakerState.OPEN:
            self.opened_at = now
        if new is BreakerState.CLOSED and event == _SUCCESS:
            self.failures = 0
        if new is BreakerState.HALF_OPEN:
            self.probes = 0
        self.state = new

    def admit(self, now: float) -> bool:
        if self.state is BreakerState.OPEN and now - self.opened_at >= self.reset_timeout_s:
            self._go(_COOL, now)
        if self.state is BreakerState.OPEN:
            return False
        if self.state is BreakerState.HALF_OPEN:
            if self.probes >= self.half_open_max:
                return False
            self.probes += 1
        return True

    def record(self, outcome: Outcome) -> None:
        if not is_overload(outcome):
            self._go(_SUCCESS, outcome.now)
        else:
            self.failures += 1
            trip = self.state is BreakerState.CLOSED and self.failures >= self.failure_threshold
            self._go(_TRIP if trip else _FAILURE, outcome.now)
