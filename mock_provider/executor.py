"""The plan executor: carry out a completion's delivery script live.

The brain decides (``Provider.chat``): the plan says when each token is due, the fault
(``mock_provider/model/faults.py``) what goes wrong. :func:`mock_provider.delivery.script`
turns both into steps (wait, head, write, settle, reset, close, hang, refuse, end); this
module carries the steps out with real sleeps on the request's connection, and tells the
journal what happened. The virtual transport (``simulator/virtual/transport.py``) carries out
the same scripts in scenario time; a test holds the two to the same outcome for each fault
kind. Tokens due within a millisecond of wall time of each other share one write.

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
from typing import TYPE_CHECKING

from aiohttp import web

from . import delivery as d
from .dialects import ChatCall, Dialect
from .journal import fingerprint, redact_key
from .model.provider import Completion

if TYPE_CHECKING:
    from .server import MockState

__all__ = ["CLIENT_GONE", "NO_RESPONSE", "carry_out", "wait_while_connected"]

NO_RESPONSE = 0  # the journal's status when no status line was sent
CLIENT_GONE = 499  # nginx's "client closed request": the client went away first
_POLL_S = 0.05  # how often a hang looks whether its client is still there (wall seconds)
_LINGER_RST = struct.pack("ii", 1, 0)


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


def _settle(state: MockState, c: Completion, tokens: int) -> None:
    if c.ticket is not None:
        state.provider.settle(c.ticket, tokens, state.clock.now())


def _produced_by(c: Completion, elapsed_s: float) -> int:
    """How many stream steps the model had produced ``elapsed_s`` scenario seconds in."""
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


class _Gone(Exception):
    """The client went away while the script was being carried out."""


async def carry_out(
    request: web.Request,
    state: MockState,
    dialect: Dialect,
    call: ChatCall,
    c: Completion,
    headers: dict[str, str],
    start_t: float,
) -> web.StreamResponse:
    """Carry out ``c``'s delivery script (:mod:`mock_provider.delivery`) on the connection.

    Waits keep to the plan's absolute schedule, so the time spent writing is not added to
    it; bytes due within a millisecond of each other go out in one write. A client that
    leaves before the script settles the limits has them settled on the tokens the model had
    produced by then (at least those delivered), and no more than the script would have
    settled (none for a hang).
    """
    clock = state.clock
    loop = asyncio.get_running_loop()
    t0, due = loop.time(), 0.0
    resp: web.StreamResponse | None = None
    status, steps, buf, settled, at = NO_RESPONSE, 0, b"", False, 0
    script = d.script(c, dialect, call, int(time.time()))
    try:
        for at, step in enumerate(script):  # noqa: B007 (``at`` is read after the loop)
            match step:
                case d.Wait(seconds=s):
                    due += clock.wall(s)
                    left = t0 + due - loop.time()
                    if left > 0.001:
                        if buf:
                            assert resp is not None
                            await resp.write(buf)
                            buf = b""
                        if not await wait_while_connected(request, left):
                            raise _Gone
                case d.Write():
                    buf += step.data
                    steps = step.steps
                case d.Head():
                    resp = _prepared(step, headers)
                    await resp.prepare(request)
                    status = step.status
                case d.Settle(tokens=tokens):
                    _settle(state, c, tokens)
                    settled = True
                case d.Hang(max_s=max_s):
                    if not await wait_while_connected(request, clock.wall(max_s)):
                        raise _Gone
                case d.Refuse(rejection=r):
                    status, body, err_headers = dialect.rejection(r, clock, call)
                    dialect.stamp(err_headers, c.request_id, c.plan.network_s, clock)
                    return web.Response(status=status, body=body, content_type=d.JSON,
                                        headers=err_headers)  # fmt: skip
                case d.End():
                    assert resp is not None
                    await resp.write(buf)
                    await resp.write_eof()
                case d.Reset() | d.Close():
                    if resp is not None:  # the bytes before the reset reach the client first
                        await resp.write(buf)
                        await asyncio.sleep(0.01)
                    _drop(request, reset=isinstance(step, d.Reset))
    except (_Gone, ConnectionResetError):
        status = CLIENT_GONE
    except asyncio.CancelledError:
        status = CLIENT_GONE
        raise
    finally:
        if not settled:  # the client left first, or the task was cancelled
            produced = max(steps, _produced_by(c, clock.now() - start_t))
            owed = next(later.tokens for later in script[at:] if isinstance(later, d.Settle))
            _settle(state, c, min(owed, d.tokens_after(c, produced)))
        _journal(state, request, dialect, call, c, status, start_t, d.tokens_after(c, steps),
                 ttft=call.stream)  # fmt: skip
    return resp if resp is not None else web.Response()  # none sent: the connection is closed


def _prepared(head: d.Head, headers: dict[str, str]) -> web.StreamResponse:
    """The response a :class:`~mock_provider.delivery.Head` step starts, not yet sent."""
    if head.content_type == d.SSE:
        headers.update(
            {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        )
        return web.StreamResponse(status=head.status, headers=headers)
    resp = web.StreamResponse(status=head.status, headers=headers)
    resp.content_type = head.content_type
    resp.content_length = head.length
    return resp
