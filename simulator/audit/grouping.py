"""Attempts into logical requests: which journal entries were one request's retries.

Theory of operation
-------------------
The journal holds attempts; a client's retry behaviour is a property of logical requests, so
the audit first rebuilds them. The rules, in order:

1. A reset line (``/_stampede/reset``) starts a new run: no request spans one. Only chat
   attempts count (``/v1/chat/completions``, ``/v1/responses``, ``/v1/messages``).
2. Attempts are read in order of arrival. Two attempts can belong to one logical request
   only if they come from the same key with the same prompt (the journal's fingerprint of
   the messages, which leaves out the model: a fallback to another model with the same
   messages continues the request).
3. **A retry-count header above 0 is the SDK's own retry** (``x-stainless-retry-count``, as
   the openai and anthropic SDKs send it): ``n`` continues the request of that key and prompt
   whose last attempt carried ``n - 1`` and had ended before this one arrived (the latest
   such, if several).
4. Otherwise (no header, or ``0``) an attempt continues a request only if that request's last
   attempt had *ended* before this one arrived, *failed* (not a complete 2xx answer), and was
   not already continued, and the gap is at most :data:`MAX_RETRY_GAP_S`; of several, the one
   that ended last. Everything else starts a new logical request. A ``0`` is not taken as
   "new": a wrapper around the SDK (tenacity, LangChain's ``with_retry``, a LiteLLM router)
   retries by calling the SDK again, whose count starts at 0 each time.

Rule 4 is why independent requests with identical bodies are not taken for retries: under
load, identical requests overlap in time, and an attempt that arrives while the other is
still in flight cannot be its retry. Forty identical one-shot requests sent at once are forty
logical requests, whatever their statuses. What the journal cannot tell apart, and is read
as a retry: one key sending an identical body right after an identical body failed, which is
what a retry looks like on the wire. (Stampede's own workloads never send two logical
requests the same prompt: each carries its request tag.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from mock_provider.dialects import DIALECTS
from mock_provider.journal import RESET_PATH, JournalEntry

__all__ = [
    "CHAT_PATHS",
    "MAX_RETRY_GAP_S",
    "TRUNCATING_FAULTS",
    "LogicalRequest",
    "arrival",
    "complete",
    "group_requests",
]

CHAT_PATHS = frozenset(d.chat_path for d in DIALECTS.values())  # the journal's chat attempts
MAX_RETRY_GAP_S = 300.0  # longer than any library's backoff cap (LiteLLM, tenacity: 60 s)
TRUNCATING_FAULTS = frozenset({"cut_stream", "stream_error", "reset", "malformed"})
_EPS = 1e-6


def arrival(e: JournalEntry) -> float:
    return e.start_t if e.start_t is not None else e.t


def complete(e: JournalEntry) -> bool:
    """A whole answer: a 2xx the client read to its end, not cut by a fault."""
    return 200 <= e.status < 300 and not e.disconnected and e.fault not in TRUNCATING_FAULTS


def _count(e: JournalEntry) -> int | None:
    try:
        return int(e.retry_count) if e.retry_count is not None else None
    except ValueError:
        return None


@dataclass
class LogicalRequest:
    """One logical request as the audit rebuilt it: its attempts in order, in one run."""

    run: int  # which reset's run (0: before any reset)
    attempts: list[JournalEntry] = field(default_factory=list)
    continued: bool = False  # its last attempt has been followed by another

    @property
    def first(self) -> JournalEntry:
        return self.attempts[0]

    @property
    def last(self) -> JournalEntry:
        return self.attempts[-1]

    @property
    def retries(self) -> int:
        return len(self.attempts) - 1

    @property
    def succeeded(self) -> bool:
        return complete(self.last)


def group_requests(entries: Iterable[JournalEntry]) -> list[LogicalRequest]:
    """The logical requests of ``entries`` (a journal, in file order), by the rules above."""
    run = 0
    runs: dict[int, list[JournalEntry]] = defaultdict(list)
    for e in entries:
        if e.path == RESET_PATH:
            run += 1
        elif e.path in CHAT_PATHS:
            runs[run].append(e)
    out: list[LogicalRequest] = []
    for n in sorted(runs):
        out += _group_run(n, sorted(runs[n], key=lambda e: (arrival(e), e.t)))
    return out


def _group_run(run: int, entries: list[JournalEntry]) -> list[LogicalRequest]:
    requests: list[LogicalRequest] = []
    open_by_id: dict[tuple[str | None, str | None], list[LogicalRequest]] = defaultdict(list)
    for e in entries:
        ident = (e.key, e.prompt or e.tag)
        t = arrival(e)
        count = _count(e)
        pending = open_by_id[ident]
        if len(pending) > 64:  # keep the scan short: drop what nothing can continue now
            pending[:] = [r for r in pending if not r.continued and t - r.last.t <= MAX_RETRY_GAP_S]
        candidates = [
            r
            for r in pending
            if not r.continued and r.last.t <= t + _EPS and t - r.last.t <= MAX_RETRY_GAP_S
        ]
        if count:  # the SDK's own retry number n: the attempt that carried n - 1
            chosen = _latest([r for r in candidates if _count(r.last) == count - 1])
        else:
            chosen = _latest([r for r in candidates if not complete(r.last)])
        if chosen is None:
            chosen = LogicalRequest(run)
            requests.append(chosen)
            pending.append(chosen)
        else:
            chosen.continued = False
        chosen.attempts.append(e)
        if complete(e):
            chosen.continued = True  # answered: nothing continues it
    return requests


def _latest(requests: list[LogicalRequest]) -> LogicalRequest | None:
    return max(requests, key=lambda r: r.last.t) if requests else None
