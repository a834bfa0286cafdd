"""The LiteLLM Router (litellm 1.110.2, as it installs from PyPI here), modelled sans I/O.

In this version ``litellm.Router`` hands retries, fallbacks, cooldowns and its sleeps to a
compiled Rust core (``litellm/router_rust/``). The rules below were read from the Python the
core replaced and still ships (``litellm/utils.py`` ``calculate_retry_after``,
``litellm/router_utils/cooldown_handlers.py``, ``litellm/constants.py``) and from what the
Router does, driven through its host seam with no network, in
``tests/test_library_litellm.py``: same attempts, sleeps inside the model's range, cooldowns
across requests.

Theory of operation, for a scenario where each model name is one *model group* with one
deployment, and the strategy's ``fallback`` list is the Router's ``fallbacks`` for the
requested model:

- **Retries.** Within a group, ``1 + num_retries`` attempts (``num_retries`` 2). Retried:
  connection errors and timeouts, 403, 408, 409, 429 and every 5xx (403 is retried by the
  installed core, unlike the SDKs). Not retried: 400, 401, 404, 413, 422 and the other 4xx.
- **Sleep.** After every failed attempt that is retried, *and after the last one too* (the
  Router's retry loop sleeps before it finds it has no retries left): the Retry-After when
  ``0 < v <= 60`` plus ``0.75 U`` s of jitter, else ``min(max(0.5 * 2**n, retry_after), 8)``
  plus ``0.75 U``; so the Router's ``retry_after`` floor is itself capped at 8 s. (0 s when
  another healthy deployment of the group exists; never here, one deployment per group.)
  LiteLLM reads only ``retry-after`` in whole seconds, never ``retry-after-ms``; the model
  sees one Retry-After and takes its ceiling, which is what a server sending both headers
  (as the mock does) puts in ``retry-after``. A ``retry-after-ms`` sent alone, which LiteLLM
  ignores, is the one case modelled wrongly. With ``num_retries`` 0 there is no sleep at all.
- **Fallbacks.** When a group's attempts are over, for *any* error (a 400 or 401 included),
  the next group in ``fallbacks`` gets its own full set of retries.
- **Cooldowns** are kept per deployment, shared by every request of the strategy. A
  deployment in cooldown gets no attempts: the request moves to its fallback at once, or
  fails (``RouterRateLimitError``, here ``"cooldown"``) when there is none. A failure puts
  its deployment in cooldown when LiteLLM thinks one is required (429, 401, 402, 404, 408,
  timeouts and 5xx; not connection errors, not the other 4xx) and:

  - ``allowed_fails`` unset (the default): the status is one ``litellm.should_retry``
    rejects (401, 404), or every request of the last minute failed and there were at
    least 1000 of them. (A 429, or > 50% failures, cools only groups of several deployments.)
  - ``allowed_fails`` set: more than ``allowed_fails`` such failures since a counter started
    at the first of them, which ends ``cooldown_time`` later. Only for a group that has a
    fallback: a lone deployment is never cooled this way.

  A cooldown lasts the failure's Retry-After (whole seconds) when it carried one, else
  ``cooldown_time`` (5 s); 0 means no cooldown. A deployment that is cooled while a request
  is on it gets no further attempt and no further sleep from that request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from simulator.client.events import Outcome
from simulator.client.libraries import is_cut_stream
from simulator.client.outcomes import effective_status

if TYPE_CHECKING:  # policies imports this module
    from simulator.client.policies import RetryState

__all__ = ["LiteLLMRouter", "RouterCooldowns", "whole_seconds"]

# litellm/constants.py
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
JITTER = 0.75
MAX_RETRY_AFTER = 60.0  # calculate_retry_after: a Retry-After above this is ignored
SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD = 1000
FAILURE_WINDOW_S = 60.0  # the per-minute success/failure counters' TTL

_RETRIED_4XX = frozenset({403, 408, 409, 429})
_COOLDOWN_4XX = frozenset({401, 402, 404, 408, 429})  # _is_cooldown_required
# Of those, the ones litellm.should_retry rejects (402 is exempt for a single deployment).
_REJECTED_BY_SHOULD_RETRY = frozenset({401, 404})


def whole_seconds(retry_after_s: float) -> float:
    """The ``retry-after`` LiteLLM reads: whole seconds (``int(header)``). A server that also
    sends the exact ``retry-after-ms`` rounds the seconds header up, as the mock does."""
    return float(math.ceil(retry_after_s))


@dataclass(frozen=True, slots=True)
class LiteLLMRouter:
    """The Router's retry decision and sleep (see the module docstring)."""

    retries_client_errors: ClassVar[bool] = True  # retries 403; falls back on 400/401/404
    retries_cut_stream: ClassVar[bool] = False
    sleeps_after_last_attempt: ClassVar[bool] = True
    falls_back_on_any_error: ClassVar[bool] = True
    min_wait_s: float = 0.0  # the Router's ``retry_after``

    def should_retry(self, outcome: Outcome) -> bool:
        if is_cut_stream(outcome):
            return False
        s = effective_status(outcome)
        return s == 0 or s in _RETRIED_4XX or s >= 500

    def waits_retry_after(self, s: RetryState) -> bool:
        ra = s.outcome.retry_after_s
        return ra is not None and 0 < whole_seconds(ra) <= MAX_RETRY_AFTER

    def __call__(self, s: RetryState) -> float:
        jitter = JITTER * s.rng.random()
        if self.waits_retry_after(s):
            return whole_seconds(s.outcome.retry_after_s or 0.0) + jitter
        backoff = max(INITIAL_RETRY_DELAY * 2.0 ** min(s.n, 1000), self.min_wait_s)
        return min(backoff, MAX_RETRY_DELAY) + jitter


def _cooldown_required(outcome: Outcome) -> bool:
    s = effective_status(outcome)
    if s == 0:
        return outcome.error != "connection"  # "APIConnectionError" never cools; a timeout does
    if 400 <= s < 500:
        return s in _COOLDOWN_4XX
    return True


@dataclass(slots=True)
class _Counter:
    """A cache counter with a TTL: ``fixed`` keeps the expiry of its first increment (the
    Rust core's allowed-fails counter), otherwise each increment renews it (InMemoryCache)."""

    ttl_s: float
    fixed: bool
    count: int = 0
    expires: float = float("-inf")

    def read(self, now: float) -> int:
        return self.count if now < self.expires else 0

    def add(self, now: float) -> int:
        if now >= self.expires:
            self.count, self.expires = 0, now + self.ttl_s
        elif not self.fixed:
            self.expires = now + self.ttl_s
        self.count += 1
        return self.count


@dataclass(slots=True)
class _Deployment:
    fails: _Counter
    successes: _Counter
    allowed_fails: _Counter
    cooled_until: float = float("-inf")


@dataclass(slots=True)
class RouterCooldowns:
    """Which deployments are cooling down: one per strategy, shared by its requests.

    Only a group with a fallback group can be cooled by ``allowed_fails`` (:meth:`has_fallback`).
    Call :meth:`admit` before an attempt and :meth:`record` after it.
    """

    allowed_fails: int | None
    cooldown_time_s: float
    fallback_models: frozenset[str] = frozenset()
    has_fallbacks: bool = False
    _deployments: dict[str, _Deployment] = field(default_factory=dict)

    def has_fallback(self, model: str) -> bool:
        """The requested model's group has the strategy's fallbacks; a fallback model has none."""
        return self.has_fallbacks and model not in self.fallback_models

    def _deployment(self, model: str) -> _Deployment:
        d = self._deployments.get(model)
        if d is None:
            d = self._deployments[model] = _Deployment(
                fails=_Counter(FAILURE_WINDOW_S, fixed=False),
                successes=_Counter(FAILURE_WINDOW_S, fixed=False),
                allowed_fails=_Counter(self.cooldown_time_s, fixed=True),
            )
        return d

    def cooling(self, model: str, now: float) -> bool:
        d = self._deployments.get(model)
        return d is not None and now < d.cooled_until

    def admit(self, model: str, now: float) -> str | None:
        """None to go ahead, ``"cooldown"`` while the deployment cools down."""
        return "cooldown" if self.cooling(model, now) else None

    def record(self, model: str, outcome: Outcome) -> None:
        d, now = self._deployment(model), outcome.now
        if outcome.ok and outcome.error is None:
            d.successes.add(now)
            return
        d.fails.add(now)
        if not _cooldown_required(outcome) or not self._should_cool(model, d, outcome):
            return
        ra = outcome.retry_after_s
        length = whole_seconds(ra) if ra is not None and ra >= 0 else self.cooldown_time_s
        if length > 0:
            d.cooled_until = max(d.cooled_until, now + length)

    def _should_cool(self, model: str, d: _Deployment, outcome: Outcome) -> bool:
        if self.allowed_fails is not None:
            if not self.has_fallback(model):
                return False  # a lone deployment
            return d.allowed_fails.add(outcome.now) > self.allowed_fails
        now = outcome.now
        fails, total = d.fails.read(now), d.fails.read(now) + d.successes.read(now)
        if fails == total and total >= SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD:
            return True
        return effective_status(outcome) in _REJECTED_BY_SHOULD_RETRY
