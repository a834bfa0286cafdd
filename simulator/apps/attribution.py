"""Which of the mock's journal entries were which app call's attempts, as trace records.

Theory of operation
-------------------
An app strategy's driver sees each logical request's call (start, end, how it ended), and
the mock's journal sees each attempt; neither sees both. They are joined here, after the
strategy has run, by the **request tag**:

- stampede's workloads start every user message with a tag unique to the prompt
  (``#000000042``), and the mock journals the last tag in each request's body
  (:func:`mock_provider.journal.request_tag`). An app that forwards the messages it is given,
  or puts the user's text anywhere in a prompt of its own, or falls back to another model or
  another provider with the same text, sends the tag on every attempt: the tag names the
  logical request whatever the app's retry code, SDK or wire format. No header, SDK hook or
  cooperation is needed.
- Several logical requests may share a prompt (``prompts.repeat`` copies): an attempt goes to
  the call of that tag that was in flight when the attempt arrived (the latest one started,
  if several were), else to the nearest.
- An attempt with no tag (the app rewrote the user's text) goes to the one call in flight at
  the time, when exactly one was; otherwise it is *unattributed*: counted, and reported as a
  warning, since the strategy's amplification is then understated.

Each attempt's record is built from its journal entry (status, refusal kind, Retry-After,
tokens, timings, the mock's planned latency) and priced with the model's catalogue prices;
its ``slept_s`` is the gap since the call's previous attempt ended. Each call's request record
takes its outcome and end-to-end latency from the call itself, and its attempts, cost and
final status from the attempts attributed to it. A journal entry the client abandoned (499)
is an attempt with no response (status 0), as a built-in strategy records a timeout.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from mock_provider.journal import RESET_PATH, JournalEntry, request_tag
from mock_provider.model.catalog import ModelSpec
from simulator.apps.calls import AppCall
from simulator.audit.grouping import CHAT_PATHS
from simulator.traces import TraceRecord
from simulator.workload import LogicalRequest

__all__ = ["CLIENT_WENT_AWAY", "Attribution", "attribute", "tag_of"]

CLIENT_WENT_AWAY = "client_went_away"  # the error of a 499 entry's attempt record
_SLACK_S = 0.05  # clocks of two processes agree to a few ms; an attempt may look early


def tag_of(req: LogicalRequest) -> str | None:
    """The request tag the workload put in ``req``'s user message."""
    return request_tag("\n".join(content for role, content in req.messages if role == "user"))


@dataclass
class Attribution:
    """The trace records of one app strategy, and how well the journal joined its calls."""

    records: list[TraceRecord] = field(default_factory=list)
    attempts: int = 0  # journal entries attributed to a call
    unattributed: int = 0  # chat entries no call could be given
    untagged: int = 0  # chat entries with no request tag (attributed by time, or not)

    def warnings(self, strategy: str) -> list[str]:
        if not self.unattributed:
            return []
        return [
            f"{strategy}: {self.unattributed} of the mock's {self.attempts + self.unattributed} "
            "attempts carry no request tag and overlap several calls, so they are not counted "
            "(the app must send the user's text, with its #NNNNNNNNN tag, for its attempts "
            "to be attributed)"
        ]


def attribute(
    strategy: str,
    requests: Sequence[LogicalRequest],
    calls: Iterable[AppCall],
    entries: Iterable[JournalEntry],
    catalog: dict[str, ModelSpec],
    stamp: Callable[[float], str],
) -> Attribution:
    """Join ``calls`` (the driver's) and ``entries`` (the mock's journal since the strategy's
    reset) into trace records, in the order of the calls' ends."""
    by_seq = {r.seq: r for r in requests}
    calls = sorted((c for c in calls if c.seq in by_seq), key=lambda c: c.start_t)
    by_tag: dict[str | None, list[AppCall]] = defaultdict(list)
    for c in calls:
        by_tag[tag_of(by_seq[c.seq])].append(c)
    starts = [c.start_t for c in calls]
    out = Attribution()
    attempts: dict[int, list[JournalEntry]] = defaultdict(list)  # by the call's seq
    for e in entries:
        if e.path == RESET_PATH or e.path not in CHAT_PATHS:
            continue
        arrived = e.start_t if e.start_t is not None else e.t
        if e.tag is None:
            out.untagged += 1
            call = _only_call_in_flight(calls, starts, arrived)
        else:
            call = _call_for(by_tag.get(e.tag, []), arrived)
        if call is None:
            out.unattributed += 1
            continue
        out.attempts += 1
        attempts[call.seq].append(e)
    for c in sorted(calls, key=lambda c: (c.t, c.seq)):
        req = by_seq[c.seq]
        tried = sorted(attempts.get(c.seq, []), key=lambda e: (_arrival(e), e.t))
        out.records += _records(strategy, req, c, tried, catalog, stamp)
    return out


def _arrival(e: JournalEntry) -> float:
    return e.start_t if e.start_t is not None else e.t


def _call_for(candidates: list[AppCall], t: float) -> AppCall | None:
    """The call, of those sharing a tag, that was in flight at ``t`` (the latest started),
    else the nearest in time."""
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    live = [c for c in candidates if c.start_t - _SLACK_S <= t <= c.t + _SLACK_S]
    if live:
        return max(live, key=lambda c: c.start_t)
    return min(candidates, key=lambda c: min(abs(t - c.start_t), abs(t - c.t)))


def _only_call_in_flight(calls: list[AppCall], starts: list[float], t: float) -> AppCall | None:
    live = [c for c in calls[: bisect.bisect_right(starts, t + _SLACK_S)] if c.t + _SLACK_S >= t]
    return live[0] if len(live) == 1 else None


def _records(
    strategy: str,
    req: LogicalRequest,
    call: AppCall,
    tried: list[JournalEntry],
    catalog: dict[str, ModelSpec],
    stamp: Callable[[float], str],
) -> list[TraceRecord]:
    trace_id = f"{strategy}-{req.seq}"
    records: list[TraceRecord] = []
    cost_total, slept_total, prev_end = 0.0, 0.0, call.start_t
    for n, e in enumerate(tried, 1):
        start = _arrival(e)
        slept = max(0.0, start - prev_end) if n > 1 else 0.0
        slept_total += slept
        prev_end = e.t
        spec = catalog.get(e.model)
        cost = _cost(e, spec)
        cost_total += cost
        gone = e.status == 499
        records.append(
            TraceRecord(
                "attempt", trace_id, stamp(e.t), e.t, strategy, req.user_id, req.feature,
                e.model, req.prompt_version, e.dialect or (spec.dialect if spec else None), n,
                0 if gone else e.status, CLIENT_WENT_AWAY if gone else (e.error or e.fault),
                e.retry_after_s, slept, e.input_tokens, e.output_tokens, e.cached_tokens, cost,
                (e.t - start) * 1000.0, None, e.finish_reason,
                e.model if e.model != req.model else None, start, None, None, None,
                call.worker, e.plan_ms, call.lag_ms if n == 1 else None, None, _own_ttft_ms(e),
            )
        )  # fmt: skip
    last = tried[-1] if tried else None
    model = last.model if last is not None else req.model
    spec = catalog.get(model)
    success = call.success
    own = ttft = None
    if success and last is not None and (own := _own_ttft_ms(last)) is not None:
        # from the call's start to the first token: every earlier attempt and wait in it
        ttft = (_arrival(last) - call.start_t) * 1000.0 + own
    records.append(
        TraceRecord(
            "request", trace_id, stamp(call.t), call.t, strategy, req.user_id, req.feature,
            model, req.prompt_version, spec.dialect if spec else None, len(tried),
            0 if last is None or last.status == 499 else last.status,
            call.error, None if last is None else last.retry_after_s, slept_total,
            0 if last is None else last.input_tokens, 0 if last is None else last.output_tokens,
            0 if last is None else last.cached_tokens, cost_total,
            (call.t - call.start_t) * 1000.0,
            ttft,
            last.finish_reason if success and last is not None else None,
            model if success and model != req.model else None, call.start_t, None, None,
            success, call.worker, None, None, None, own,
        )
    )  # fmt: skip
    return records


def _own_ttft_ms(e: JournalEntry) -> float | None:
    """The attempt's own time to its first token: the journal's for a stream; the whole
    answer for an answered non-streamed call; None when no token came."""
    if e.stream:
        return e.ttft_ms
    return (e.t - _arrival(e)) * 1000.0 if 200 <= e.status < 300 else None


def _cost(e: JournalEntry, spec: ModelSpec | None) -> float:
    """What the attempt is billed: an answer, or the part of a stream delivered before the
    client went away; a refusal costs nothing."""
    if spec is None or not (e.status == 200 or e.output_tokens):
        return 0.0
    return spec.cost_usd(e.input_tokens, e.output_tokens, e.cached_tokens, e.cache_write_tokens)
