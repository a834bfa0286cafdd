"""Attempts into logical requests: which journal entries were one request's retries.

Theory of operation
-------------------
The journal holds attempts; a client's retry behaviour is a property of logical requests, so
the audit first rebuilds them. It reads the evidence the real clients put on the wire, strongest
first, and falls back to timing only where a client gives none:

- **The retry-count header.** The openai and anthropic SDKs (Python and JS; LiteLLM and
  LangChain call them) send ``x-stainless-retry-count``: ``0`` on a call's first attempt, ``n``
  on its n-th retry. Neither sends an idempotency key (``_idempotency_header`` is ``None``), so
  the count is the only per-call evidence they give.
- **The request tag** (``#000000042``): stampede's workloads put one in every user message,
  unique per logical request, so equal tags are one request whatever the key, model or wire
  format (a fallback to another provider keeps it).
- **Key and prompt.** Otherwise two attempts can be one request only if they share the API key
  and the prompt fingerprint (the messages, without the model: a fallback keeps them).
- **Timing.** A client resends only what has ended: an attempt cannot be the retry of one still
  in flight. And a body that two attempts carried *at once* is being sent by more than one
  sender, so sending it again later proves nothing.

The rules, for each attempt in order of arrival (a reset line starts a new run; only chat
paths count). The *open* requests of its identity are those whose last attempt failed (not a
complete 2xx answer), arrived before it, and ended at most :data:`MAX_RETRY_GAP_S` earlier.
Under rules 2 and 3, where no count says "retry", the gap must also be one a backoff makes:
at most :data:`RETRY_GAP_S` (the cap of tenacity's and LiteLLM's backoff) plus the
Retry-After it was given, or 2.5 times the request's previous gap (an exponential backoff with
no cap goes on growing, and the audit reports retries long after an outage). An identical
body later than that is another user asking the same thing.

1. **Count n > 0: the SDK's own retry.** It continues the open request whose last attempt
   carried ``n - 1``; of several, the one whose SDK wait ends around this arrival (the SDKs
   wait the Retry-After they were given, else ``min(0.5 * 2**k, 8)`` s less up to a quarter),
   earliest deadline first. With no ``n - 1`` to hand (the journal missed it), the open
   request that ended last.
2. **Count 0 starts a new request**, except where the SDK handed the failure back to its
   caller and the caller sent the same thing again: a wrapper's retry (tenacity, LangChain's
   ``with_retry``, a LiteLLM router) starts the SDK's count at 0 again. That is read only when
   the open request's last attempt carried a count and either (a) the SDK does not retry what
   it got (a 400, 401, 403, 404, 413, 422, a cut or malformed 200), (b) the SDK had already
   retried it (its count was above 0, so the SDK gave up), (c) the new attempt names another
   model (a fallback), or (d) both carry the same request tag. A 429 or 5xx at count 0 is one
   the SDK would have retried itself with count 1, so an identical count-0 attempt after it
   is another caller: thirty users sending one body at once are thirty requests.
3. **No count (curl, requests, httpx, any other language):** it continues the open request,
   itself sent without a count, that ended last before it arrived.
4. **Shared bodies.** Under rules 2 and 3 (not for a tag), if another attempt of the same
   identity, sent before this one, was in flight at any time since the chosen request's first
   arrival, several senders are sending this body, and the attempt starts a new request.

What the journal cannot tell apart, and how it is read: one key sending an identical body,
with no count, right after that body failed, with no other copy in flight in between: a
retry (``bench/audit_accuracy.py`` measures the rules on labelled journals). A wrapper that
retries a 429 around an SDK with ``max_retries=0`` and no request tag looks like new
requests (rule 2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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
    "group_requests_reference",
    "sdk_retries",
]

CHAT_PATHS = frozenset(d.chat_path for d in DIALECTS.values())  # the journal's chat attempts
MAX_RETRY_GAP_S = 300.0  # longer than any library's backoff cap (LiteLLM, tenacity: 60 s)
RETRY_GAP_S = 60.0  # rules 2 and 3: tenacity's and LiteLLM's backoff cap, + Retry-After
SEND_S = 0.05  # from the answer's end to the retry's arrival, beyond the SDK's wait
SDK_MAX_RETRY_AFTER_S = 120.0  # the openai SDK waits a Retry-After up to this (anthropic: 60)
TRUNCATING_FAULTS = frozenset({"cut_stream", "stream_error", "reset", "malformed"})
SLACK_S = 0.002  # the journal's times are rounded to the microsecond and read by one clock
_SDK_RETRIED_STATUSES = frozenset({408, 409, 429})  # and every 5xx (openai, anthropic SDKs)


def arrival(e: JournalEntry) -> float:
    return e.start_t if e.start_t is not None else e.t


def complete(e: JournalEntry) -> bool:
    """A whole answer: a 2xx the client read to its end, not cut by a fault."""
    return 200 <= e.status < 300 and not e.disconnected and e.fault not in TRUNCATING_FAULTS


def sdk_retries(e: JournalEntry) -> bool:
    """Whether the openai and anthropic SDKs retry this outcome themselves: 408, 409, 429,
    5xx, a timeout (the client went away; a hang), or a connection closed before the status
    line (journalled as status 0). Not a stream cut or reset after its first bytes."""
    if e.status in _SDK_RETRIED_STATUSES or e.status >= 500 or e.disconnected:
        return True
    return e.status == 0 or e.fault == "hang"


def _count(e: JournalEntry) -> int | None:
    try:
        return int(e.retry_count) if e.retry_count is not None else None
    except ValueError:
        return None


def _identity(e: JournalEntry) -> tuple[str | None, ...]:
    return ("tag", e.tag) if e.tag else ("prompt", e.key, e.prompt)


@dataclass
class LogicalRequest:
    """One logical request as the audit rebuilt it: its attempts in order, in one run."""

    run: int  # which reset's run (0: before any reset)
    attempts: list[JournalEntry] = field(default_factory=list)

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
    """Rules 1-4 over one run's attempts (in order of arrival), by :func:`continues`.

    Fast where a reading of every earlier request would be slow (thousands of copies of one
    body, refused, in a load test): for an untagged attempt under rules 2 and 3, only the
    request owning the identity's latest-ending attempt can be continued (any other is shared
    with it, rule 4), and rule 4 needs only the latest-ending attempt outside that request.
    :func:`group_requests_reference` reads everything; a test checks that they agree.
    """
    requests: list[LogicalRequest] = []
    identities: dict[tuple[str | None, ...], _Identity] = defaultdict(_Identity)
    for e in entries:
        ident = identities[_identity(e)]
        n = _count(e)
        if e.tag or (n is not None and n > 0):
            ident.prune(arrival(e))
            chosen = continues(e, ident.open, ())
        else:
            latest, outside = ident.latest
            chosen = continues(
                e,
                [latest[1]] if latest else [],
                [outside[0]] if outside else [],
            )
        if chosen is None:
            chosen = LogicalRequest(run)
            requests.append(chosen)
        ident.add(e, chosen)
    return requests


class _Identity:
    """One identity's open requests, and its two latest-ending attempts of distinct requests."""

    __slots__ = ("latest", "open", "pruned_at")

    def __init__(self) -> None:
        self.open: list[LogicalRequest] = []
        self.pruned_at = 0
        self.latest: tuple[
            tuple[JournalEntry, LogicalRequest] | None, tuple[JournalEntry, LogicalRequest] | None
        ] = (None, None)

    def add(self, e: JournalEntry, r: LogicalRequest) -> None:
        if not r.attempts:
            self.open.append(r)
        r.attempts.append(e)
        first, second = self.latest
        pairs = [p for p in (first, second) if p is not None and p[1] is not r]
        mine = max([p for p in (first, second) if p is not None and p[1] is r] + [(e, r)],
                   key=lambda p: p[0].t)  # fmt: skip
        ranked = sorted([mine, *pairs], key=lambda p: p[0].t, reverse=True)[:2]
        self.latest = (ranked[0], ranked[1] if len(ranked) > 1 else None)

    def prune(self, t: float) -> None:
        """Drop what nothing can continue, when the list has doubled since the last time."""
        if len(self.open) <= 2 * self.pruned_at + 32:
            return
        horizon = t - MAX_RETRY_GAP_S
        self.open = [r for r in self.open if not complete(r.last) and r.last.t >= horizon]
        self.pruned_at = len(self.open)


def group_requests_reference(entries: Iterable[JournalEntry]) -> list[LogicalRequest]:
    """:func:`group_requests` read plainly: every attempt is offered every earlier request of
    its identity, and every earlier attempt for rule 4 (quadratic; for the agreement test)."""
    run = 0
    runs: dict[int, list[JournalEntry]] = defaultdict(list)
    for e in entries:
        if e.path == RESET_PATH:
            run += 1
        elif e.path in CHAT_PATHS:
            runs[run].append(e)
    out: list[LogicalRequest] = []
    for n in sorted(runs):
        chains: dict[tuple[str | None, ...], list[LogicalRequest]] = defaultdict(list)
        seen: dict[tuple[str | None, ...], list[JournalEntry]] = defaultdict(list)
        for e in sorted(runs[n], key=lambda e: (arrival(e), e.t)):
            key = _identity(e)
            chosen = continues(e, chains[key], seen[key])
            if chosen is None:
                chosen = LogicalRequest(n)
                chains[key].append(chosen)
                out.append(chosen)
            chosen.attempts.append(e)
            seen[key].append(e)
    return out


def continues(
    e: JournalEntry, requests: Sequence[LogicalRequest], seen: Sequence[JournalEntry]
) -> LogicalRequest | None:
    """The request among ``requests`` (of ``e``'s identity) that ``e`` continues, or None for a
    new one; ``seen``: the identity's earlier attempts (for rule 4). Rules 1-4 above."""
    t = arrival(e)
    n = _count(e)
    open_ = [
        r
        for r in requests
        if not complete(r.last) and arrival(r.last) < t and t - r.last.t <= MAX_RETRY_GAP_S
    ]
    ended = [r for r in open_ if r.last.t <= t + SLACK_S]
    if n is not None and n > 0:  # rule 1
        counted = [r for r in open_ if _count(r.last) == n - 1]
        if counted:
            return _sdk_predecessor(t, counted)
        return _latest(ended)
    ended = [r for r in ended if t - r.last.t <= _backoff_gap(r)]
    if n == 0:  # rule 2
        ended = [r for r in ended if _handed_back(r.last, e)]
    else:  # rule 3
        ended = [r for r in ended if _count(r.last) is None]
    chosen = _latest(ended)
    if chosen is None or e.tag:
        return chosen
    return None if _shared(chosen, seen) else chosen  # rule 4


def _handed_back(last: JournalEntry, e: JournalEntry) -> bool:
    """Rule 2: the SDK gave ``last``'s failure back to its caller, who sent ``e`` (count 0)."""
    count = _count(last)
    if count is None:
        return False
    if e.tag and e.tag == last.tag:
        return True
    return count > 0 or not sdk_retries(last) or e.model != last.model


def _backoff_gap(r: LogicalRequest) -> float:
    """The longest gap after ``r``'s last attempt that rules 2 and 3 read as a backoff."""
    gap = RETRY_GAP_S + (r.last.retry_after_s or 0.0)
    if len(r.attempts) > 1:
        gap = max(gap, 2.5 * (arrival(r.last) - r.attempts[-2].t))
    return gap


def _shared(r: LogicalRequest, seen: Sequence[JournalEntry]) -> bool:
    """Rule 4: another attempt of this identity, sent before this one, was in flight while
    ``r`` was (it ended at or after ``r``'s first arrival)."""
    mine = {id(a) for a in r.attempts}
    start = arrival(r.first)
    return any(id(a) not in mine and a.t >= start for a in seen)


def _sdk_window(last: JournalEntry) -> tuple[float, float]:
    """When the SDKs send the retry after ``last``: its Retry-After (0 < v <= 120 s) after it
    ended, else ``min(0.5 * 2**k, 8) * (1 - 0.25 U)`` s (k: retries taken, U in [0, 1))."""
    ra = last.retry_after_s
    if ra is not None and 0 < ra <= SDK_MAX_RETRY_AFTER_S:
        return last.t + ra, last.t + ra
    base = min(0.5 * 2.0 ** min(_count(last) or 0, 16), 8.0)
    return last.t + 0.75 * base, last.t + base


def _sdk_predecessor(t: float, requests: Sequence[LogicalRequest]) -> LogicalRequest:
    """Rule 1's choice among requests whose last attempt carried ``n - 1``: of those whose
    SDK wait window holds ``t`` (the client's send takes a little longer), the one whose window
    closes first, as earliest-deadline-first matches the most retries to windows; if none
    holds it, the one whose window is nearest."""
    windows = [(r, *_sdk_window(r.last)) for r in requests]
    fits = [(hi, i) for i, (_, lo, hi) in enumerate(windows) if lo - SLACK_S <= t <= hi + SEND_S]
    if fits:
        return windows[min(fits)[1]][0]
    return min(windows, key=lambda w: min(abs(t - w[1]), abs(t - w[2])))[0]


def _latest(requests: Sequence[LogicalRequest]) -> LogicalRequest | None:
    return max(requests, key=lambda r: r.last.t) if requests else None
