"""Delivery as data: what the mock sends for a completion, as a script of steps.

Theory of operation
-------------------
The brain decides a :class:`~mock_provider.model.provider.Completion`: its timing plan and
the fault it carries (:mod:`mock_provider.model.faults`). :func:`script` turns it, with its
dialect and the parsed request, into the steps of its delivery, the way h11's
``send(event) -> bytes`` turns an event into bytes and leaves the writing to its caller:

- :class:`Wait` ``seconds`` of scenario time; :class:`Hang` up to ``max_s``, or until the
  client gives up (a hang ends when the client leaves);
- :class:`Head`: the status line and headers (a stream's or a JSON body's);
- :class:`Write` bytes of the body (``steps``: the stream steps delivered once written);
- :class:`Settle` the limits on the tokens the model produced;
- the ending: :class:`End` (the response completes), :class:`Reset` (a TCP reset),
  :class:`Close` (closed with no response), or :class:`Refuse` (the whole response is an
  error the brain's refusal describes, rendered by the dialect with the serving clock).

Two interpreters carry a script out: the live plan executor (``mock_provider/executor.py``)
with real sleeps on the request's connection, and the virtual transport
(``simulator/virtual/transport.py``) in scenario time, reading the bytes as the live client
reads them. Every rule about what a fault does to the bytes is here, once; a new fault kind
is a new event and a case below. A script is pure: the same completion and ``created``
second give the same steps.

Tokens due at the same instant share one :class:`Write`; the live executor may join more
(those due within a millisecond of wall time).
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from .dialects.protocol import ChatCall, Dialect
from .model.faults import (
    CutStream,
    EmptyFault,
    HangFault,
    MalformedFault,
    ResetFault,
    SlowFault,
    SlowFirstByte,
    StreamError,
)
from .model.provider import Completion, Rejection, injected_rejection

__all__ = [
    "JSON",
    "SSE",
    "Close",
    "End",
    "Hang",
    "Head",
    "Refuse",
    "Reset",
    "Script",
    "Settle",
    "Step",
    "Wait",
    "Write",
    "is_plain",
    "script",
    "tokens_after",
]

JSON = "application/json"
SSE = "text/event-stream"


class Wait(msgspec.Struct, frozen=True, gc=False):
    """Nothing happens for ``seconds`` of scenario time."""

    seconds: float


class Hang(msgspec.Struct, frozen=True, gc=False):
    """Nothing is sent until the client gives up, or ``max_s`` scenario seconds pass."""

    max_s: float


class Head(msgspec.Struct, frozen=True, gc=False):
    """The status line and headers: a JSON body of ``length`` bytes, or an SSE stream."""

    status: int
    content_type: str
    length: int | None = None


class Write(msgspec.Struct, frozen=True, gc=False):
    """Body bytes; ``steps``: the stream steps (tokens of the longest answer) delivered once
    they are written."""

    data: bytes
    steps: int


class Settle(msgspec.Struct, frozen=True, gc=False):
    """The limits settle on ``tokens`` output tokens (a cut response used fewer)."""

    tokens: int


class Refuse(msgspec.Struct, frozen=True, gc=False):
    """The response is this refusal, in the dialect's error form."""

    rejection: Rejection


class End(msgspec.Struct, frozen=True, gc=False):
    """The response is complete."""


class Reset(msgspec.Struct, frozen=True, gc=False):
    """The connection is reset (RST): before the status line, or part-way through a body."""


class Close(msgspec.Struct, frozen=True, gc=False):
    """The connection is closed (FIN) with no response."""


Step: TypeAlias = Wait | Hang | Head | Write | Settle | Refuse | End | Reset | Close
Script: TypeAlias = tuple[Step, ...]


def is_plain(c: Completion) -> bool:
    """Whether ``c`` is delivered as planned (no fault, or a slow one: the plan is slower).
    Its script is then the one the plain fast paths copy (``mock_provider/server.py``, the
    virtual transport); a test holds them to it."""
    return c.fault is None or isinstance(c.fault, SlowFault)


def tokens_after(c: Completion, steps: int) -> int:
    """Output tokens delivered once ``steps`` stream steps are: all of them at the end."""
    return c.output_tokens if steps >= len(c.pieces) else c.tokens_after(steps)


def script(c: Completion, dialect: Dialect, call: ChatCall, created: int) -> Script:
    """The steps that deliver ``c`` (see the module docstring); ``created`` is the second
    the response's body names."""
    plan, fault = c.plan, c.fault
    match fault:
        case SlowFirstByte(delay_s=delay):  # a stall before the status line, then as planned
            plain = msgspec.structs.replace(c, fault=None)
            return (Wait(delay), *script(plain, dialect, call, created))
        case StreamError() if not call.stream:  # the error is the whole response
            r = injected_rejection(c.model, fault.status, fault.error_type, fault.message,
                                   None, None, plan.network_s, "stream_error")  # fmt: skip
            return (Wait(plan.network_s), Settle(0), Refuse(r))
        case EmptyFault():
            return (Wait(plan.network_s), Settle(0), Close())
        case ResetFault(after_bytes=None):
            return (Wait(plan.network_s), Settle(0), Reset())
        case HangFault(max_s=max_s):
            return (Hang(max_s), Settle(0), Close())
    if call.stream:
        return _stream(c, dialect, call, created)
    return _whole_body(c, dialect, call, created)


def _whole_body(c: Completion, dialect: Dialect, call: ChatCall, created: int) -> Script:
    """A body sent whole when the plan ends: as rendered, cut in half (``malformed``: not
    JSON), or reset after ``after_bytes`` of it (a cut "stream" that does not stream: 0)."""
    body = dialect.completion(c, call, created)
    done = (Wait(c.plan.total_s), Settle(c.output_tokens))
    steps = len(c.pieces)
    match c.fault:
        case MalformedFault():
            half = body[: len(body) // 2]
            return (*done, Head(200, JSON, len(half)), Write(half, steps), End())
        case ResetFault(after_bytes=after) | CutStream(after_tokens=after):
            sent = body[: after if isinstance(c.fault, ResetFault) else 0]
            head = Head(200, JSON, len(body))
            return (*done, head, Write(sent, 0), Reset()) if sent else (*done, head, Reset())
    return (*done, Head(200, JSON, len(body)), Write(body, steps), End())


def _stream(c: Completion, dialect: Dialect, call: ChatCall, created: int) -> Script:
    """A stream: its opening and first token at the time to first token, each later token
    after its gap; then its ending, which the fault decides. A ``reset`` keeps the bytes up
    to its budget and resets; ``cut_stream``, ``stream_error`` and ``malformed`` stop after
    ``after_tokens`` tokens (nothing more, an error event, a broken line)."""
    writer = dialect.stream(c, call, created)
    plan, fault, pieces = c.plan, c.fault, c.pieces
    n = len(pieces)
    match fault:
        case (
            CutStream(after_tokens=k) | StreamError(after_tokens=k) | MalformedFault(after_tokens=k)
        ):
            n = min(n, k)
    # (wait before it, bytes, steps delivered after it), one per event
    events = [(plan.ttft_s, writer.opening(), 0)]
    token = writer.token
    gaps = plan.gaps_s
    for i in range(n):
        events.append((gaps[i - 1] if i else 0.0, token(pieces[i]), i + 1))
    match fault:
        case StreamError():
            ending = writer.error(fault.status, fault.error_type, fault.message)
        case MalformedFault():
            ending = dialect.broken_line
        case CutStream():
            ending = b""
        case _:
            ending = writer.closing(n)
    if ending:
        events.append((0.0, ending, n))
    last: Step = End()
    if isinstance(fault, ResetFault):  # every byte up to the budget, then the reset
        assert fault.after_bytes is not None
        events, last = _spend(events, fault.after_bytes), Reset()
    out: list[Step] = [Head(200, SSE)]
    data, steps = b"", 0
    for wait, chunk, after in events:
        if wait > 0:
            if data:
                out.append(Write(data, steps))
                data = b""
            out.append(Wait(wait))
        data += chunk
        steps = after
    if data:
        out.append(Write(data, steps))
    out += (Settle(tokens_after(c, steps)), last)
    return tuple(out)


def _spend(events: list[tuple[float, bytes, int]], budget: int) -> list[tuple[float, bytes, int]]:
    """The events as far as ``budget`` bytes reach: an event begun is a step delivered."""
    kept = []
    for wait, chunk, after in events:
        if budget <= 0:
            break
        kept.append((wait, chunk[:budget], after))
        budget -= len(chunk)
    return kept
