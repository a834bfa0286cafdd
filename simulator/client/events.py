"""The vocabulary between the client brain and its drivers.

Theory of operation: a logical request is a generator. It yields :class:`Send` (make one HTTP
attempt) or :class:`Sleep` (wait, in scenario seconds). The driver answers a ``Send`` with an
:class:`Outcome` and a ``Sleep`` with a :class:`Woke`; both carry ``now`` in scenario seconds,
which is the only clock the brain ever sees. The generator finally returns a
:class:`RequestResult`. Each attempt's cost is priced once, by the brain, and handed to the
driver with the next event (``charged_usd``) or, for the last attempt, the result: a driver
records it and never prices an attempt again. Events are immutable, typed and free of
behaviour (the h11 style).

They are ``NamedTuple``s rather than frozen slotted dataclasses: the live driver builds four
of them per logical request, and a tuple is several times cheaper to create than a frozen
dataclass (whose ``__init__`` goes through ``object.__setattr__`` once per field). Compare
events of the same type only: like any tuple, ``Woke(1.0) == (1.0,)``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "CLIENT_FAULTS",
    "AttemptSpec",
    "Event",
    "Outcome",
    "Reply",
    "RequestResult",
    "Send",
    "Sleep",
    "Woke",
]


class AttemptSpec(NamedTuple):
    """One HTTP call the driver must make."""

    attempt: int  # 1-based number of this attempt within its logical request
    model: str
    dialect: str  # "openai" | "anthropic": which wire format to speak
    messages: tuple[tuple[str, str], ...]  # (role, content)
    max_tokens: int | None
    stream: bool
    input_tokens: int  # counted client-side with tiktoken
    connect_timeout_s: float
    read_timeout_s: float
    api_key: str
    # What is left of the logical request's total timeout when this attempt starts: an
    # attempt still running then is given up, as a client's overall deadline does.
    total_timeout_s: float = float("inf")


class Send(NamedTuple):
    attempt: AttemptSpec
    slept_s: float = 0.0  # how long the brain waited before this attempt
    charged_usd: float = 0.0  # what the attempt answered just before cost (0: none was)


class Sleep(NamedTuple):
    seconds: float
    reason: str = "backoff"  # "backoff" | "retry_after" | "throttle"
    charged_usd: float = 0.0  # what the attempt answered just before cost (0: none was)


class Outcome(NamedTuple):
    """What one attempt produced. ``status`` 0 means no HTTP status (timeout, dropped)."""

    now: float
    status: int
    # The provider's error code or type, or what broke on the way: "timeout", "connection"
    # (reset, closed with no response), "stream_cut" (a stream ended with no final event),
    # "malformed" (a body or SSE line that is not JSON). See :attr:`fault`.
    error: str | None = None
    retry_after_s: float | None = None  # scenario seconds, from retry-after-ms or retry-after
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str | None = None
    ttft_s: float | None = None
    latency_s: float = 0.0
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    should_retry: bool | None = None  # the server's x-should-retry header, when it sent one
    plan_s: float | None = None  # the latency the provider planned (a live mock says it)
    # Prompt tokens written to an explicit (Anthropic) prompt cache, part of input_tokens:
    # billed above the base input price, so the cost needs them.
    cache_write_tokens: int = 0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def fault(self) -> str | None:
        """How the attempt broke, as the client saw it, when it broke rather than being
        refused: ``connection``, ``timeout``, ``stream_cut``, ``malformed``, or
        ``stream_error`` (an error event after a 200). None for an answer or an error status.
        """
        error = self.error
        if error is None or (self.status and not 200 <= self.status < 300):
            return None
        return error if error in CLIENT_FAULTS else "stream_error"


# What a broken attempt's ``error`` says (see Outcome.fault); any other error on a 200 is an
# error event in the stream.
CLIENT_FAULTS = frozenset({"connection", "timeout", "stream_cut", "malformed"})


class Woke(NamedTuple):
    now: float


Event = Send | Sleep
Reply = Outcome | Woke


class RequestResult(NamedTuple):
    """How a logical request ended."""

    success: bool
    model: str | None  # the model that answered (or was last tried)
    attempts: int
    fallback_used: str | None  # the serving model when it is not the first in the chain
    error: str | None  # None on success; else the last error or a local refusal reason
    cost_usd: float
    slept_s: float
    final: Outcome | None  # the last outcome, None when refused before any attempt
    charged_usd: float = 0.0  # the cost of the attempt answered last, if no event carried it
    # Why a request that did not succeed stopped (see simulator/client/engine.py); None on
    # success, or when the run cut it short.
    gave_up: str | None = None
