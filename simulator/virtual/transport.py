"""An attempt carried out by the provider brain itself, in virtual time: no socket, no sleep.

Theory of operation
-------------------
:meth:`ProviderTransport.send` does, at scenario time ``now``, what the live path does over
HTTP, through the same code wherever the two could differ:

1. the request is the one the live client would send: ``simulator.wire.build_call`` writes
   the body and headers, and the model's dialect reads them back (``Dialect.api_key``,
   ``Dialect.parse_chat``), so the brain sees the same prompt tokens and cache prefixes;
2. the brain decides at ``now`` (the request reaches it the moment it is sent, as on the
   loopback of a live run); the plan's network time covers both ways;
3. the answer becomes the :class:`~simulator.client.events.Outcome` the live client would
   have read: a refusal and a plain completion are rendered by the dialect and read back
   through ``simulator.wire`` (the same error codes, Retry-After rounding and usage); so is a
   stream's frame (its opening and closing events: usage, finish reason), its timing taken
   from the plan (time to first token, length);
4. the client's timeouts apply as live: an answer planned to take longer than
   ``read_timeout_s`` (to its first byte, for a stream) is a ``timeout`` at ``now`` plus the
   timeout, and so is one that would end after the logical request's total timeout
   (``total_timeout_s``, what is left of it), while the brain still finishes and settles it.
   The connect timeout never bites: the mock accepts every connection at once;
5. a completion is settled when its plan ends: :meth:`ProviderTransport.settle_until` (the
   driver calls it before each step) applies every settlement due by then, in time order, so
   a decision sees exactly the responses that had ended before it;
6. a fault the brain attached (``mock_provider/model/faults.py``) is carried out as the live
   plan executor (``mock_provider/executor.py``) does it, and read as the live client reads
   it: the bytes the mock would have sent before it broke go through the same readers.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from functools import lru_cache

from mock_provider.clock import VirtualClock
from mock_provider.dialects import DIALECTS, BadRequest, ChatCall, Dialect
from mock_provider.executor import broken_line
from mock_provider.model.faults import (
    CutStream,
    EmptyFault,
    HangFault,
    MalformedFault,
    ResetFault,
    SlowFault,
    StreamError,
)
from mock_provider.model.provider import (
    ChatRequest,
    Completion,
    Provider,
    Rejection,
    Ticket,
    injected_rejection,
)
from simulator.client.events import AttemptSpec, Outcome
from simulator.wire import (
    ResponseFacts,
    SSEReader,
    http_call,
    read_body,
    read_headers,
    stream_error,
)

__all__ = ["ProviderTransport"]

# What the dialects tell a virtual client (retry-after, reset times) is scenario time: a
# virtual clock's ``wall`` is the identity. The transport reads no clock's ``now``.
_TOLD = VirtualClock()

_READINGS = 1 << 15  # requests whose reading is kept: more than a herd has waiting at once
_CREATED = 1_767_225_600  # the ``created`` second of every virtual response (2026-01-01)


class ProviderTransport:
    """``send(spec, now) -> Outcome`` against one :class:`Provider` (one strategy's world)."""

    def __init__(self, provider: Provider, dialects: Mapping[str, Dialect] = DIALECTS) -> None:
        self.provider = provider
        self.dialects = dialects
        self._settlements: list[tuple[float, int, Ticket, int]] = []  # (at, seq, ticket, tokens)
        self._seq = 0
        self._read = lru_cache(maxsize=_READINGS)(self._read_request)

    def _read_request(
        self,
        model: str,
        dialect_name: str,
        messages: tuple[tuple[str, str], ...],
        max_tokens: int | None,
        stream: bool,
        api_key: str,
    ) -> tuple[ChatCall, ChatRequest] | BadRequest:
        """The request as the mock reads it off the wire: the body ``build_call`` writes,
        parsed by the dialect. The same attempt reads the same, so a retry reuses the reading
        (``_read``, a bounded cache: 40% of a herd's time went to writing and reading the
        same bodies again)."""
        dialect = self.dialects[dialect_name]
        spec_call = http_call(model, dialect_name, messages, max_tokens, stream, api_key)
        try:
            parsed = dialect.parse_chat(spec_call.body)
        except BadRequest as exc:
            return exc
        request = ChatRequest(
            dialect.api_key(spec_call.headers), parsed.model, parsed.input_tokens,
            parsed.max_tokens, parsed.stream, parsed.messages, dialect.cache_prefixes,
            dialect.serves, dialect.name, dialect.chat_path, parsed.tools,
        )  # fmt: skip
        return parsed, request

    def settle_until(self, now: float) -> None:
        """Settle every completion whose plan ended at or before ``now``."""
        due = self._settlements
        while due and due[0][0] <= now:
            at, _, ticket, delivered = heapq.heappop(due)
            self.provider.settle(ticket, delivered, at)

    def send(self, spec: AttemptSpec, now: float) -> Outcome:
        outcome = self._send(spec, now)
        total = spec.total_timeout_s
        if outcome.now - now > total:  # the logical request's deadline falls mid-attempt
            return Outcome(now + total, 0, "timeout", latency_s=total, plan_s=outcome.plan_s)
        return outcome

    def _send(self, spec: AttemptSpec, now: float) -> Outcome:
        self.settle_until(now)
        dialect = self.dialects[spec.dialect]
        read = self._read(spec.model, spec.dialect, spec.messages, spec.max_tokens,
                          spec.stream, spec.api_key)  # fmt: skip
        if isinstance(read, BadRequest):  # the mock would refuse this body: the same 4xx
            exc = read
            body = dialect.error(exc.status, exc.kind, exc.message, exc.param, exc.code)
            return Outcome(now, exc.status, read_body(exc.status, body).error)
        parsed, request = read
        decision = self.provider.chat(request, now)
        if isinstance(decision, Rejection):
            return _refused(dialect, decision, now)
        return self._answered(dialect, parsed, decision, spec, now)

    def _settle_at(self, at: float, c: Completion, produced: int) -> None:
        if c.ticket is not None:
            self._seq += 1
            heapq.heappush(self._settlements, (at, self._seq, c.ticket, produced))

    def _answered(
        self, dialect: Dialect, call: ChatCall, c: Completion, spec: AttemptSpec, now: float
    ) -> Outcome:
        plan = c.plan
        headers = read_headers(dialect.ratelimit_headers(c.ratelimit, _TOLD), True, spec.dialect)
        if c.fault is not None and not isinstance(c.fault, SlowFault):
            return self._faulted(dialect, call, c, spec, now, headers)
        ends = now + plan.total_s
        self._settle_at(ends, c, c.output_tokens)
        first_byte = plan.ttft_s if call.stream else plan.total_s
        if first_byte > spec.read_timeout_s:  # the client gives up; the brain finishes anyway
            t = spec.read_timeout_s
            return Outcome(now + t, 0, "timeout", latency_s=t, plan_s=plan.total_s)
        if call.stream:
            # The stream's frame, read as the live client reads it (usage, finish reason);
            # the tokens in between carry no facts the client keeps but their count.
            writer = dialect.stream(c, call, _CREATED)
            reader = SSEReader()
            reader.feed(writer.opening() + writer.closing(c.output_tokens))
            return Outcome(
                ends, 200, reader.error, None, reader.input_tokens,
                reader.output_tokens or c.output_tokens, reader.cached_tokens,
                reader.finish_reason, plan.ttft_s, plan.total_s, headers.remaining_requests,
                headers.remaining_tokens, None, plan.total_s,
            )  # fmt: skip
        body = read_body(200, dialect.completion(c, call, _CREATED))
        return Outcome(
            ends, 200, body.error, None, body.input_tokens, body.output_tokens,
            body.cached_tokens, body.finish_reason, plan.total_s, plan.total_s,
            headers.remaining_requests, headers.remaining_tokens, None, plan.total_s,
        )  # fmt: skip

    def _faulted(
        self,
        dialect: Dialect,
        call: ChatCall,
        c: Completion,
        spec: AttemptSpec,
        now: float,
        headers: ResponseFacts,
    ) -> Outcome:
        """What the live executor does with a fault (``mock_provider/executor.py``), read as
        the live client reads it."""
        fault, plan = c.fault, c.plan
        network = plan.network_s
        if isinstance(fault, StreamError) and not call.stream:  # the error is the response
            self._settle_at(now + network, c, 0)
            r = injected_rejection(c.model, fault.status, fault.error_type, fault.message, None,
                                   None, network, "stream_error")  # fmt: skip
            return _refused(dialect, r, now)
        if isinstance(fault, EmptyFault) or (
            isinstance(fault, ResetFault) and fault.after_bytes is None
        ):
            self._settle_at(now + network, c, 0)
            return _broken(now, network, 0, "connection", plan.total_s)
        if isinstance(fault, HangFault):  # until the client gives up, or the mock's bound
            gives_up = spec.read_timeout_s < fault.max_s
            t = spec.read_timeout_s if gives_up else fault.max_s
            self._settle_at(now + t, c, 0)
            return _broken(now, t, 0, "timeout" if gives_up else "connection", plan.total_s)
        if not call.stream:
            ends = now + plan.total_s
            self._settle_at(ends, c, c.output_tokens)
            if plan.total_s > spec.read_timeout_s:
                t = spec.read_timeout_s
                return Outcome(now + t, 0, "timeout", latency_s=t, plan_s=plan.total_s)
            if isinstance(fault, MalformedFault):
                return Outcome(
                    ends,
                    200,
                    "malformed",
                    latency_s=plan.total_s,
                    plan_s=plan.total_s,
                    remaining_requests=headers.remaining_requests,
                    remaining_tokens=headers.remaining_tokens,
                )
            return _broken(now, plan.total_s, 0, "connection", plan.total_s)  # reset part-way
        return self._broken_stream(dialect, call, c, spec, now, headers)

    def _broken_stream(
        self,
        dialect: Dialect,
        call: ChatCall,
        c: Completion,
        spec: AttemptSpec,
        now: float,
        headers: ResponseFacts,
    ) -> Outcome:
        """A stream a fault ends early: the bytes sent until then, read by the live reader."""
        fault, plan = c.fault, c.plan
        if plan.ttft_s > spec.read_timeout_s:
            self._settle_at(now + plan.total_s, c, c.output_tokens)
            t = spec.read_timeout_s
            return Outcome(now + t, 0, "timeout", latency_s=t, plan_s=plan.total_s)
        writer = dialect.stream(c, call, _CREATED)
        n = len(c.pieces)
        if isinstance(fault, CutStream | StreamError | MalformedFault):
            n = min(n, fault.after_tokens)
        events = [writer.opening()] + [writer.token(p) for p in c.pieces[:n]]
        if isinstance(fault, StreamError):
            ending = writer.error(fault.status, fault.error_type, fault.message)
        elif isinstance(fault, MalformedFault):
            ending = broken_line(dialect.name)
        elif isinstance(fault, ResetFault):
            ending = writer.closing(n)
        else:
            ending = b""
        broke = None
        if isinstance(fault, ResetFault):  # the bytes up to the budget, then the reset
            assert fault.after_bytes is not None
            events.append(ending)
            budget, kept = fault.after_bytes, []
            for ev in events:
                if budget <= 0:
                    break
                kept.append(ev[:budget])
                budget -= len(ev)
            n = max(0, min(n, len(kept) - 1))  # tokens whose events began before the reset
            events, ending, broke = kept, b"", "connection"
        at = plan.ttft_s + sum(plan.gaps_s[: max(0, n - 1)])
        self._settle_at(now + at, c, n)
        reader = SSEReader()
        reader.feed(b"".join(events) + ending)
        return Outcome(
            now + at, 200, stream_error(reader, broke), None, reader.input_tokens,
            reader.output_tokens or reader.content_deltas, reader.cached_tokens,
            reader.finish_reason, plan.ttft_s if reader.content_deltas else None, at,
            headers.remaining_requests, headers.remaining_tokens, None, plan.total_s,
        )  # fmt: skip


def _broken(now: float, after: float, status: int, error: str, plan_s: float) -> Outcome:
    return Outcome(now + after, status, error, latency_s=after, plan_s=plan_s)


def _refused(dialect: Dialect, r: Rejection, now: float) -> Outcome:
    status, body, headers = dialect.rejection(r, _TOLD)
    facts = read_headers(headers, False)
    latency = r.latency_s
    return Outcome(
        now + latency, status, read_body(status, body).error, facts.retry_after_s,
        latency_s=latency, remaining_requests=facts.remaining_requests,
        remaining_tokens=facts.remaining_tokens, should_retry=facts.should_retry,
        plan_s=latency,
    )  # fmt: skip
