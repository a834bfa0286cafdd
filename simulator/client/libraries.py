"""Real client libraries' retry behaviour, modelled by name, sans I/O.

Each model answers two questions the way its library does, and nothing else: *may this failure
be retried at all?* (:meth:`should_retry`) and *how long to wait before retry n?*
(``__call__``, a wait strategy of :class:`~simulator.client.policies.RetryState`, drawing only
from the state's seeded ``rng``). How many attempts is the config's business (``max_attempts``
defaults to each library's own); the LiteLLM Router, which also keeps state across requests,
lives in :mod:`simulator.client.litellm_router`.

Properties the client brain reads, one per model (class attributes, documented on each):

- ``retries_client_errors``: the library may send another attempt after a 400, 401, 403 or
  404. The idealised kinds never do (``NEVER_RETRY``); a library that does is modelled doing
  it, because finding that flaw before launch is the point.
- ``retries_cut_stream``: a stream that broke after its 200 is retried. The SDKs hand the
  stream to the caller before the body arrives, so their retry loop never sees the cut.
- ``sleeps_after_last_attempt`` / ``falls_back_on_any_error``: LiteLLM's quirks (see there).

The versions named in each docstring are the ones read and checked: the ``openai``, ``anthropic``,
``tenacity`` and ``langchain-core`` of the dev extra, compared case by case with the libraries'
own retry loops in ``tests/test_library_sdks.py`` and ``tests/test_library_wrappers.py``,
which fail naming the change when a new version behaves differently. The Vercel AI SDK is
JavaScript and is modelled from its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from simulator.client.events import Outcome
from simulator.client.outcomes import effective_status

if TYPE_CHECKING:  # policies imports this module
    from simulator.client.policies import RetryState

__all__ = [
    "AnthropicSDK",
    "LangChainWithRetry",
    "LibraryRetry",
    "OpenAISDK",
    "TenacityCookbook",
    "VercelAISDK",
    "is_cut_stream",
]


class LibraryRetry(Protocol):
    """What the client brain needs from a library model."""

    retries_client_errors: ClassVar[bool]
    retries_cut_stream: ClassVar[bool]
    sleeps_after_last_attempt: ClassVar[bool]
    falls_back_on_any_error: ClassVar[bool]

    def should_retry(self, outcome: Outcome) -> bool: ...
    def waits_retry_after(self, s: RetryState) -> bool: ...
    def __call__(self, s: RetryState) -> float: ...


def is_cut_stream(outcome: Outcome) -> bool:
    """A 2xx whose body broke off: the status arrived, the rest did not."""
    return outcome.ok and outcome.error is not None


def _status_rule(outcome: Outcome) -> bool:
    """The retryable set the Stainless SDKs and the Vercel AI SDK share: no response at all
    (connection error, timeout), 408, 409, 429 and every 5xx."""
    s = effective_status(outcome)
    return s == 0 or s in (408, 409, 429) or s >= 500


class _NoQuirks:
    sleeps_after_last_attempt: ClassVar[bool] = False
    falls_back_on_any_error: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class OpenAISDK(_NoQuirks):
    """openai-python 3.57.0, ``openai/_base_client.py`` (``_should_retry``,
    ``_calculate_retry_timeout``) and ``_constants.py``.

    - Retries connection errors and timeouts always; a response when ``x-should-retry`` says
      so, else on 408, 409, 429 and >= 500.
    - A Retry-After (``retry-after-ms``, then ``retry-after`` in seconds or as an HTTP date)
      above ``MAX_RETRY_AFTER_DELAY`` (120 s) stops the retries outright, even on a 429,
      before ``x-should-retry`` is read.
    - Waits the Retry-After when ``0 < v <= 120``, else ``min(0.5 * 2**n, 8) * (1 - 0.25 U)``.
    - ``max_retries`` 2: three attempts. Default timeout 600 s, connect 5 s.
    """

    retries_client_errors: ClassVar[bool] = False  # unless x-should-retry: true says so
    retries_cut_stream: ClassVar[bool] = False
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 120.0

    def should_retry(self, outcome: Outcome) -> bool:
        if is_cut_stream(outcome):
            return False
        if effective_status(outcome) == 0:
            return True
        ra = outcome.retry_after_s
        if ra is not None and ra > self.max_retry_after_s:
            return False
        if outcome.should_retry is not None:
            return outcome.should_retry
        return _status_rule(outcome)

    def waits_retry_after(self, s: RetryState) -> bool:
        ra = s.outcome.retry_after_s
        return ra is not None and 0 < ra <= self.max_retry_after_s

    def __call__(self, s: RetryState) -> float:
        if self.waits_retry_after(s):
            return s.outcome.retry_after_s or 0.0
        backoff = min(self.initial_delay_s * 2.0 ** min(s.n, 1000), self.max_delay_s)
        return backoff * (1 - 0.25 * s.rng.random())


@dataclass(frozen=True, slots=True)
class AnthropicSDK(_NoQuirks):
    """anthropic-sdk-python 2.15.0, ``anthropic/_base_client.py`` and ``_constants.py``.

    The same Stainless loop as openai's, with one difference that matters under load: it has
    no Retry-After ceiling. Any ``v > 0`` is waited (capped only at 4,294,967 s, the platform
    sleep limit), however long, and never stops the retries.

    - Retries connection errors and timeouts always; a response when ``x-should-retry`` says
      so, else on 408, 409, 429 and >= 500 (529 "overloaded" included).
    - Else ``min(0.5 * 2**n, 8) * (1 - 0.25 U)``. ``max_retries`` 2. Timeout 600 s, connect 5 s.
    """

    retries_client_errors: ClassVar[bool] = False  # unless x-should-retry: true says so
    retries_cut_stream: ClassVar[bool] = False
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    longest_sleep_s: float = 4_294_967.0

    def should_retry(self, outcome: Outcome) -> bool:
        if is_cut_stream(outcome):
            return False
        if effective_status(outcome) == 0:
            return True
        if outcome.should_retry is not None:
            return outcome.should_retry
        return _status_rule(outcome)

    def waits_retry_after(self, s: RetryState) -> bool:
        ra = s.outcome.retry_after_s
        return ra is not None and ra > 0

    def __call__(self, s: RetryState) -> float:
        if self.waits_retry_after(s):
            return min(s.outcome.retry_after_s or 0.0, self.longest_sleep_s)
        backoff = min(self.initial_delay_s * 2.0 ** min(s.n, 1000), self.max_delay_s)
        return backoff * (1 - 0.25 * s.rng.random())


@dataclass(frozen=True, slots=True)
class LangChainWithRetry(_NoQuirks):
    """langchain-core 1.8.3 ``Runnable.with_retry()`` with its defaults
    (``langchain_core/runnables/retry.py``), over tenacity 9.2.1.

    - ``retry_if_exception_type=(Exception,)``: every failure is retried, a 400, 401, 403 or
      404 too, because the wrapped client raises for them. Retry-After is never read.
    - ``wait_exponential_jitter()`` defaults: ``2**n + U(0, 1)`` s, no cap worth the name.
    - ``stop_after_attempt=3``.
    - A cut stream is retried: ``invoke`` consumes the stream inside the retried call.

    This is the ``with_retry`` layer over a client that does not retry itself
    (``ChatOpenAI(max_retries=0)``). ``ChatOpenAI``'s default leaves the SDK's own two retries
    on underneath, so each of these attempts would be up to three HTTP calls.
    """

    retries_client_errors: ClassVar[bool] = True
    retries_cut_stream: ClassVar[bool] = True

    def should_retry(self, outcome: Outcome) -> bool:
        return True

    def waits_retry_after(self, s: RetryState) -> bool:
        return False

    def __call__(self, s: RetryState) -> float:
        # tenacity: max(0, min(1 * 2**(attempt_number - 1) + uniform(0, 1), MAX_WAIT))
        return 2.0 ** min(s.n, 1000) + s.rng.uniform(0.0, 1.0)


@dataclass(frozen=True, slots=True)
class TenacityCookbook(_NoQuirks):
    """The OpenAI cookbook's "How to handle rate limits" decorator, on tenacity 9.2.1
    (``tenacity/wait.py`` ``wait_random_exponential``)::

        @retry(wait=wait_random_exponential(min=1, max=60), stop=stop_after_attempt(6))
        def completion_with_backoff(**kwargs):
            return client.chat.completions.create(**kwargs)

    - No ``retry=`` argument, so every exception is retried; the openai SDK raises for every
      4xx, so 400, 401, 403 and 404 are retried five times. Retry-After is never read.
    - Wait before retry n (0-based): ``U(1, max(1, min(2**n, 60)))``: exactly 1 s first.
    - ``create`` returns a stream before its body arrives, so a cut stream is not retried.

    The layer over a client that does not retry itself (``OpenAI(max_retries=0)``); the
    cookbook's ``OpenAI()`` keeps the SDK's two retries underneath each attempt.
    """

    retries_client_errors: ClassVar[bool] = True
    retries_cut_stream: ClassVar[bool] = False
    min_s: float = 1.0
    max_s: float = 60.0

    def should_retry(self, outcome: Outcome) -> bool:
        return not is_cut_stream(outcome)

    def waits_retry_after(self, s: RetryState) -> bool:
        return False

    def __call__(self, s: RetryState) -> float:
        high = max(self.min_s, min(2.0 ** min(s.n, 1000), self.max_s))
        return s.rng.uniform(self.min_s, high)


@dataclass(frozen=True, slots=True)
class VercelAISDK(_NoQuirks):
    """The Vercel AI SDK (``ai`` 6.0, JavaScript, not installable here), modelled from
    vercel/ai ``packages/ai/src/util/retry-with-exponential-backoff.ts`` (commit 0530ac3),
    ``packages/provider/src/errors/api-call-error.ts`` and
    ``packages/provider-utils/src/handle-fetch-error.ts``.

    - ``maxRetries`` 2 (three attempts), first wait 2000 ms, factor 2, no jitter: every
      client that failed together retries together.
    - ``APICallError.isRetryable``: 408, 409, 429, >= 500, and a failed fetch (connection
      refused or dropped, undici's 300 s header/body timeouts). An abort is never retried.
    - Retry-After: ``retry-after-ms``, then ``retry-after`` (seconds or a date), waited when
      ``0 <= v < 60 s`` or shorter than the current backoff; else the backoff. The backoff
      doubles whether or not the header was used.
    - Only the request is retried: a stream that breaks later is the caller's problem.
    """

    retries_client_errors: ClassVar[bool] = False
    retries_cut_stream: ClassVar[bool] = False
    initial_delay_s: float = 2.0
    factor: float = 2.0
    max_retry_after_s: float = 60.0

    def should_retry(self, outcome: Outcome) -> bool:
        return not is_cut_stream(outcome) and _status_rule(outcome)

    def _backoff(self, n: int) -> float:
        return self.initial_delay_s * self.factor ** min(n, 1000)

    def waits_retry_after(self, s: RetryState) -> bool:
        ra = s.outcome.retry_after_s
        if ra is None or ra < 0:
            return False
        return ra < self.max_retry_after_s or ra < self._backoff(s.n)

    def __call__(self, s: RetryState) -> float:
        if self.waits_retry_after(s):
            return s.outcome.retry_after_s or 0.0
        return self._backoff(s.n)
