"""The plan executor: carry out a completion's timing plan, and the fault it carries, live.

The brain decides (``Provider.chat``): the plan says when each token is due, the fault
(``mock_provider/model/faults.py``) what goes wrong. This module does it with real sleeps on
the request's connection, and tells the journal what happened. The virtual driver carries out
the same plans and faults in ``simulator/virtual/transport.py``; a test holds the two to the
same outcome for each fault kind.

A client that goes away is a normal event here, not an error: whatever was being written, the
response is journalled with status 499 and the tokens sent so far, the limits settle on the
tokens produced, and nothing is logged as a traceback.

Where a fault makes no response (``reset`` before the status line, ``empty``, a ``hang``
that outlasts its bound) the journal's status is 0: no status was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from .dialects import ChatCall, Dialect
from .journal import fingerprint, redact_key
from .model.faults import (
    CutStream,
    EmptyFault,
    HangFault,
    MalformedFault,
    ResetFault,
    SlowFault,
    StreamError,
)
from .model.provider import Completion, injected_rejection

if TYPE_CHECKING:
    from .server import MockState

__all__ = [
    "CLIENT_GONE",
    "NO_RESPONSE",
    "broken_line",
    "carry_out",
    "stream",
    "wait_while_connected",
]

NO_RESPONSE = 0  # the journal's status when no status line was sent
CLIENT_GONE = 499  # nginx's "client closed request": the client went away first
_POLL_S = 0.05  # how often a hang looks whether its client is still there (wall seconds)
_LINGER_RST = struct.pack("ii", 1, 0)

# A line no SSE client can parse: an unterminated JSON object, as each dialect names events.
_BROKEN_SSE = {
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","ind\n\n',
    "openai_responses": b'event: response.output_text.delta\ndata: {"type":"response.out\n\n',
}
_BROKEN_DATA = b'data: {"id":"chatcmpl-broken","object":"chat.completion.chu\n\n'


def broken_line(dialect: str) -> bytes:
    """The SSE line a ``malformed`` fault ends a stream with, for a dialect by name."""
    return _BROKEN_SSE.get(dialect, _BROKEN_DATA)


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _drop(request: web.Request, reset: bool) -> None:
    """Close the client's connection: with a TCP reset (RST), or a plain close (FIN)."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    transport.close()


async def wait_while_connected(request: web.Request, wall_s: float) -> bool:
    """Sleep ``wall_s``, waking every few tens of milliseconds to see whether the client left;
    False if it did."""
    deadline = time.monotonic() + wall_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return not _gone(request)
        await asyncio.sleep(min(left, _POLL_S))
        if _gone(request):
            return False


def _journal(
    state: MockState,
    request: web.Request,
    dialect: Dialect,
    call: ChatCall,
    c: Completion,
    status: int,
    start_t: float,
    delivered: int,
    ttft: bool = False,
) -> None:
    fault = c.fault.kind if c.fault is not None else None
    state.count_fault(dialect.name, c.model.name, status, fault)
    if status == 200 and state.observed is not None:
        state.observed.latency.observe(c.plan.total_s)
        if ttft and delivered:
            state.observed.ttft.observe(c.plan.ttft_s)
    if not state.journaling:
        state.record(request, c.model.name, status)
        return
    state.record(
        request, c.model.name, status, stream=call.stream, input_tokens=c.input_tokens,
        output_tokens=delivered, request_id=c.request_id, start_t=start_t,
        plan_ms=c.plan.total_s * 1000.0, dialect=dialect.name,
        key=redact_key(dialect.api_key(request.headers)), prompt=fingerprint(call.messages),
        max_tokens=call.max_tokens, tools=call.tools, fault=fault,
        ttft_ms=c.plan.ttft_s * 1000.0 if ttft and delivered else None,
        disconnected=status == CLIENT_GONE, cached_tokens=c.cached_tokens,
        cache_write_tokens=c.cache_write_5m + c.cache_write_1h,
        finish_reason=c.finish_reason if status == 200 else None,
    )  # fmt: skip


def _settle(state: MockState, c: Completion, produced: int) -> None:
    if c.ticket is not None:
        state.provider.settle(c.ticket, produced, state.clock.now())


def _produced_by(c: Completion, elapsed_s: float) -> int:
    """How many tokens the model had produced ``elapsed_s`` scenario seconds in."""
    t = c.plan.ttft_s
    if elapsed_s < t:
        return 0
    n = 1
    for gap in c.plan.gaps_s:
        t += gap
        if t > elapsed_s:
            break
        n += 1
    return min(n, len(c.pieces))


async def carry_out(
    request: web.Request,
    state: MockState,
    dialect: Dialect,
    call: ChatCall,
    c: Completion,
    headers: dict[str, str],
    start_t: float,
) -> web.StreamResponse:
    """A completion that carries a fault (a slow one is only a slower plan: not here)."""
    fault = c.fault
    clock = state.clock
    if isinstance(fault, StreamError) and not call.stream:
        # the error is the whole response: as an ``error`` fault, after the plan's round trip
        await asyncio.sleep(clock.wall(c.plan.network_s))
        _settle(state, c, 0)
        r = injected_rejection(c.model, fault.status, fault.error_type, fault.message, None,
                               None, 0.0, "stream_error")  # fmt: skip
        status, body, err_headers = dialect.rejection(r, clock)
        dialect.stamp(err_headers, c.request_id, c.plan.network_s, clock)
        _journal(state, request, dialect, call, c, status, start_t, 0)
        return web.Response(
            status=status, body=body, content_type="application/json", headers=err_headers
        )
    if isinstance(fault, EmptyFault) or (
        isinstance(fault, ResetFault) and fault.after_bytes is None
    ):
        await asyncio.sleep(clock.wall(c.plan.network_s))
        _settle(state, c, 0)
        _journal(state, request, dialect, call, c, NO_RESPONSE, start_t, 0)
        _drop(request, reset=isinstance(fault, ResetFault))
        return web.Response()  # never sent: the connection is closed
    if isinstance(fault, HangFault):
        stayed = await wait_while_connected(request, clock.wall(fault.max_s))
        _settle(state, c, 0)
        _journal(state, request, dialect, call, c, NO_RESPONSE if stayed else CLIENT_GONE,
                 start_t, 0)  # fmt: skip
        _drop(request, reset=False)
        return web.Response()
    if call.stream:
        return await stream(request, state, dialect, call, c, headers, start_t)
    return await _whole_body(request, state, dialect, call, c, headers, start_t)


async def _whole_body(
    request: web.Request,
    state: MockState,
    dialect: Dialect,
    call: ChatCall,
    c: Completion,
    headers: dict[str, str],
    start_t: float,
) -> web.StreamResponse:
    """A non-streamed answer with a fault in its body: malformed, or reset part-way."""
    fault = c.fault
    if not await wait_while_connected(request, state.clock.wall(c.plan.total_s)):
        _settle(state, c, c.output_tokens)
        _journal(state, request, dialect, call, c, CLIENT_GONE, start_t, 0)
        return web.Response()
    _settle(state, c, c.output_tokens)
    body = dialect.completion(c, call, int(time.time()))
    if isinstance(fault, MalformedFault):  # the body cut in half: not JSON
        _journal(state, request, dialect, call, c, 200, start_t, c.output_tokens)
        return web.Response(body=body[: len(body) // 2], content_type="application/json",
                            headers=headers)  # fmt: skip
    # a reset part-way, or a cut "stream" that does not stream: the headers, then some bytes
    after = fault.after_bytes if isinstance(fault, ResetFault) else 0
    assert after is not None
    resp = web.StreamResponse(status=200, headers=headers)
    resp.content_type = "application/json"
    resp.content_length = len(body)
    _journal(state, request, dialect, call, c, 200, start_t, 0)
    try:
        await resp.prepare(request)
        if after:
            await resp.write(body[:after])
        await asyncio.sleep(0.01)  # let the bytes reach the client before the reset
    except ConnectionResetError:
        pass
    _drop(request, reset=True)
    return resp


async def stream(
    request: web.Request,
    state: MockState,
    dialect: Dialect,
    call: ChatCall,
    c: Completion,
    headers: dict[str, str],
    start_t: float,
) -> web.StreamResponse:
    """The plan executor for a stream: the dialect renders the events, the plan times them.

    Tokens due at the same tick share one write. A fault ends the stream early: after its
    ``after_tokens`` tokens a cut stream just ends, a stream error sends its error event, a
    malformed one a broken line; a reset drops the connection after ``after_bytes`` bytes.
    """
    headers.update(
        {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    )
    resp = web.StreamResponse(status=200, headers=headers)
    writer = dialect.stream(c, call, int(time.time()))
    clock = state.clock
    fault = c.fault
    pieces = c.pieces
    if isinstance(fault, CutStream | StreamError | MalformedFault):
        pieces = pieces[: fault.after_tokens]
    budget = fault.after_bytes if isinstance(fault, ResetFault) else None
    delivered = 0
    status = 200
    write: Callable[[bytes], Awaitable[None]] = resp.write
    if budget is not None:
        sent = 0

        async def write_some(data: bytes) -> None:  # every byte up to the budget, then a reset
            nonlocal sent
            room = budget - sent
            await resp.write(data[:room])
            sent += min(len(data), room)
            if sent >= budget:
                await asyncio.sleep(0.01)
                raise _Reset

        write = write_some

    try:
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        await asyncio.sleep(clock.wall(c.plan.ttft_s))
        first_at = loop.time()
        buf = writer.opening()
        token = writer.token
        due = 0.0
        for i, piece in enumerate(pieces):
            if i > 0:
                due += clock.wall(c.plan.gaps_s[i - 1])
                wait = first_at + due - loop.time()
                if wait > 0.001:
                    await write(buf)
                    buf = b""
                    await asyncio.sleep(wait)
            buf += token(piece)
            delivered = i + 1
        if fault is None or isinstance(fault, SlowFault | ResetFault):
            await write(buf + writer.closing(delivered))
        elif isinstance(fault, StreamError):
            await write(buf + writer.error(fault.status, fault.error_type, fault.message))
        elif isinstance(fault, MalformedFault):
            await write(buf + broken_line(dialect.name))
        else:  # a cut stream: what was due, then nothing more
            await write(buf)
        await resp.write_eof()
    except _Reset:
        _drop(request, reset=True)
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        status = CLIENT_GONE
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        produced = delivered
        if status == CLIENT_GONE:  # tokens the model had produced by the time it noticed
            produced = max(delivered, _produced_by(c, clock.now() - start_t))
        # steps of the stream, in tokens of every choice (a stream of choices, n > 1)
        _settle(state, c, c.tokens_after(produced))
        _journal(state, request, dialect, call, c, status, start_t, c.tokens_after(delivered),
                 ttft=True)  # fmt: skip
    return resp


class _Reset(Exception):
    """The byte budget of a reset fault is spent (see :func:`stream`)."""
