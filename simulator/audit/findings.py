"""Judge a client from the mock's request journal: pure functions, no I/O.

Theory of operation
-------------------
:func:`audit` rebuilds the logical requests (:mod:`simulator.audit.grouping`), then measures
each behaviour the article and the issue name, as one :class:`Finding` each. A finding is

- ``pass``: the journal shows the behaviour, and it is right;
- ``fail``: the journal shows it, and it is wrong (the detail names the problem and counts);
- ``warn``: advice the journal cannot make a rule of (streaming is a latency choice);
- ``info``: a measurement with no rule (amplification, unless ``--thresholds`` sets one);
- ``not shown``: nothing in the journal could show it (no outage happened, so no fallback
  was needed; no stream was cut). Never a failure.

The definitions (times are the journal's scenario seconds; a *retry* is every attempt of a
logical request after its first, its *delay* the gap from the previous attempt's end to its
arrival):

- **amplification**: attempts / logical requests; **retry peak**: the most retries arriving
  in any one-second window.
- **jitter**: retries are grouped by their number (first retry, second, ...); a group of at
  least ``min_jitter_samples`` whose delays have a coefficient of variation (std / mean)
  under ``min_delay_cv``, or a mean under 10 ms (immediate retries), is not jittered.
  Retries that waited for a Retry-After are judged on what they added to it: when the spread of
  (delay - Retry-After) is under ``min_delay_cv`` of the mean delay, the clients came back in
  lockstep at the instant the header named. No group large enough: not shown.
- **retry-after**: a retry that arrived more than ``retry_after_slack_s`` before the
  Retry-After its previous attempt was given ended.
- **client errors**: a retry after a 400, 401, 403 or 404 (they fail the same way again).
- **outage**: on one model, at least ``min_outage_failures`` consecutive attempts (in order
  of arrival) that got a 5xx, from the first one's arrival to the last one's end. For the
  requests it struck: **fallback**, did any try another model; **retries after the outage**,
  how long after its end they still retried (fail past ``max_retry_tail_s``).
- **timeout**: an attempt the mock hung (fault ``hang``) that the client did not abandon.
- **truncated streams**: a stream cut by a fault that was its request's last attempt: the
  client accepted a partial answer.
- **token limits**: every logical request whose body the mock could read set ``max_tokens``.
- **streaming**: every logical request streamed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mock_provider.journal import RAW_PREFIX, JournalEntry
from simulator.audit.grouping import (
    TRUNCATING_FAULTS,
    LogicalRequest,
    arrival,
    group_requests,
)

__all__ = ["CHECKLIST", "Audit", "AuditLimits", "ChecklistItem", "Finding", "audit"]

Status = Literal["pass", "fail", "warn", "info", "not shown"]
CLIENT_ERRORS = frozenset({400, 401, 403, 404})

# The article's production checklist items the journal speaks to, and the findings under each.
CHECKLIST: dict[str, tuple[str, tuple[str, ...]]] = {
    "retry": (
        "Retry with exponential backoff and jitter",
        ("jitter", "retry_after", "client_errors", "after_outage", "timeout", "amplification"),
    ),
    "token_limits": ("Per-request token limits", ("token_limits",)),
    "fallback": ("At least one fallback model", ("fallback",)),
    "streaming": ("Streaming enabled", ("streaming", "truncated_streams")),
}


@dataclass(frozen=True)
class AuditLimits:
    """The rules' numbers; ``stampede audit --thresholds FILE`` may set any of them."""

    max_amplification: float | None = None  # None: amplification is reported, not judged
    min_delay_cv: float = 0.1
    min_jitter_samples: int = 5
    retry_after_slack_s: float = 0.05
    max_retry_tail_s: float = 60.0
    min_outage_failures: int = 3


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    status: Status
    value: str  # the measurement, short
    detail: str  # what was seen, in a sentence


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    title: str
    status: Status
    findings: tuple[str, ...]


@dataclass
class Audit:
    requests: int
    attempts: int
    runs: int
    findings: list[Finding] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.status != "fail" for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "requests": self.requests,
            "attempts": self.attempts,
            "runs": self.runs,
            "findings": [asdict(f) for f in self.findings],
            "checklist": [asdict(c) for c in self.checklist],
        }


def audit(entries: Iterable[JournalEntry], limits: AuditLimits | None = None) -> Audit:
    """Judge the client behind ``entries`` (a journal, in file order)."""
    lim = limits or AuditLimits()
    requests = group_requests(entries)
    result = Audit(
        requests=len(requests),
        attempts=sum(len(r.attempts) for r in requests),
        runs=len({r.run for r in requests}),
    )
    outages = find_outages(requests, lim.min_outage_failures)
    result.findings = [
        amplification(requests, lim),
        jitter(requests, lim),
        retry_after(requests, lim),
        client_errors(requests),
        after_outage(requests, outages, lim),
        fallback(requests, outages),
        timeout(requests),
        truncated_streams(requests),
        token_limits(requests),
        streaming(requests),
    ]
    result.checklist = checklist(result.findings)
    return result


def checklist(findings: Sequence[Finding]) -> list[ChecklistItem]:
    by_id = {f.id: f for f in findings}
    items = []
    for key, (title, ids) in CHECKLIST.items():
        statuses = {by_id[i].status for i in ids if i in by_id}
        order: tuple[Status, ...] = ("fail", "pass", "warn")
        status: Status = next((s for s in order if s in statuses), "not shown")
        items.append(ChecklistItem(key, title, status, ids))
    return items


# --------------------------------------------------------------------------- the findings


def _retries(requests: Sequence[LogicalRequest]) -> list[tuple[int, JournalEntry, JournalEntry]]:
    """(retry number, previous attempt, the retry) for every retry."""
    return [
        (i, r.attempts[i - 1], r.attempts[i]) for r in requests for i in range(1, len(r.attempts))
    ]


def _delay(prev: JournalEntry, retry: JournalEntry) -> float:
    return arrival(retry) - prev.t


def retry_peak(requests: Sequence[LogicalRequest]) -> int:
    """The most retries arriving in any one-second window (within one run)."""
    best = 0
    by_run: dict[int, list[float]] = defaultdict(list)
    for r in requests:
        by_run[r.run] += [arrival(e) for e in r.attempts[1:]]
    for times in by_run.values():
        times.sort()
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
    return best


def amplification(requests: Sequence[LogicalRequest], lim: AuditLimits) -> Finding:
    n = len(requests)
    attempts = sum(len(r.attempts) for r in requests)
    amp = attempts / n if n else 0.0
    peak = retry_peak(requests)
    value = f"{amp:.2f}x, retry peak {peak}/s"
    detail = f"{attempts} attempts for {n} logical requests; at most {peak} retries in one second"
    if lim.max_amplification is None or not n:
        return Finding("amplification", "Amplification and retry peak", "info", value, detail)
    ok = amp <= lim.max_amplification
    detail += f" (limit {lim.max_amplification:g}x)"
    return Finding(
        "amplification", "Amplification and retry peak", "pass" if ok else "fail", value, detail
    )


def _cv(values: Sequence[float]) -> float:
    mean = statistics.fmean(values)
    return statistics.pstdev(values) / mean if mean > 0 else 0.0


def jitter(requests: Sequence[LogicalRequest], lim: AuditLimits) -> Finding:
    title = "Retries jittered"
    plain: dict[int, list[float]] = defaultdict(list)
    after_ra: list[tuple[float, float]] = []  # (delay, retry-after)
    for i, prev, retry in _retries(requests):
        delay = _delay(prev, retry)
        ra = prev.retry_after_s
        if ra is not None and delay >= ra - lim.retry_after_slack_s:
            after_ra.append((delay, ra))  # it waited for the header: judged on what it added
        else:
            plain[i].append(delay)
    judged, problems = [], []
    for i, delays in sorted(plain.items()):
        if len(delays) < lim.min_jitter_samples:
            continue
        mean, cv = statistics.fmean(delays), _cv(delays)
        judged.append(f"retry {i}: spread {cv:.2f} over {len(delays)}")
        if mean < 0.01:
            problems.append(
                f"{len(delays)} retry-{i}s sent at once (mean delay {mean * 1000:.0f} ms)"
            )
        elif cv < lim.min_delay_cv:
            problems.append(
                f"{len(delays)} retry-{i}s all waited {mean:.2f} s (spread {cv:.2f} < "
                f"{lim.min_delay_cv:g}): backoff without jitter"
            )
    if len(after_ra) >= lim.min_jitter_samples:
        added = [d - ra for d, ra in after_ra]
        mean_delay = statistics.fmean(d for d, _ in after_ra)
        spread = statistics.pstdev(added) / mean_delay if mean_delay > 0 else 0.0
        judged.append(f"after Retry-After: spread {spread:.2f} over {len(after_ra)}")
        if spread < lim.min_delay_cv:
            problems.append(
                f"{len(after_ra)} retries came back exactly when Retry-After said (added "
                f"spread {spread:.2f} < {lim.min_delay_cv:g}): every waiting client returns "
                "at the same instant, in lockstep"
            )
    if not judged:
        return Finding("jitter", title, "not shown", "-",
                       f"fewer than {lim.min_jitter_samples} retries of any one kind")  # fmt: skip
    value = f"{len(judged) - len(problems)} of {len(judged)} groups spread"
    if problems:
        shown = problems[:3] + (
            [f"and {len(problems) - 3} more groups"] if len(problems) > 3 else []
        )
        return Finding("jitter", title, "fail", value, "; ".join(shown))
    return Finding("jitter", title, "pass", value + ": " + "; ".join(judged[:3]),
                   "retry delays are spread (coefficient of variation >= "
                   f"{lim.min_delay_cv:g})")  # fmt: skip


def retry_after(requests: Sequence[LogicalRequest], lim: AuditLimits) -> Finding:
    title = "Retry-After honoured"
    told = [(p, r) for _, p, r in _retries(requests) if p.retry_after_s is not None]
    if not told:
        return Finding("retry_after", title, "not shown", "-",
                       "no retry followed a response with a Retry-After")  # fmt: skip
    early = [
        p.retry_after_s - _delay(p, r)  # type: ignore[operator]
        for p, r in told
        if _delay(p, r) < p.retry_after_s - lim.retry_after_slack_s  # type: ignore[operator]
    ]
    value = f"{len(early)} of {len(told)} early"
    if early:
        return Finding("retry_after", title, "fail", value,
                       f"{len(early)} of {len(told)} retries were sent before the Retry-After "
                       f"they were given (by up to {max(early):.2f} s)")  # fmt: skip
    return Finding("retry_after", title, "pass", value,
                   f"all {len(told)} retries after a Retry-After waited for it")  # fmt: skip


def client_errors(requests: Sequence[LogicalRequest]) -> Finding:
    title = "No retry of 400, 401, 403, 404"
    seen = [e for r in requests for e in r.attempts if e.status in CLIENT_ERRORS]
    if not seen:
        return Finding("client_errors", title, "not shown", "-",
                       "no request was refused with 400, 401, 403 or 404")  # fmt: skip
    retried = [p for _, p, _ in _retries(requests) if p.status in CLIENT_ERRORS]
    value = f"{len(retried)} retried of {len(seen)}"
    if retried:
        codes = ", ".join(str(c) for c in sorted({p.status for p in retried}))
        return Finding("client_errors", title, "fail", value,
                       f"{len(retried)} retries after a {codes}, which fails the same way "
                       "again: a client error is not retryable")  # fmt: skip
    return Finding("client_errors", title, "pass", value,
                   f"none of the {len(seen)} client errors was retried")  # fmt: skip


@dataclass(frozen=True)
class Outage:
    run: int
    model: str
    start: float
    end: float
    failures: int


def _server_error(e: JournalEntry) -> bool:
    return e.status >= 500


def find_outages(requests: Sequence[LogicalRequest], min_failures: int) -> list[Outage]:
    """Runs of at least ``min_failures`` consecutive 5xx on one model (in arrival order)."""
    by_model: dict[tuple[int, str], list[JournalEntry]] = defaultdict(list)
    for r in requests:
        for e in r.attempts:
            by_model[(r.run, e.model)].append(e)
    outages = []
    for (run, model), attempts in sorted(by_model.items()):
        attempts.sort(key=arrival)
        streak: list[JournalEntry] = []
        for entry in [*attempts, None]:
            if entry is not None and _server_error(entry):
                streak.append(entry)
                continue
            if len(streak) >= min_failures:
                end = max(x.t for x in streak)
                outages.append(Outage(run, model, arrival(streak[0]), end, len(streak)))
            streak = []
    return outages


def _struck(r: LogicalRequest, o: Outage) -> bool:
    return r.run == o.run and any(
        e.model == o.model and _server_error(e) and o.start <= arrival(e) <= o.end
        for e in r.attempts
    )


def after_outage(
    requests: Sequence[LogicalRequest], outages: Sequence[Outage], lim: AuditLimits
) -> Finding:
    title = "Retries stop when an outage ends"
    if not outages:
        return Finding("after_outage", title, "not shown", "-", "no outage in the journal")
    tail, late = 0.0, 0
    for o in outages:
        for r in requests:
            if _struck(r, o):
                after = [arrival(e) - o.end for e in r.attempts[1:] if arrival(e) > o.end]
                late += len(after)
                tail = max([tail, *after])
    value = f"{late} retries, the last {tail:.1f} s after"
    if tail > lim.max_retry_tail_s:
        return Finding("after_outage", title, "fail", value,
                       f"requests struck by the outage still retried {tail:.1f} s after it "
                       f"ended (over {lim.max_retry_tail_s:g} s): backoff without a cap, "
                       "or too many attempts")  # fmt: skip
    return Finding("after_outage", title, "pass", value,
                   f"the last retry of a request the outage struck came {tail:.1f} s after "
                   "its end")  # fmt: skip


def fallback(requests: Sequence[LogicalRequest], outages: Sequence[Outage]) -> Finding:
    title = "Fallback model tried during an outage"
    if not outages:
        return Finding("fallback", title, "not shown", "-",
                       "no outage in the journal, so no fallback was needed")  # fmt: skip
    struck = fell_back = 0
    for o in outages:
        for r in requests:
            if _struck(r, o):
                struck += 1
                fell_back += any(e.model != o.model for e in r.attempts)
    names = ", ".join(sorted({o.model for o in outages}))
    value = f"{fell_back} of {struck} requests"
    if fell_back:
        return Finding("fallback", title, "pass", value,
                       f"{fell_back} of the {struck} requests struck by the outage of {names} "
                       "tried another model")  # fmt: skip
    return Finding("fallback", title, "fail", value,
                   f"none of the {struck} requests struck by the outage of {names} tried "
                   "another model")  # fmt: skip


def timeout(requests: Sequence[LogicalRequest]) -> Finding:
    title = "A client timeout"
    hung = [e for r in requests for e in r.attempts if e.fault == "hang"]
    if not hung:
        return Finding("timeout", title, "not shown", "-", "the mock hung no request")
    waited = [e for e in hung if not e.disconnected and e.status != 499]
    value = f"{len(waited)} of {len(hung)} waited"
    if waited:
        longest = max(e.t - arrival(e) for e in waited)
        return Finding("timeout", title, "fail", value,
                       f"{len(waited)} hung requests were waited on until the mock let go "
                       f"({longest:.1f} s): no client timeout")  # fmt: skip
    return Finding("timeout", title, "pass", value,
                   f"the client gave up on all {len(hung)} hung requests")  # fmt: skip


def truncated_streams(requests: Sequence[LogicalRequest]) -> Finding:
    title = "Cut streams retried"
    cut = [(r, i) for r in requests for i, e in enumerate(r.attempts)
           if e.fault in TRUNCATING_FAULTS and e.stream]  # fmt: skip
    if not cut:
        return Finding("truncated_streams", title, "not shown", "-", "no stream was cut")
    accepted = [r for r, i in cut if i == len(r.attempts) - 1]
    value = f"{len(accepted)} of {len(cut)} accepted"
    if accepted:
        return Finding("truncated_streams", title, "fail", value,
                       f"{len(accepted)} streams cut mid-answer were never retried: the "
                       "client took a partial answer as complete")  # fmt: skip
    return Finding("truncated_streams", title, "pass", value,
                   f"all {len(cut)} cut streams were retried")  # fmt: skip


def token_limits(requests: Sequence[LogicalRequest]) -> Finding:
    title = "max_tokens on every request"
    # Only requests whose body the mock read: a body it could not read (a 400) journals the
    # fingerprint of its bytes, not of its messages.
    read = [r for r in requests if any(_read_body(e) for e in r.attempts)]
    if not read:
        return Finding("token_limits", title, "not shown", "-", "no request body was read")
    limited = sum(any(e.max_tokens is not None for e in r.attempts) for r in read)
    value = f"{limited} of {len(read)}"
    if limited < len(read):
        return Finding("token_limits", title, "fail", value,
                       f"{len(read) - limited} requests set no max_tokens: one runaway "
                       "answer is billed in full")  # fmt: skip
    return Finding("token_limits", title, "pass", value, "every request set max_tokens")


def _read_body(e: JournalEntry) -> bool:
    return e.prompt is not None and not e.prompt.startswith(RAW_PREFIX)


def streaming(requests: Sequence[LogicalRequest]) -> Finding:
    title = "Streaming on"
    if not requests:
        return Finding("streaming", title, "not shown", "-", "no request in the journal")
    streamed = sum(r.first.stream for r in requests)
    value = f"{streamed} of {len(requests)}"
    if streamed < len(requests):
        return Finding("streaming", title, "warn", value,
                       f"{len(requests) - streamed} requests did not stream: a user waits for "
                       "the whole answer (fine for a batch job)")  # fmt: skip
    return Finding("streaming", title, "pass", value, "every request streamed")
