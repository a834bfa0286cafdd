"""The mock provider's HTTP face: generic aiohttp handlers over the provider brain.

One handler per route, whatever the wire format: it takes the key and reads the body through
the route's dialect (``mock_provider.dialects``), asks the brain at the scenario time of its
:class:`~mock_provider.clock.WallClock`, and renders the answer through the dialect again,
executing the timing plan with real sleeps the clock converts to wall time (streams and every
fault: ``mock_provider/executor.py`` carries out the script ``mock_provider/delivery.py``
writes; a plain whole body is the script's fast copy, inline in the handler). A refusal, a
malformed request or a bug of ours is answered in the dialect's own error shape, never an
aiohttp error page, and never stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry

from mock_provider.config import ProviderConfig

from .admin import MockCollector, Observations, setup_admin_routes
from .body import BODY_RULES, BodyTooLarge, decode
from .clock import WallClock
from .delivery import is_plain
from .dialects import DIALECTS, BadRequest, ChatCall, Dialect
from .dialects import anthropic as ant
from .dialects import openai as oai
from .dialects.openai import responses as oai_responses
from .dialects.openai.responses import stored
from .executor import CLIENT_GONE, carry_out
from .journal import (
    RESET_PATH,
    JournalEntry,
    body_fingerprint,
    fingerprint,
    redact_key,
    request_tag,
    write_entry,
)
from .model.faults import FAULT_HEADER, FaultHeaderError, parse_fault_header
from .model.provider import ChatRequest, EmbedRequest, Provider, Rejection
from .plan_header import PLAN_HEADER, plan_ms_text
from .redis_store import POLL_S, RESET_WAIT_S, RedisStore, process_seed

__all__ = ["APP_STATE", "MockState", "create_app"]


@dataclass
class MockState:
    """The served mock: the brain, its clock, the journal and the counters.

    The journal goes to the request log file when one is kept (``log``) and to ``recent``,
    the last ``journal_size`` entries since the last reset (none when it is 0).
    ``GET /_stampede/requests`` serves ``recent``, else the log file from the last reset on.
    ``journaling`` says whether either wants entries: the hot path builds none otherwise.
    """

    cfg: ProviderConfig
    provider: Provider
    clock: WallClock
    log: IO[str] | None = None
    log_path: Path | None = None
    log_offset: int = 0  # where the last reset's entries start in the log file
    recent: deque[JournalEntry] | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    # Responses by (path, model, status). A plain dict, not a Counter: Counter defines
    # __delitem__ in Python, which puts every store into it through a slow generic slot.
    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # Responses a fault struck, by (dialect, model, status, fault kind): also in ``counts``.
    fault_counts: dict[tuple[str, str, int, str], int] = field(default_factory=dict)
    errors: int = 0
    observed: Observations | None = None
    store: RedisStore | None = None  # the shared limiter (--limiter redis://...), if any

    def __post_init__(self) -> None:
        self.observed = Observations()
        self.registry.register(MockCollector(self))

    def restart(self, epoch: float | None, time_scale: float | None, mark_log: bool = True) -> None:
        """This process's part of a reset: scenario t=0 at ``epoch`` (default now), fresh
        limits, caches and counters, and a mark in the log. Processes that share a log and
        follow another's reset leave the mark to the one that took the reset (``mark_log``),
        so one reset is one run to the audit."""
        if time_scale is not None:
            self.clock.rescale(time_scale)
        self.clock.reset(epoch)
        self.provider.reset(0.0)
        self.counts.clear()
        self.fault_counts.clear()
        if self.recent is not None:
            self.recent.clear()
        if self.log is not None:  # what follows in the log belongs to this reset's run
            if mark_log:
                entry = JournalEntry(t=0.0, path=RESET_PATH, status=200,
                                     time_scale=self.clock.time_scale)  # fmt: skip
                write_entry(self.log, entry)
            self.log.flush()
            self.log_offset = self.log.buffer.tell() if hasattr(self.log, "buffer") else 0

    @property
    def journaling(self) -> bool:
        return self.log is not None or self.recent is not None

    def body_limit(self, family: str) -> int:
        """The largest body a family's routes take: its documented limit
        (:data:`~mock_provider.body.BODY_RULES`), unless the config sets one for all."""
        return self.cfg.max_body_bytes or BODY_RULES[family].max_bytes

    @staticmethod
    def dialect_of_path(path: str) -> str:
        return _PATH_DIALECTS.get(path, "openai")

    def count_fault(self, dialect: str, model: str, status: int, fault: str | None) -> None:
        if fault is not None:
            key = (dialect, model, status, fault)
            self.fault_counts[key] = self.fault_counts.get(key, 0) + 1

    def record(
        self, request: web.Request, model: str, status: int, count: bool = True, **extra: Any
    ) -> None:
        """Count a response, and journal it when a request log is kept (``extra``: further
        :class:`~mock_provider.journal.JournalEntry` fields)."""
        if count:
            key = (request.path, model, status)
            self.counts[key] = self.counts.get(key, 0) + 1
        if self.log is not None or self.recent is not None:
            headers = request.headers
            raw = request.get(RAW_BODY)
            if extra.get("prompt") is None:  # a body no dialect read: its bytes' fingerprint
                extra["prompt"] = body_fingerprint(raw)
            entry = JournalEntry(
                t=round(self.clock.now(), 6),
                path=request.path,
                status=status,
                model=model,
                retry_count=headers.get("x-stainless-retry-count"),
                user_agent=headers.get("user-agent"),
                tag=request_tag(raw),
                **extra,
            )
            if self.log is not None:
                write_entry(self.log, entry)
            if self.recent is not None:
                self.recent.append(entry)


APP_STATE = web.AppKey("APP_STATE", MockState)
# A chat request's body, kept on the request when a journal is kept: the journal takes the
# request tag from it (journal.request_tag), whichever path records the response.
RAW_BODY = web.RequestKey("RAW_BODY", bytes)
# The ``created`` second of a response, read once per request: C functions bound here cost
# half of ``int(time.time())``, which goes through the int type's constructor.
_floor, _wall = math.floor, time.time
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"  # Anthropic's
_PATH_DIALECTS = {d.chat_path: d.name for d in DIALECTS.values()}
_PATH_DIALECTS[COUNT_TOKENS_PATH] = "anthropic"
API_PATHS = (
    *(d.chat_path for d in DIALECTS.values()),
    COUNT_TOKENS_PATH,
    "/v1/embeddings",
    "/v1/models",
)


# msgspec's encoder: the same compact JSON as json.dumps(separators=(",", ":")), UTF-8 rather
# than \u escapes, in a fifteenth of the time (0.4 us against 6.2 us for a 429's body).
_encode_json = msgspec.json.encode


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_encode_json(body),
        content_type="application/json",
        headers=headers,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dialect_of(request: web.Request) -> Dialect:
    """The wire format a request speaks, for answering it outside a chat route."""
    path = request.path
    for d in DIALECTS.values():
        if path == d.chat_path or path.startswith(d.chat_path + "/"):
            return d
    if "anthropic-version" in request.headers and "anthropic" in DIALECTS:
        return DIALECTS["anthropic"]
    return oai.DIALECT


def provider_errors(handler: Handler) -> Handler:
    """Answer every refusal in the request's dialect, whatever raised it.

    A decorator rather than an aiohttp middleware: middlewares cost every request a few
    microseconds of chain building, and the mock's hot path is measured against a bare app.
    Unknown paths and methods reach :func:`no_route` through catch-all routes instead.
    """

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            return _refusal(request, _dialect_of(request), exc)

    return wrapped


def _refusal(request: web.Request, dialect: Dialect, exc: Exception) -> web.Response:
    """The response for an exception that escaped a handler (see :func:`provider_errors`)."""
    if isinstance(exc, BadRequest):
        body = dialect.error(exc.status, exc.kind, exc.message, exc.param, exc.code)
        request.app[APP_STATE].record(
            request, "", exc.status, error=exc.code or exc.kind, dialect=dialect.name,
            key=redact_key(dialect.api_key(request.headers)),
        )  # fmt: skip
        return _error(request, dialect, exc.status, body)
    if isinstance(exc, web.HTTPRequestEntityTooLarge | BodyTooLarge):
        return _too_large(request, dialect)
    if isinstance(exc, RecursionError):  # nested past what a parser or a check can walk
        msg = "The request body is nested too deeply to be parsed."
        return _error(request, dialect, 400, dialect.error(400, "invalid_request", msg))
    # a bug of ours: still answer like the provider would
    request.app.logger.error("unhandled error in %s", request.path, exc_info=exc)
    body = dialect.error(500, "server_error", f"Internal error: {type(exc).__name__}")
    _journal_refusal(request, dialect, 500, "server_error")
    return _error(request, dialect, 500, body)


def _too_large(request: web.Request, dialect: Dialect) -> web.Response:
    """The family's own 413 (:data:`~mock_provider.body.BODY_RULES`): sent by the service's
    front (Cloudflare, for both) before the API sees the request, so it carries no request
    id; the connection stays open (aiohttp reads the rest of the body away)."""
    state = request.app[APP_STATE]
    state.errors += 1
    _journal_refusal(request, dialect, 413, "request_too_large")
    rules = BODY_RULES[dialect.serves]
    return web.Response(status=413, body=rules.too_large_body,
                        content_type=rules.too_large_content_type)  # fmt: skip


def _journal_refusal(
    request: web.Request, dialect: Dialect, status: int, error: str, model: str = ""
) -> None:
    """Journal a refusal made outside the brain (no limit was charged): with the key and the
    body's fingerprint, like every line. Not counted: its path may be any string a client
    sent, and the metrics' labels must stay few."""
    state = request.app[APP_STATE]
    if state.journaling:
        state.record(request, model, status, count=False, error=error, dialect=dialect.name,
                     key=redact_key(dialect.api_key(request.headers)))  # fmt: skip


def _error(
    request: web.Request,
    dialect: Dialect,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    processing_s: float = 0.0,
) -> web.Response:
    """An error response; it carries a request id and the dialect's headers as the real API's
    do (the id from the brain's stream for responses no numbered request stands behind)."""
    state = request.app[APP_STATE]
    state.errors += 1
    headers = dict(headers or {})
    request_id = state.provider.unnumbered_request_id()
    dialect.stamp(headers, request_id, processing_s, state.clock)
    body = dialect.with_request_id(body, request_id)
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


@provider_errors
async def no_route(request: web.Request) -> web.StreamResponse:
    """404 for unknown paths, 405 for a known path with the wrong method."""
    dialect = _dialect_of(request)
    if request.app[APP_STATE].journaling and request.can_read_body:
        with contextlib.suppress(web.HTTPRequestEntityTooLarge, BodyTooLarge):  # a 404 still
            await _read_body(request, dialect.serves)  # for the line's fingerprint
    if request.path in API_PATHS:
        msg = f"Method {request.method} is not allowed for {request.path}."
        _journal_refusal(request, dialect, 405, "method_not_allowed")
        return _error(request, dialect, 405, dialect.error(405, "invalid_request", msg))
    msg = f"Invalid URL ({request.method} {request.path})"
    _journal_refusal(request, dialect, 404, "unknown_path")
    return _error(request, dialect, 404, dialect.error(404, "invalid_request", msg))


def _arrived_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, taken from the buffer, if it came with the headers; else None.

    A chat request's body usually arrives with its headers. ``request.read()`` would still
    await it chunk by chunk and copy it twice: about 14k instructions, over 4% of what a
    request costs the whole server (``bench/mock_instructions.py``). A body
    still arriving is left to ``read()`` (:func:`read_body`), which refuses one over the
    route's limit with the same :class:`~aiohttp.web.HTTPRequestEntityTooLarge`.
    """
    content = request.content
    if not content.is_eof():
        return None
    raw = content.read_nowait()
    if len(raw) > limit:
        request[RAW_BODY] = raw  # the journal fingerprints what it refused
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    return raw


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body of a request to a route whose family takes ``limit`` bytes, its content
    codings undone (``mock_provider/body.py``). A body over the limit raises
    :class:`~aiohttp.web.HTTPRequestEntityTooLarge` or :class:`~mock_provider.body.BodyTooLarge`.
    """
    raw = _arrived_body(request, limit)
    if raw is None:
        raw = await _rest_of_body(request, limit)
    return _received(request, raw, limit)


async def _rest_of_body(request: web.Request, limit: int) -> bytes:
    """A body still arriving, read whole; aiohttp refuses one past the app's client_max_size
    (the largest family's limit), this one past the route's."""
    length = request.content_length
    if length is not None and length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
    raw = await request.read()
    if len(raw) > limit:
        request[RAW_BODY] = raw
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    return raw


def _received(request: web.Request, raw: bytes, limit: int) -> bytes:
    """``raw`` as a route reads it, its content codings undone. The journal fingerprints what
    arrived (``RAW_BODY``): the decoded body, or the bytes themselves when they do not decode,
    so that two different unreadable bodies keep two fingerprints."""
    request[RAW_BODY] = raw
    coding = request.headers.get("content-encoding")
    if coding is None:
        return raw
    decoded = decode(raw, coding, limit)
    if decoded:  # UNREADABLE is empty: keep the bytes that came for the fingerprint
        request[RAW_BODY] = decoded
    return decoded


ADMIN_MAX_BYTES = 1024 * 1024  # an admin route's body: one small JSON object


async def read_json(request: web.Request) -> Any:
    """An admin route's JSON body, decoded as the API routes decode theirs; a 400 if it is
    not JSON (or nested too deep to decode), a 413 past :data:`ADMIN_MAX_BYTES`."""
    raw = await read_body(request, ADMIN_MAX_BYTES)
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise BadRequest("the body must be JSON") from None


async def _read_body(request: web.Request, family: str) -> bytes:
    return await read_body(request, request.app[APP_STATE].body_limit(family))


def _reject(
    state: MockState,
    request: web.Request,
    dialect: Dialect,
    model: str,
    r: Rejection,
    start_t: float,
    call: ChatCall | None = None,
    prompt: str | None = None,
) -> web.Response:
    """Render a refusal whose round trip (``r.latency_s``, from ``start_t``) has been waited;
    ``call``: the parsed request, when it got that far (the dialect words some refusals by
    it; the journal takes the prompt's fingerprint, max_tokens and streaming from it);
    ``prompt``: the fingerprint, when only the journal read the body."""
    status, body, headers = dialect.rejection(r, state.clock, call)
    headers[PLAN_HEADER] = plan_ms_text(r.latency_s, state.clock)
    if r.fault is not None:
        state.count_fault(dialect.name, model, status, r.fault)
    if not state.journaling:  # state.record() without building a log entry no one reads
        counted = (request.path, model, status)
        state.counts[counted] = state.counts.get(counted, 0) + 1
    else:
        state.record(
            request, model, status, error=r.kind, retry_after_s=r.retry_after_s,
            start_t=start_t, plan_ms=r.latency_s * 1000.0, dialect=dialect.name,
            key=redact_key(dialect.api_key(request.headers)), fault=r.fault,
            prompt=prompt if call is None else fingerprint(call.messages),
            max_tokens=None if call is None else call.max_tokens,
            stream=False if call is None else call.stream,
        )  # fmt: skip
    return _error(request, dialect, status, body, headers, r.latency_s)


async def _refuse(
    state: MockState,
    request: web.Request,
    dialect: Dialect,
    model: str,
    r: Rejection,
    prompt: str | None = None,
) -> web.Response:
    """A refusal, sent after its round trip (off the chat path, which writes this out);
    ``prompt``: the fingerprint of the messages, when the body was read for the journal."""
    start_t = state.clock.now()
    if r.latency_s:
        await asyncio.sleep(state.clock.wall(r.latency_s))
    return _reject(state, request, dialect, model, r, start_t, prompt=prompt)


async def _read_for_journal(
    state: MockState, request: web.Request, dialect: Dialect, parse: Callable[[bytes], ChatCall]
) -> tuple[str, str | None]:
    """(model, fingerprint of the messages) of a chat body refused before it was read (a
    401), read only for the journal: the same prompt keeps its fingerprint whether it was
    refused or answered. ("", None) if no journal is kept or the body does not parse (the
    journal then takes its bytes' fingerprint)."""
    if not state.journaling:
        return "", None
    try:
        call = parse(await _read_body(request, dialect.serves))
    except Exception:  # a 401 all the same: the key is checked before the body
        return "", None
    return call.model, fingerprint(call.messages)


def chat_handler(state: MockState, dialect: Dialect) -> Handler:
    """The chat route's handler for one dialect, bound at route setup.

    The hot path of the mock, and measured against a bare aiohttp app: ``state`` and the
    dialect's methods are closed over rather than looked up per request.
    """
    provider, clock = state.provider, state.clock
    api_keys = provider.api_keys
    counts = state.counts
    max_body = state.body_limit(dialect.serves)
    path = dialect.chat_path
    key_of, parse, prefixes_of = dialect.api_key, dialect.parse_chat, dialect.cache_prefixes
    check_headers = dialect.check_headers
    ratelimit_headers, render, stamp = dialect.ratelimit_headers, dialect.completion, dialect.stamp
    dialect_name = dialect.serves  # a model answers only in its own wire format's family
    route = dialect.name
    assert state.observed is not None
    observe_latency = state.observed.latency.observe

    async def handler(request: web.Request) -> web.StreamResponse:
        # provider_errors written out (the try/except around the body) rather than applied:
        # the decorator's extra coroutine is a measurable share of this handler's cost.
        try:
            key = key_of(request.headers)
            if not key or (api_keys and key not in api_keys):  # provider.authenticate(), inline
                denied = provider.authenticate(key)
                assert denied is not None
                named, prompt = await _read_for_journal(state, request, dialect, parse)
                return await _refuse(state, request, dialect, named, denied, prompt)
            check_headers(request.headers)
            raw = _arrived_body(request, max_body)
            if raw is None:  # still arriving
                raw = await _rest_of_body(request, max_body)
            raw = _received(request, raw, max_body)  # read_body, inline
            call = parse(raw)
            model = call.model
            asked = request.headers.get(FAULT_HEADER)
            fault = None if asked is None else _asked_fault(asked)
            now = clock.now()
            decision = provider.chat(
                ChatRequest(key, model, call.input_tokens, call.max_tokens, call.stream,
                            call.messages, prefixes_of, dialect_name, route, path, call.tools,
                            fault, call.output),
                now,
            )  # fmt: skip
            if isinstance(decision, Rejection):
                if decision.latency_s:  # a refusal takes a round trip too (_refuse, inline)
                    await asyncio.sleep(clock.wall(decision.latency_s))
                return _reject(state, request, dialect, model, decision, now, call)
            headers = ratelimit_headers(decision.ratelimit, clock)
            plan = decision.plan
            plan_s = plan.total_s
            # A stream's headers go out at its first token; a whole body's when it is done.
            stamp(headers, decision.request_id, plan.ttft_s if call.stream else plan_s, clock)
            headers[PLAN_HEADER] = plan_ms_text(plan_s, clock)
            if call.stream or not is_plain(decision):  # the delivery script, carried out
                return await carry_out(request, state, dialect, call, decision, headers, now)
            # A plain whole body: the script's fast copy (mock_provider.delivery's _whole_body
            # without a fault; tests/test_delivery.py holds them to the same bytes).
            ticket = decision.ticket
            if ticket is None:  # finished, and settled, at admission: nothing to wait for
                delivered = decision.output_tokens
            else:
                delivered = 0
                try:
                    await asyncio.sleep(clock.wall(plan_s))
                    delivered = decision.output_tokens
                finally:
                    provider.settle(ticket, delivered, clock.now())
                transport = request.transport
                if transport is None or transport.is_closing():  # the client left: no 200
                    return _abandoned(state, request, dialect, call, decision, now)
            observe_latency(plan_s)
            # The route's own path: request.path would be the same string, decoded anew.
            counted = (path, decision.model.name, 200)
            counts[counted] = counts.get(counted, 0) + 1
            if decision.fault is not None:
                state.count_fault(dialect.name, model, 200, decision.fault.kind)
            if state.journaling:  # build the log entry only when someone reads it
                state.record(request, model, 200, count=False, stream=False,
                             input_tokens=call.input_tokens, output_tokens=delivered,
                             request_id=decision.request_id, start_t=now,
                             plan_ms=plan_s * 1000.0, dialect=dialect.name,
                             key=redact_key(key), prompt=fingerprint(call.messages),
                             max_tokens=call.max_tokens, tools=call.tools,
                             fault=decision.fault and decision.fault.kind,
                             cached_tokens=decision.cached_tokens,
                             cache_write_tokens=decision.cache_write_5m + decision.cache_write_1h,
                             finish_reason=decision.finish_reason)  # fmt: skip
            return web.Response(
                body=render(decision, call, _floor(_wall())),
                content_type="application/json",
                headers=headers,
            )
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            return _refusal(request, dialect, exc)

    return handler


def _asked_fault(value: str) -> Any:
    """The fault an ``x-stampede-fault`` header asks for; a 400 naming the problem if none."""
    try:
        return parse_fault_header(value)
    except FaultHeaderError as exc:
        raise BadRequest(f"{FAULT_HEADER}: {exc}", FAULT_HEADER) from None


def _abandoned(
    state: MockState,
    request: web.Request,
    dialect: Dialect,
    call: ChatCall,
    c: Any,
    start_t: float,
) -> web.Response:
    """A non-streamed answer whose client went away before it was ready: journalled as 499,
    with nothing delivered (the limits settled on what the model produced)."""
    state.record(request, c.model.name, CLIENT_GONE, stream=False, input_tokens=c.input_tokens,
                 request_id=c.request_id, start_t=start_t, plan_ms=c.plan.total_s * 1000.0,
                 dialect=dialect.name, key=redact_key(dialect.api_key(request.headers)),
                 prompt=fingerprint(call.messages), max_tokens=call.max_tokens,
                 tools=call.tools, disconnected=True)  # fmt: skip
    return web.Response(status=CLIENT_GONE)


@provider_errors
async def embeddings(request: web.Request) -> web.StreamResponse:
    state = request.app[APP_STATE]
    key = oai.bearer_key(request.headers)
    denied = state.provider.authenticate(key)
    if denied:
        return await _refuse(state, request, oai.DIALECT, "", denied)
    body = oai.parse_embeddings(await _read_body(request, "openai"))
    inputs = oai.embedding_inputs(body)
    now = state.clock.now()
    result = state.provider.embed(EmbedRequest(key, body["model"], inputs), now,
                                  body.get("dimensions"))  # fmt: skip
    if isinstance(result, Rejection):
        return await _refuse(state, request, oai.DIALECT, body["model"], result)
    plan_s = result.plan.total_s
    await asyncio.sleep(state.clock.wall(plan_s))
    state.provider.settle(result.ticket, 0, state.clock.now())
    headers = oai.ratelimit_headers(result.ratelimit, state.clock)
    oai.DIALECT.stamp(headers, result.request_id, plan_s, state.clock)
    headers[PLAN_HEADER] = plan_ms_text(plan_s, state.clock)
    state.record(request, body["model"], 200, input_tokens=result.input_tokens, start_t=now,
                 plan_ms=plan_s * 1000.0)  # fmt: skip
    return _json(200, oai.embedding_body(result, body.get("encoding_format", "float")), headers)


def _speaks_anthropic(request: web.Request) -> bool:
    """A request to a shared path (``/v1/models``) in Anthropic's format: it names a version."""
    return ant.VERSION in request.headers


@provider_errors
async def list_models(request: web.Request) -> web.StreamResponse:
    state = request.app[APP_STATE]
    if _speaks_anthropic(request):
        return await _anthropic_models(request, state)
    denied = state.provider.authenticate(oai.bearer_key(request.headers))
    if denied:
        return await _refuse(state, request, oai.DIALECT, "", denied)
    # OpenAI's own models only, each alias listed as a model of its own, as the real list does.
    serves = oai.DIALECT.serves
    listed = [(n, m) for n, m in state.provider.catalog.items() if m.dialect == serves]
    return _ok(state, oai.models_body(listed))


def _ok(state: MockState, body: dict[str, Any], dialect: Dialect = oai.DIALECT) -> web.Response:
    """A 200 JSON body off the chat path, with the headers every response carries."""
    headers: dict[str, str] = {}
    dialect.stamp(headers, state.provider.unnumbered_request_id(), 0.0, state.clock)
    return _json(200, body, headers)


def _claude_models(state: MockState) -> list[Any]:
    """The Claude models, newest first as the real list is, once each (aliases resolve to a
    listed ID but are not listed themselves)."""
    specs = {m.snapshot or m.name: m for m in state.provider.catalog.values()
             if m.dialect == ant.DIALECT.serves and m.name == (m.snapshot or m.name)}  # fmt: skip
    return sorted(specs.values(), key=lambda m: m.released or date.max, reverse=True)


async def _anthropic_models(request: web.Request, state: MockState) -> web.StreamResponse:
    """``GET /v1/models`` in Anthropic's shape: the models that speak its API, paged by
    ``limit`` (1-1000, default 20), ``before_id`` and ``after_id``."""
    denied = state.provider.authenticate(ant.api_key(request.headers))
    if denied:
        return await _refuse(state, request, ant.DIALECT, "", denied)
    query = request.query
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise BadRequest("limit: Input should be a valid integer", "limit") from None
    if not 1 <= limit <= 1000:
        raise BadRequest("limit: Input should be between 1 and 1000", "limit")
    specs = _claude_models(state)
    names = {s.name for s in specs}
    before, after = query.get("before_id"), query.get("after_id")
    for cursor, value in (("before_id", before), ("after_id", after)):
        if value is not None and value not in names:
            raise BadRequest(f"{cursor}: no model with id {value!r}", cursor)
    return _ok(state, ant.models_page(specs, limit, before, after), ant.DIALECT)


@provider_errors
async def get_model(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models/{id}``: one model, in Anthropic's shape when the request names an
    ``anthropic-version``, else OpenAI's."""
    state = request.app[APP_STATE]
    model_id = request.match_info["model_id"]
    anthropic = _speaks_anthropic(request)
    dialect: Dialect = ant.DIALECT if anthropic else oai.DIALECT
    denied = state.provider.authenticate(dialect.api_key(request.headers))
    if denied:
        return await _refuse(state, request, dialect, "", denied)
    spec = state.provider.catalog.get(model_id)
    if spec is None or spec.dialect != dialect.serves:
        msg = f"model: {model_id}" if anthropic else f"The model '{model_id}' does not exist"
        _journal_refusal(request, dialect, 404, "model_not_found", model_id)
        return _error(request, dialect, 404, dialect.error(404, "model_not_found", msg, "model",
                                                           "model_not_found"))  # fmt: skip
    if anthropic:
        return _ok(state, ant.model_info(spec), ant.DIALECT)
    return _ok(state, oai.model_body(model_id, spec))


@provider_errors
async def count_tokens(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, counted as a message's
    prompt is (``mock_provider/dialects/anthropic/tokens.py``); no limit is charged."""
    state = request.app[APP_STATE]
    denied = state.provider.authenticate(ant.api_key(request.headers))
    if denied:
        return await _refuse(state, request, ant.DIALECT, "", denied)
    ant.DIALECT.check_headers(request.headers)
    body = ant.decode(await _read_body(request, "anthropic"))
    ant.validate(body, ant.COUNT_TOKENS_FIELDS)
    ant.read_rules(body)
    spec = state.provider.catalog.get(body["model"])
    if spec is None or spec.kind != "chat" or spec.dialect != ant.DIALECT.serves:
        msg = f"model: {body['model']}"
        _journal_refusal(request, ant.DIALECT, 404, "model_not_found", str(body["model"]))
        return _error(request, ant.DIALECT, 404, ant.DIALECT.error(404, "model_not_found", msg))
    state.record(request, spec.name, 200)
    return _ok(state, {"input_tokens": ant.count_request(body)}, ant.DIALECT)


# -- stored responses (GET/DELETE /v1/responses/{id}, GET .../input_items) ---------------------


def _stored_handler(answer: Callable[[web.Request, str], Any]) -> Handler:
    """A stored-response route: the key checked, the body from ``answer``, refusals in the
    Responses dialect's words (:mod:`mock_provider.dialects.openai.responses.stored`)."""
    dialect = oai_responses.DIALECT

    @provider_errors
    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[APP_STATE]
        denied = state.provider.authenticate(oai.bearer_key(request.headers))
        if denied:
            return await _refuse(state, request, dialect, "", denied)
        body = answer(request, request.match_info["response_id"])
        state.record(request, "", 200, count=False)  # a count per response id would grow
        return _ok(state, dict(body), dialect)

    return handler


_RESPONSE_STORE = oai_responses.DIALECT.store
retrieve_response = _stored_handler(lambda r, rid: stored.retrieved(_RESPONSE_STORE, rid))
delete_response = _stored_handler(lambda r, rid: stored.deleted(_RESPONSE_STORE, rid))
list_input_items = _stored_handler(
    lambda r, rid: stored.input_items_page(_RESPONSE_STORE, rid, r.query)
)


@provider_errors
async def admin_reset(request: web.Request) -> web.StreamResponse:
    """Fresh limits, caches, faults clock and counters: each strategy starts on equal terms.

    ``{"epoch": <unix time>}`` sets scenario t=0; ``{"time_scale": k}`` changes the scale
    (``stampede run --time-scale auto`` calibrates at several, then runs at the one chosen).
    """
    state = request.app[APP_STATE]
    epoch = scale = None
    if request.can_read_body:
        data = await read_json(request)
        try:
            epoch = float(data.get("epoch"))
        except (ValueError, TypeError, AttributeError):
            epoch = math.nan
        if not math.isfinite(epoch):
            raise BadRequest("'epoch' must be a number (wall-clock seconds)", "epoch")
        if data.get("time_scale") is not None:
            try:
                scale = float(data["time_scale"])
            except (ValueError, TypeError):
                scale = 0.0
            if not 0 < scale < math.inf:
                raise BadRequest("'time_scale' must be a number above 0", "time_scale")
    store = state.store
    if store is None:
        state.restart(epoch, scale)
        return _json(200, {"ok": True, "time_scale": state.clock.time_scale})
    # Every process starts over: a new shared epoch and fresh buckets; answer when they all did.
    shared = store.reset(epoch, scale or state.clock.time_scale)
    state.restart(shared.epoch, shared.time_scale)
    store.heartbeat()
    deadline = time.monotonic() + RESET_WAIT_S
    while not store.all_restarted() and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S / 5)
    return _json(200, {"ok": True, "time_scale": state.clock.time_scale})


async def health(request: web.Request) -> web.StreamResponse:
    state = request.app[APP_STATE]
    return _json(200, {"ok": True, "scenario_seconds": state.clock.now()})


async def _follow_shared_clock(app: web.Application) -> Any:
    """Reset this process when another one was reset (the shared generation moved)."""
    state = app[APP_STATE]
    store = state.store
    assert store is not None

    async def follow() -> None:
        while True:
            await asyncio.sleep(POLL_S)
            seen = store.generation
            shared = store.current()
            if shared.generation != seen:  # another process took the reset, and marked it
                state.restart(shared.epoch, shared.time_scale, mark_log=False)
            store.heartbeat()

    task = asyncio.create_task(follow())
    yield
    task.cancel()


def setup_routes(app: web.Application) -> None:
    for dialect in DIALECTS.values():
        app.router.add_post(dialect.chat_path, chat_handler(app[APP_STATE], dialect))
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post(COUNT_TOKENS_PATH, count_tokens)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model_id}", get_model)
    app.router.add_get("/v1/responses/{response_id}", retrieve_response)
    app.router.add_delete("/v1/responses/{response_id}", delete_response)
    app.router.add_get("/v1/responses/{response_id}/input_items", list_input_items)
    setup_admin_routes(app)
    app.router.add_post("/_stampede/reset", admin_reset)
    app.router.add_get("/_stampede/health", health)
    for path in API_PATHS:
        app.router.add_route("*", path, no_route)
    app.router.add_route("*", "/{tail:.*}", no_route)


def create_app(
    cfg: ProviderConfig,
    request_log: str | Path | None = None,
    journal_size: int = 10_000,
    store: RedisStore | None = None,
) -> web.Application:
    """The mock as an aiohttp app (tests mount it with ``aiohttp_client``).

    ``journal_size``: how many journal entries ``GET /_stampede/requests`` keeps (0: none,
    and the hot path builds no entry unless a ``request_log`` is kept). ``store``: limits
    and fault counts shared with other processes, and their clock (``redis_store``).
    """
    # aiohttp's own decompression off: a body that does not decode is ours to refuse, with the
    # connection kept (mock_provider/body.py). Its size cap is the largest family's limit;
    # each route holds its own family's (MockState.body_limit).
    app = web.Application(
        client_max_size=cfg.max_body_bytes or max(r.max_bytes for r in BODY_RULES.values()),
        handler_args={"auto_decompress": False},
    )
    if store is None:
        clock = WallClock(cfg.time_scale)
        provider = Provider(cfg, clock.now())
    else:
        shared = store.join(cfg.time_scale)
        clock = WallClock(shared.time_scale, shared.epoch)
        # Its own seed, so that its ids and draws are not another process's (redis_store).
        seeded = cfg.model_copy(update={"seed": process_seed(cfg.seed, store.enlist())})
        provider = Provider(seeded, clock.now(), store, store)
    recent: deque[JournalEntry] | None = deque(maxlen=journal_size) if journal_size else None
    app[APP_STATE] = MockState(cfg, provider, clock, recent=recent, store=store)
    if store is not None:
        app.cleanup_ctx.append(_follow_shared_clock)

    async def request_log_ctx(app: web.Application) -> Any:
        if request_log is None:
            yield
            return
        with open(request_log, "a", buffering=1) as fh:
            state = app[APP_STATE]
            state.log, state.log_path = fh, Path(request_log)
            state.log_offset = fh.tell()
            yield
            state.log = None

    app.cleanup_ctx.append(request_log_ctx)
    setup_routes(app)
    return app
