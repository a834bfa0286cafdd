"""Carry out one :class:`AttemptSpec` over Locust's FastHttpSession and report an Outcome.

This is the edge where foreign exceptions are translated (httpx style): timeouts and
connection errors become ``status 0`` with error ``"timeout"`` / ``"connection"``, so the
client brain never sees geventhttpclient's exception types. Each attempt is reported to
Locust's own statistics under ``"<model> chat|stream"``, with the full streaming time.

Times come back in scenario seconds: wall seconds (measured here, or read from headers) times
the time scale. A non-streamed 2xx's TTFT is its latency: the first token a user sees comes
with the whole body.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import gevent

from mock_provider.clock import WallClock
from simulator.client.events import AttemptSpec, Outcome
from simulator.wire import (
    HttpCall,
    ResponseFacts,
    SSEReader,
    build_call,
    read_body,
    read_headers,
    stream_error,
)

__all__ = ["WARM_UP_PATH", "LocustTransport"]

_CHUNK = 512
_FOREVER = float("inf")
WARM_UP_PATH = "/_stampede/health"  # a stampede mock's: touches no limit, counter or log


def _error_kind(exc: BaseException | None) -> str:
    if exc is None:
        return "connection"
    # geventhttpclient wraps what failed (RetriesExceeded(..., original=timed out))
    original = getattr(exc, "original", None)
    if isinstance(original, BaseException):
        exc = original
    if isinstance(exc, socket.timeout | TimeoutError) or "timeout" in type(exc).__name__.lower():
        return "timeout"
    return "connection"


def _headers(resp: Any) -> Any:
    """The response's headers, or {} when it has none. (Not ``resp.headers or {}``: the
    truth test of geventhttpclient's Headers is a Python-level count of every header.)"""
    headers = resp.headers
    return {} if headers is None else headers


def _truncated(resp: Any, content: bytes) -> bool:
    """A body shorter than its Content-Length said."""
    length = _headers(resp).get("content-length")
    try:
        return length is not None and len(content) < int(length)
    except ValueError:
        return False


class LocustTransport:
    """``send(spec) -> Outcome``; ``now`` is the driver's scenario clock."""

    def __init__(self, session: Any, clock: WallClock) -> None:
        self.session = session
        self.now = clock.now
        self.scenario = clock.scenario  # wall seconds read off the wire, as scenario seconds
        self.wall = clock.wall

    def warm_up(self, n: int, timeout: float, path: str = WARM_UP_PATH) -> None:
        """Open ``n`` connections with a GET of ``path`` each, outside Locust's statistics.

        A burst at t=0 on a fresh Locust process otherwise pays for connecting and for cold
        code inside its first attempts: 20 at once took 15-17 ms of wall time longer than
        their plans on a cold process, 5-10 ms on new connections, 3-5 ms warm; at 8x that
        is 130 ms of scenario time. The scenario models no TCP handshakes.
        """
        url = self.session.base_url + path

        def one() -> None:
            resp = self.session.client.urlopen(url, method="GET")
            read_body(resp.status_code, resp.content or b"")

        openers = [gevent.spawn(one) for _ in range(n)]
        gevent.joinall(openers, timeout=timeout)
        gevent.killall(openers)

    def send(self, spec: AttemptSpec) -> Outcome:
        """One attempt; the session's own timeouts are connect and read (set on the user),
        and what is left of the logical request's total timeout bounds the whole attempt."""
        total = spec.total_timeout_s
        if total == _FOREVER:
            return self._send(spec)
        started = time.perf_counter()
        deadline = gevent.Timeout(self.wall(total))
        deadline.start()
        try:
            return self._send(spec)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return Outcome(self.now(), 0, "timeout", latency_s=self._scen(started))
        finally:
            deadline.close()

    def _send(self, spec: AttemptSpec) -> Outcome:
        call = build_call(spec)
        if spec.stream:
            return self._send_stream(spec, call)
        started = time.perf_counter()
        # No catch_response: Locust reports a 4xx/5xx as a failure by itself, and skipping
        # the context manager keeps the hot path short.
        resp = self.session.request(
            "POST", call.path, name=call.stats_name, data=call.body, headers=call.headers
        )
        status = int(resp.status_code or 0)
        if status == 0:
            return Outcome(self.now(), 0, _error_kind(resp.error), latency_s=self._scen(started))
        try:
            content = resp.content or b""
            body = read_body(status, content)
        except Exception as exc:  # the body was cut off mid-read
            return Outcome(self.now(), 0, _error_kind(exc), latency_s=self._scen(started))
        if (body.error == "malformed" or not content) and _truncated(resp, content):
            # the connection broke before the body was whole: httpx raises for it (the SDKs'
            # APIConnectionError), where geventhttpclient hands over what arrived
            return Outcome(self.now(), 0, "connection", latency_s=self._scen(started))
        headers = resp.headers  # not ``or {}``: see _headers
        ok = 200 <= status < 300
        facts = read_headers({} if headers is None else headers, ok, spec.dialect)
        retry_after, plan = facts.retry_after_s, facts.plan_s
        latency = self._scen(started)
        return Outcome(  # positional, in field order: this runs per attempt
            self.now(),
            status,
            body.error,
            None if retry_after is None else self.scenario(retry_after),
            body.input_tokens,
            body.output_tokens,
            body.cached_tokens,
            body.finish_reason,
            # ttft_s: a user sees the first token when the whole body arrives
            latency if ok else None,
            latency,
            facts.remaining_requests,
            facts.remaining_tokens,
            facts.should_retry,
            None if plan is None else self.scenario(plan),
            body.cache_write_tokens,
        )

    def _send_stream(self, spec: AttemptSpec, call: HttpCall) -> Outcome:
        started = time.perf_counter()
        with self.session.request(
            "POST",
            call.path,
            name=call.stats_name,
            data=call.body,
            headers=call.headers,
            stream=True,
            catch_response=True,
        ) as resp:
            status = int(resp.status_code or 0)
            if status == 0:
                kind = _error_kind(resp.error)
                resp.failure(f"{kind}: {resp.error}")
                return Outcome(self.now(), 0, kind, latency_s=self._scen(started))
            facts = read_headers(_headers(resp), 200 <= status < 300, spec.dialect)
            retry_after = (
                None if facts.retry_after_s is None else self.scenario(facts.retry_after_s)
            )
            if 200 <= status < 300:
                return self._stream(resp, started, facts, retry_after)
            body = read_body(status, resp.content or b"")
            resp.failure(f"{status} {body.error}")
            return Outcome(
                self.now(),
                status,
                body.error,
                retry_after,
                latency_s=self._scen(started),
                remaining_requests=facts.remaining_requests,
                remaining_tokens=facts.remaining_tokens,
                should_retry=facts.should_retry,
                plan_s=self._plan(facts),
            )

    def _plan(self, facts: ResponseFacts) -> float | None:
        return None if facts.plan_s is None else self.scenario(facts.plan_s)

    def _scen(self, started: float) -> float:
        return self.scenario(time.perf_counter() - started)

    def _stream(
        self, resp: Any, started: float, facts: ResponseFacts, retry_after: float | None
    ) -> Outcome:
        reader = SSEReader()
        ttft: float | None = None
        error: str | None = None
        try:
            for piece in resp.iter_content(chunk_size=_CHUNK, decode_content=False):
                if reader.feed(piece if isinstance(piece, bytes) else piece.encode()):
                    ttft = self._scen(started)
        except Exception as exc:
            error = _error_kind(exc)
        error = stream_error(reader, error)
        resp.request_meta["response_time"] = (time.perf_counter() - started) * 1000.0
        if error is None:
            resp.success()
        else:
            resp.failure(error)
        return Outcome(
            now=self.now(),
            status=200,
            error=error,
            retry_after_s=retry_after,
            input_tokens=reader.input_tokens,
            output_tokens=reader.output_tokens or reader.content_deltas,
            cached_tokens=reader.cached_tokens,
            finish_reason=reader.finish_reason,
            ttft_s=ttft,
            latency_s=self._scen(started),
            remaining_requests=facts.remaining_requests,
            remaining_tokens=facts.remaining_tokens,
            plan_s=self._plan(facts),
            cache_write_tokens=reader.cache_write_tokens,
        )
