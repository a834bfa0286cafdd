"""Retry policies as small, pure, composable pieces (tenacity's shape, without its clock).

A *wait strategy* is a callable of a :class:`RetryState` returning seconds; it draws only from
the ``rng`` in that state, so a seeded run replays exactly and runs in virtual time. A
:class:`RetryPolicy` combines a wait strategy with a stop rule (``max_attempts``) and a
retryable-status set, plus optional shared state (retry budget, adaptive throttle, circuit
breaker) that every logical request of one strategy shares. Every method takes ``now``.

Hard rule for the idealised kinds, whatever the config says: 400, 401, 403 and 404 are never
retried. The library kinds (:mod:`simulator.client.libraries`,
:mod:`simulator.client.litellm_router`) do what their library does instead; the ones that retry
client errors say so in ``retries_client_errors``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

from simulator.client.events import Outcome
from simulator.client.fallback import is_fallback_trigger, skip_wait
from simulator.client.libraries import (
    AnthropicSDK,
    LangChainWithRetry,
    LibraryRetry,
    OpenAISDK,
    TenacityCookbook,
    VercelAISDK,
)
from simulator.client.litellm_router import LiteLLMRouter, RouterCooldowns
from simulator.client.outcomes import NEVER_RETRY, effective_status, is_overload
from simulator.client.overload import (
    AdaptiveThrottle,
    BreakerState,
    CircuitBreaker,
    Draws,
    RetryBudget,
)
from simulator.config import AdaptiveThrottleConfig, CircuitBreakerConfig, RetryConfig

__all__ = [
    "NEVER_RETRY",
    "STOP_REASONS",
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
    "RetryAfterAware",
    "RetryBudget",
    "RetryPolicy",
    "RetryState",
    "StopReason",
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
    rng: Draws


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


# Why a policy stops trying a model (:meth:`RetryPolicy.decide`): the reply was an answer; its
# status is not one this policy retries; a LiteLLM cooldown began; every attempt allowed on the
# model was made; the retry budget (gRPC retry throttling) refused the retry.
StopReason = Literal["answered", "not_retryable", "cooldown", "attempts_exhausted", "retry_budget"]
STOP_REASONS: tuple[StopReason, ...] = get_args(StopReason)


@dataclass(frozen=True, slots=True)
class Backoff:
    seconds: float
    reason: str  # "backoff" | "retry_after"
    last: bool = False  # sleep, then stop trying this model (LiteLLM sleeps after its last try)


@dataclass(slots=True)
class RetryPolicy:
    """Wait + stop + retryable set, plus the shared extras.

    Breakers and throttles are kept per model (a model is a backend); the retry budget is one
    per strategy, like gRPC's per-channel budget. Call :meth:`admit` before each attempt,
    :meth:`record` after it, :meth:`next_backoff` to learn whether to retry the same model and
    :meth:`skips_wait` / :meth:`falls_back` whether to move on to the next one.

    ``library`` is set for a library kind: its own retry decision replaces ``retry_on`` and the
    ``NEVER_RETRY`` rule, and ``cooldowns`` holds the LiteLLM Router's shared state.
    """

    wait: WaitStrategy
    max_attempts: int
    retry_on: frozenset[int]
    rng: Draws = field(default_factory=lambda: random.Random(0))
    budget: RetryBudget | None = None
    throttle_cfg: AdaptiveThrottleConfig | None = None
    breaker_cfg: CircuitBreakerConfig | None = None
    library: LibraryRetry | None = None
    cooldowns: RouterCooldowns | None = None
    throttles: dict[str, AdaptiveThrottle] = field(default_factory=dict)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    @property
    def retries_client_errors(self) -> bool:
        """True when another attempt may follow a 400, 401, 403 or 404 (a library's flaw)."""
        return self.library is not None and self.library.retries_client_errors

    @property
    def shares_state(self) -> bool:
        """False when :meth:`admit` always admits and :meth:`record` does nothing."""
        return (
            self.breaker_cfg is not None
            or self.throttle_cfg is not None
            or self.budget is not None
            or self.cooldowns is not None
        )

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

    def admit(self, model: str, now: float, rng: Draws | None = None) -> str | None:
        """None to go ahead, else the local refusal: ``"circuit_open"``, ``"throttled"`` or
        ``"cooldown"`` (the LiteLLM Router has the model's deployment cooling down).

        ``rng``: the request's own draws (the policy's shared generator if None)."""
        if self.cooldowns is not None and self.cooldowns.cooling(model, now):
            return "cooldown"
        br = self.breaker(model)
        if br is not None and not br.admit(now):
            return "circuit_open"
        th = self.throttle(model)
        if th is not None and not th.admit(now, rng or self.rng):
            return "throttled"
        return None

    def record(self, model: str, outcome: Outcome) -> None:
        for part in (self.breaker(model), self.throttle(model), self.budget):
            if part is not None:
                part.record(outcome)
        if self.cooldowns is not None:
            self.cooldowns.record(model, outcome)

    def retryable(self, outcome: Outcome) -> bool:
        if self.library is not None:
            return self.library.should_retry(outcome)
        s = effective_status(outcome)
        if s in NEVER_RETRY:
            return False
        return s in self.retry_on

    def next_backoff(
        self,
        attempts_made: int,
        outcome: Outcome,
        prev: float | None,
        model: str = "",
        rng: Draws | None = None,
    ) -> Backoff | None:
        """The wait before retrying ``model``, or None to stop trying it at once.

        ``attempts_made`` counts attempts on this model so far (>= 1). A ``last`` backoff is
        slept before moving on: the library sleeps even when no retry follows. ``rng``: the
        request's own draws (the policy's shared generator if None).
        """
        decision = self.decide(attempts_made, outcome, prev, model, rng)
        return decision if isinstance(decision, Backoff) else None

    def decide(
        self,
        attempts_made: int,
        outcome: Outcome,
        prev: float | None,
        model: str = "",
        rng: Draws | None = None,
    ) -> Backoff | StopReason:
        """:meth:`next_backoff`, saying why when it stops: one of :data:`STOP_REASONS`."""
        if outcome.ok and outcome.error is None:
            return "answered"
        if not self.retryable(outcome):
            return "not_retryable"
        if self.cooldowns is not None and self.cooldowns.cooling(model, outcome.now):
            return "cooldown"  # cooled by this very failure: no sleep, no further attempt
        last = attempts_made >= self.max_attempts
        if last and not self._sleeps_after_last():
            return "attempts_exhausted"
        if self.budget is not None and not self.budget.allows_retry():
            return "retry_budget"
        state = RetryState(attempts_made - 1, prev, outcome, rng or self.rng)
        delay = max(0.0, self.wait(state))
        if self.library is not None:
            reason = "retry_after" if self.library.waits_retry_after(state) else "backoff"
        else:
            ra = outcome.retry_after_s
            reason = "retry_after" if ra is not None and ra > 0 and delay == ra else "backoff"
        return Backoff(delay, reason, last)

    def _sleeps_after_last(self) -> bool:
        # LiteLLM's sleep follows each failure inside its retry loop, which never runs with
        # no retries: then one attempt, no sleep.
        lib = self.library
        return lib is not None and lib.sleeps_after_last_attempt and self.max_attempts > 1

    def skips_wait(self, outcome: Outcome, fallback_on: Iterable[str]) -> bool:
        """Move on to the next model now instead of waiting for this one (a 429 asking for
        longer than a fallback is worth; see :mod:`simulator.client.fallback`). An idealised
        rule: a library waits its own way, and the app's fallback sees only its final error."""
        return (
            self.library is None
            and skip_wait(outcome)
            and is_fallback_trigger(outcome, fallback_on)
        )

    def falls_back(self, outcome: Outcome, fallback_on: Iterable[str]) -> bool:
        """Whether, with this model's attempts over, the next model is tried: on the strategy's
        ``fallback_on`` triggers, or on any error for a library with its own fallbacks."""
        if self.library is not None and self.library.falls_back_on_any_error:
            return True
        return is_fallback_trigger(outcome, fallback_on)


_CALL_WITH_BACKOFF_ON = frozenset({429, 500, 502, 503})


def _library(cfg: RetryConfig) -> LibraryRetry | None:
    """The library model a kind names, or None for an idealised kind."""
    if cfg.kind == "openai_sdk":
        return OpenAISDK()
    if cfg.kind == "anthropic_sdk":
        return AnthropicSDK()
    if cfg.kind == "litellm_router":
        return LiteLLMRouter(cfg.min_wait_s)
    if cfg.kind == "langchain_with_retry":
        return LangChainWithRetry()
    if cfg.kind == "tenacity_cookbook":
        return TenacityCookbook()
    if cfg.kind == "vercel_ai_sdk":
        return VercelAISDK()
    return None


def build_retry_policy(
    cfg: RetryConfig, rng: random.Random, fallback: Iterable[str] = ()
) -> RetryPolicy:
    """Compose the policy a :class:`RetryConfig` describes; ``rng`` feeds every draw.

    ``fallback`` is the strategy's fallback list: the LiteLLM Router's cooldowns depend on
    which groups have one.
    """
    library = _library(cfg)
    if library is not None:
        cooldowns = None
        max_attempts = cfg.max_attempts
        if cfg.kind == "litellm_router":
            max_attempts = cfg.num_retries + 1
            fb = frozenset(fallback)
            cooldowns = RouterCooldowns(cfg.allowed_fails, cfg.cooldown_time_s, fb, bool(fb))
        return RetryPolicy(
            wait=library,
            max_attempts=max_attempts,
            retry_on=frozenset(),
            rng=rng,
            library=library,
            cooldowns=cooldowns,
        )
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
    }
    wait = waits[cfg.kind]
    max_attempts = cfg.max_attempts
    if cfg.kind == "call_with_backoff":
        retry_on = _CALL_WITH_BACKOFF_ON  # the article's fixed set; timeouts propagate
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
        rng=rng,
        budget=budget,
        throttle_cfg=cfg.adaptive_throttle,
        breaker_cfg=cfg.circuit_breaker,
    )
