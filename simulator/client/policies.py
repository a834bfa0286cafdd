"""Retry policies as small, pure, composable pieces (tenacity's shape, without its clock).

A *wait strategy* is a callable of a :class:`RetryState` returning seconds; it draws only from
the ``rng`` in that state, so a seeded run replays exactly and runs in virtual time. A
:class:`RetryPolicy` combines a wait strategy with a stop rule (``max_attempts``) and a
retryable-status set, plus optional shared state (retry budget, adaptive throttle, circuit
breaker) that every logical request of one strategy shares. Every method takes ``now``.

Hard rule, whatever the config says: 400, 401, 403 and 404 are never retried.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from simulator.client.events import Outcome
from simulator.config import (
    AdaptiveThrottleConfig,
    CircuitBreakerConfig,
    RetryConfig,
)

__all__ = [
    "NEVER_RETRY",
    "AdaptiveThrottle",
    "Backoff",
    "BreakerState",
    "CallWithBackoff",
    "CircuitBreaker",
    "DecorrelatedJitter",
    "EqualJitter",
    "Exponential",
    "Fixed",
    "FullJitter",
    "Immediate",
    "OpenAIDefault",
    "RetryAfterAware",
    "RetryBudget",
    "RetryPolicy",
    "RetryState",
    "WaitStrategy",
    "build_retry_policy",
    "effective_status",
    "is_overload",
]

NEVER_RETRY: frozenset[int] = frozenset({400, 401, 403, 404})


def effective_status(outcome: Outcome) -> int:
    """The status used for decisions: a 2xx that broke mid-way (``stream_cut``) counts as 0.

    A cut stream is a dropped connection from the client's point of view, so it is treated like
    a timeout/connection error (status 0) by every policy, breaker and fallback rule.
    """
    if outcome.ok and outcome.error is not None:
        return 0
    return outcome.status


def is_overload(outcome: Outcome) -> bool:
    """429, 5xx, timeout/connection: the failures that say the backend is struggling."""
    s = effective_status(outcome)
    return s == 0 or s == 429 or s >= 500


# --------------------------------------------------------------------------- wait strategies


@dataclass(frozen=True, slots=True)
class RetryState:
    """What a wait strategy may look at. ``n`` is 0 for the first retry."""

    n: int
    prev_delay: float | None
    outcome: Outcome
    rng: random.Random


WaitStrategy = Callable[[RetryState], float]


@dataclass(frozen=True, slots=True)
class Immediate:
    def __call__(self, s: RetryState) -> float:
        return 0.0


@dataclass(frozen=True, slots=True)
class Fixed:
    delay_s: float

    def __call__(self, s: RetryState) -> float:
        return self.delay_s


@dataclass(frozen=True, slots=True)
class Exponential:
    """``min(cap, base * 2**n)``: no jitter, so synchronised clients stay synchronised."""

    base_s: float
    cap_s: float

    def __call__(self, s: RetryState) -> float:
        return min(self.cap_s, self.base_s * 2.0**s.n)


@dataclass(frozen=True, slots=True)
class FullJitter:
    """Brooker: ``U(0, min(cap, base * 2**n))``."""

    base_s: float
    cap_s: float

    def __call__(self, s: RetryState) -> float:
        return s.rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**s.n))


@dataclass(frozen=True, slots=True)
class EqualJitter:
    """Brooker: ``t/2 + U(0, t/2)`` with ``t = min(cap, base * 2**n)``; never waits under t/2."""

    base_s: float
    cap_s: float

    def __call__(self, s: RetryState) -> float:
        t = min(self.cap_s, self.base_s * 2.0**s.n)
        return t / 2 + s.rng.uniform(0.0, t / 2)


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter:
    """Brooker: ``min(cap, U(base, prev * 3))``, ``prev`` starting at ``base``."""

    base_s: float
    cap_s: float

    def __call__(self, s: RetryState) -> float:
        prev = self.base_s if s.prev_delay is None else s.prev_delay
        return min(self.cap_s, s.rng.uniform(self.base_s, max(self.base_s, prev * 3)))


@dataclass(frozen=True, slots=True)
class CallWithBackoff:
    """The article's ``call_with_backoff``: 429 -> ``min(60, max(retry_after, 2**n + U(0,1)))``;
    500/502/503 -> ``2**n``. Its retryable set is fixed (see :func:`build_retry_policy`)."""

    cap_s: float = 60.0

    def __call__(self, s: RetryState) -> float:
        if s.outcome.status == 429:
            backoff = max(s.outcome.retry_after_s or 0.0, 2.0**s.n + s.rng.uniform(0.0, 1.0))
            return min(backoff, self.cap_s)
        return 2.0**s.n


@dataclass(frozen=True, slots=True)
class OpenAIDefault:
    """openai-python's ``_calculate_retry_timeout``: a sane Retry-After wins, else
    ``min(0.5 * 2**n, 8) * (1 - 0.25 * U(0,1))``."""

    max_retry_after_s: float = 60.0

    def __call__(self, s: RetryState) -> float:
        ra = s.outcome.retry_after_s
        if ra is not None and 0 < ra <= self.max_retry_after_s:
            return ra
        return min(0.5 * 2.0**s.n, 8.0) * (1 - 0.25 * s.rng.random())


@dataclass(frozen=True, slots=True)
class RetryAfterAware:
    """Wait at least the server's Retry-After (when given and not absurdly long)."""

    inner: WaitStrategy
    max_retry_after_s: float = 60.0

    def __call__(self, s: RetryState) -> float:
        d = self.inner(s)
        ra = s.outcome.retry_after_s
        if ra is not None and ra <= self.max_retry_after_s:
            return max(d, ra)
        return d


# --------------------------------------------------------------------------- shared extras


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

    def admit(self, now: float, rng: random.Random) -> bool:
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


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True, slots=True)
class Backoff:
    seconds: float
    reason: str  # "backoff" | "retry_after"


@dataclass(slots=True)
class RetryPolicy:
    """Wait + stop + retryable set, plus the shared extras.

    Breakers and throttles are kept per model (a model is a backend); the retry budget is one
    per strategy, like gRPC's per-channel budget. Call :meth:`admit` before each attempt,
    :meth:`record` after it, and :meth:`next_backoff` to learn whether to retry.
    """

    wait: WaitStrategy
    max_attempts: int
    retry_on: frozenset[int]
    retry_5xx: bool = False  # every status >= 500 retryable (openai-python)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    budget: RetryBudget | None = None
    throttle_cfg: AdaptiveThrottleConfig | None = None
    breaker_cfg: CircuitBreakerConfig | None = None
    throttles: dict[str, AdaptiveThrottle] = field(default_factory=dict)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def breaker(self, model: str) -> CircuitBreaker | None:
        if self.breaker_cfg is None:
            return None
        if model not in self.breakers:
            c = self.breaker_cfg
            self.breakers[model] = CircuitBreaker(
                c.failure_threshold, c.reset_timeout_s, c.half_open_max
            )
        return self.breakers[model]

    def throttle(self, model: str) -> AdaptiveThrottle | None:
        if self.throttle_cfg is None:
            return None
        if model not in self.throttles:
            self.throttles[model] = AdaptiveThrottle(
                self.throttle_cfg.k, self.throttle_cfg.window_s
            )
        return self.throttles[model]

    def admit(self, model: str, now: float) -> str | None:
        """None to go ahead, else the local refusal: ``"circuit_open"`` or ``"throttled"``."""
        br = self.breaker(model)
        if br is not None and not br.admit(now):
            return "circuit_open"
        th = self.throttle(model)
        if th is not None and not th.admit(now, self.rng):
            return "throttled"
        return None

    def record(self, model: str, outcome: Outcome) -> None:
        for part in (self.breaker(model), self.throttle(model), self.budget):
            if part is not None:
                part.record(outcome)

    def retryable(self, outcome: Outcome) -> bool:
        s = effective_status(outcome)
        if s in NEVER_RETRY:
            return False
        return s in self.retry_on or (self.retry_5xx and s >= 500)

    def next_backoff(
        self, attempts_made: int, outcome: Outcome, prev: float | None
    ) -> Backoff | None:
        """The wait before retrying the same model, or None to stop.

        ``attempts_made`` counts attempts on this model so far (>= 1).
        """
        if outcome.ok and outcome.error is None:
            return None
        if attempts_made >= self.max_attempts or not self.retryable(outcome):
            return None
        if self.budget is not None and not self.budget.allows_retry():
            return None
        delay = max(0.0, self.wait(RetryState(attempts_made - 1, prev, outcome, self.rng)))
        ra = outcome.retry_after_s
        reason = "retry_after" if ra is not None and ra > 0 and delay == ra else "backoff"
        return Backoff(delay, reason)


_CALL_WITH_BACKOFF_ON = frozenset({429, 500, 502, 503})
_OPENAI_ON = frozenset({0, 408, 409, 429})


def build_retry_policy(cfg: RetryConfig, rng: random.Random) -> RetryPolicy:
    """Compose the policy a :class:`RetryConfig` describes; ``rng`` feeds every draw."""
    b, cap = cfg.base_s, cfg.cap_s
    waits: dict[str, WaitStrategy] = {
        "none": Immediate(),
        "immediate": Immediate(),
        "fixed": Fixed(cfg.delay_s),
        "exponential": Exponential(b, cap),
        "full_jitter": FullJitter(b, cap),
        "equal_jitter": EqualJitter(b, cap),
        "decorrelated_jitter": DecorrelatedJitter(b, cap),
        "call_with_backoff": CallWithBackoff(),
        "openai_default": OpenAIDefault(cfg.max_retry_after_s),
    }
    wait = waits[cfg.kind]
    retry_5xx = False
    max_attempts = cfg.max_attempts
    if cfg.kind == "call_with_backoff":
        retry_on = _CALL_WITH_BACKOFF_ON  # the article's fixed set; timeouts propagate
    elif cfg.kind == "openai_default":
        retry_on, retry_5xx = _OPENAI_ON, True
    else:
        retry_on = frozenset(cfg.retry_on) | {0}
        if cfg.honor_retry_after:
            wait = RetryAfterAware(wait, cfg.max_retry_after_s)
    if cfg.kind == "none":
        max_attempts = 1
    budget = None
    if cfg.retry_budget is not None:
        budget = RetryBudget(cfg.retry_budget.max_tokens, cfg.retry_budget.token_ratio)
    return RetryPolicy(
        wait=wait,
        max_attempts=max_attempts,
        retry_on=retry_on - NEVER_RETRY,
        retry_5xx=retry_5xx,
        rng=rng,
        budget=budget,
        throttle_cfg=cfg.adaptive_throttle,
        breaker_cfg=cfg.circuit_breaker,
    )
