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
6. a fault the brain attached (``mock_provider/model/faults.py``) is carried out from the
   same delivery script as the live plan executor's (``mock_provider/delivery.py``), and
   read as the live client reads it: the bytes the mock would have sent before it broke go
   through the same readers. A plain answer (no fault, or a slow one) takes a fast copy of
   its script's reading, which a test holds equal to the reference.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from functools import lru_cache

from mock_provider.clock import VirtualClock
from mock_provider.delivery import (
    JSON,
    Hang,
    Head,
    Refuse,
    Reset,
    Script,
    Settle,
    Wait,
    Write,
    is_plain,
    script,
)
from mock_provider.dialects import DIALECTS, BadRequest, ChatCall, Dialect
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection, Ticket
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
        # The reference: the delivery script, read as the live client reads it. A plain
        # answer takes the script's fast copy below (tests/test_delivery.py holds them equal),
        # unless a gap between tokens could outlast the read timeout, which only the script
        # times (the gaps sum to decode_s, so none can when it is shorter).
        if not is_plain(c) or (call.stream and plan.decode_s > spec.read_timeout_s):
            return self._play(dialect, script(c, dialect, call, _CREATED), c, spec, now, headers)
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

    def _play(
        self,
        dialect: Dialect,
        steps: Script,
        c: Completion,
        spec: AttemptSpec,
        now: float,
        headers: ResponseFacts,
    ) -> Outcome:
        """Carry out a delivery script (``mock_provider/delivery.py``) in scenario time, as
        the live plan executor does it, and read what it sent as the live client reads it.

        The client gives up when it has heard nothing for ``read_timeout_s`` (a wait before
        the status line or between writes, a hang); the mock carries on, and settles when
        its script says, except that a hang ends when its client leaves.
        """
        limit, total = spec.read_timeout_s, c.plan.total_s
        t = heard = 0.0  # scenario seconds since the send; when the client last heard a byte
        gave_up: float | None = None  # when the client's read timeout fired
        head: Head | None = None
        body, first, ending = b"", None, None
        for step in steps:
            match step:
                case Wait(seconds=s):
                    t += s
                    if gave_up is None and t - heard > limit:
                        gave_up = heard + limit
                case Hang(max_s=m):
                    if gave_up is None and t + m - heard > limit:
                        t = gave_up = heard + limit
                    else:
                        t += m
                case Settle(tokens=tokens):
                    self._settle_at(now + t, c, tokens)
                case _ if gave_up is not None:  # the client is gone: only the mock goes on
                    continue
                case Head():
                    head, heard = step, t
                case Write(data=data, steps=done):
                    body, heard = body + data, t
                    if done and first is None:
                        first = t
                case Refuse(rejection=r):
                    return _refused(dialect, r, now, t)
                case _:  # End, Reset, Close
                    ending = step
        if gave_up is not None:
            return Outcome(now + gave_up, 0, "timeout", latency_s=gave_up, plan_s=total)
        broke = "connection" if isinstance(ending, Reset) else None
        if head is None or (broke and head.content_type == JSON):  # no status, or a cut body
            return Outcome(now + t, 0, "connection", latency_s=t, plan_s=total)
        if head.content_type == JSON:
            b = read_body(head.status, body)
            return Outcome(
                now + t, head.status, b.error, None, b.input_tokens, b.output_tokens,
                b.cached_tokens, b.finish_reason, t if b.error is None else None, t,
                headers.remaining_requests, headers.remaining_tokens, None, total,
            )  # fmt: skip
        reader = SSEReader()
        reader.feed(body)
        return Outcome(
            now + heard, 200, stream_error(reader, broke), None, reader.input_tokens,
            reader.output_tokens or reader.content_deltas, reader.cached_tokens,
            reader.finish_reason, first if reader.content_deltas else None, heard,
            headers.remaining_requests, headers.remaining_tokens, None, total,
        )  # fmt: skip


def _refused(dialect: Dialect, r: Rejection, now: float, latency: float | None = None) -> Outcome:
    """A refusal read as the live client reads it, ``latency`` (else its own) after ``now``."""
    status, body, headers = dialect.rejection(r, _TOLD)
    facts = read_headers(headers, False)
    latency = r.latency_s if latency is None else latency
    return Outcome(
        now + latency, status, read_body(status, body).error, facts.retry_after_s,
        latency_s=latency, remaining_requests=facts.remaining_requests,
        remaining_tokens=facts.remaining_tokens, should_retry=facts.should_retry,
        plan_s=latency,
    )  # fmt: skip
