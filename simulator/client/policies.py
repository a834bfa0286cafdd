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
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.client.events import Outcome
from simulator.client.outcomes import NEVER_RETRY, effective_status, is_overload
from simulator.client.overload import AdaptiveThrottle, BreakerState, CircuitBreaker, RetryBudget
from simulator.config import AdaptiveThrottleConfig, CircuitBreakerConfig, RetryConfig

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
