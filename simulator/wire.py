"""The client side of the wire formats: build an attempt's HTTP request, read its response.

Pure functions (bytes and header mappings in, values out), so the Locust transport stays a
thin shell and the parsing is tested without a network. What is particular to a dialect
(paths, auth, body fields, header names, stream events) comes from that dialect's package,
``mock_provider/dialects/<name>/client.py``, next to the code that renders it. Header times
are wall seconds; the caller turns them into scenario seconds with its clock
(``WallClock.scenario``).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic_core import from_json as _from_json

from mock_provider.dialects.anthropic import client as anthropic_client
from mock_provider.dialects.openai import client as openai_client
from mock_provider.dialects.openai.responses import client as responses_client
from mock_provider.plan_header import PLAN_HEADER
from simulator.client.events import AttemptSpec

__all__ = [
    "CLIENTS",
    "HttpCall",
    "ResponseFacts",
    "SSEReader",
    "build_call",
    "http_call",
    "read_body",
    "read_headers",
    "stream_error",
]

# Each dialect's client side, from the package that also renders it: header names and body
# fields are written once (mock_provider/dialects/<name>/client.py).
CLIENTS: dict[str, Any] = {
    "openai": openai_client,
    "openai_responses": responses_client,
    "anthropic": anthropic_client,
}


class HttpCall(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes
    stats_name: str  # what Locust's statistics call it: "<model> chat" or "<model> stream"


def build_call(spec: AttemptSpec) -> HttpCall:
    """The HTTP request for one attempt, in the model's dialect."""
    return http_call(
        spec.model, spec.dialect, spec.messages, spec.max_tokens, spec.stream, spec.api_key
    )


@lru_cache(maxsize=1024)  # retries and fallbacks of one logical request reuse the body
def http_call(
    model: str,
    dialect: str,
    chat: tuple[tuple[str, str], ...],
    max_tokens: int | None,
    stream: bool,
    api_key: str,
) -> HttpCall:
    wire = CLIENTS[dialect]
    body = json.dumps(wire.request_body(model, chat, max_tokens, stream)).encode()
    return HttpCall(wire.CHAT_PATH, wire.request_headers(api_key), body, _stats_name(model, stream))


def _stats_name(model: str, stream: bool) -> str:
    return f"{model} {'stream' if stream else 'chat'}"


class ResponseFacts(NamedTuple):
    """What a response says about limits, retrying and the mock's plan (wall seconds)."""

    retry_after_s: float | None
    remaining_requests: int | None
    remaining_tokens: int | None
    plan_s: float | None = None  # from a stampede mock: the latency it planned
    should_retry: bool | None = None  # x-should-retry: the server says whether to retry


_PLAN = (PLAN_HEADER,)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# Header names for (remaining requests, remaining tokens), by dialect; None: either dialect.
_REMAINING: dict[str | None, tuple[tuple[str, ...], tuple[str, ...]]] = {
    name: wire.REMAINING for name, wire in CLIENTS.items()
}
_REMAINING[None] = (
    tuple(n for w in CLIENTS.values() for n in w.REMAINING[0]),
    tuple(n for w in CLIENTS.values() for n in w.REMAINING[1]),
)


def _header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first non-empty value among ``names``."""
    for name in names:
        # ``in`` before ``[]``: on geventhttpclient's Headers a missing name is a cheap
        # membership test, where ``get`` raises and catches a KeyError.
        if name in headers:
            value = headers[name]
            if value:
                return value
    return None


def read_headers(
    headers: Mapping[str, str], ok: bool = False, dialect: str | None = None
) -> ResponseFacts:
    """Prefer ``retry-after-ms`` (OpenAI's precise header), then ``retry-after`` in seconds;
    a stampede mock's planned latency (``x-stampede-plan-ms``) when it sends one.

    ``ok`` (a 2xx) skips the retry headers, and ``dialect`` reads only that dialect's
    remaining-quota headers (None: either): header lookups are not free on the hot path.
    """
    retry: float | None = None
    should_retry: bool | None = None
    if not ok:
        for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is None:
                continue
            try:
                retry = float(value) / divisor
                break
            except ValueError:
                continue
        if retry is None:  # Retry-After may be an HTTP date (RFC 9110)
            retry = _retry_after_date(headers.get("retry-after"))
        flag = headers.get("x-should-retry")
        should_retry = None if flag is None else flag == "true"
    requests_names, tokens_names = _REMAINING[dialect]
    plan = _header(headers, _PLAN)
    try:
        plan_s = None if plan is None else float(plan) / 1000.0
    except ValueError:
        plan_s = None
    return ResponseFacts(
        retry,
        _int(_header(headers, requests_names)),
        _int(_header(headers, tokens_names)),
        plan_s,
        should_retry,
    )


def _retry_after_date(value: str | None) -> float | None:
    """Seconds from now to an HTTP-date Retry-After (wall clock: it is an absolute date)."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class BodyFacts(NamedTuple):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None
    cache_write_tokens: int = 0  # prompt tokens written to an explicit cache (Anthropic's)


def _dialect_of(data: Mapping[str, Any]) -> Any:
    """Which client module reads a body: a Responses answer is an ``object: response`` and
    its stream's events are numbered (``sequence_number``); Anthropic's carry a ``type``;
    OpenAI's chat ones neither. (A guess the readers will not need once they are told the
    dialect: issue 19 part 4.)"""
    if "sequence_number" in data or data.get("object") == "response":
        return CLIENTS["openai_responses"]
    return CLIENTS["anthropic"] if "type" in data else CLIENTS["openai"]


def read_body(status: int, body: bytes) -> BodyFacts:
    """Usage and finish reason of a complete response, or the provider's error code."""
    try:
        # pydantic-core's parser: the same values as json.loads (and ValueError on bad input)
        # in about a third of the time; every attempt's body goes through here.
        data = _from_json(body) if body else {}
    except ValueError:  # a 2xx whose body is not JSON: the SDKs raise on it, unretried
        return BodyFacts(error="malformed" if 200 <= status < 300 else f"http_{status}")
    if not isinstance(data, dict):
        return BodyFacts()
    wire = _dialect_of(data)
    if status >= 400 or data.get("error") is not None:  # a Responses answer has "error": null
        return BodyFacts(error=wire.error_of(data, status))
    usage = data.get("usage")
    tokens_in, cached, tokens_out = wire.usage_of(usage)
    return BodyFacts(
        tokens_in, tokens_out, cached, wire.finish_of(data), None, wire.cache_writes_of(usage)
    )


def stream_error(reader: SSEReader, broke: str | None = None) -> str | None:
    """A 200 stream's error as the client saw it: ``broke`` (the connection failed while
    reading: "connection", "timeout"), else an error or a broken line in the stream, else
    ``stream_cut`` if it ended without its final event."""
    if broke is not None:
        return broke
    if reader.error is not None:
        return reader.error
    return None if reader.done else "stream_cut"


class SSEReader:
    """Incremental SSE parsing for both dialects: feed bytes, learn when content started.

    ``first_content`` becomes True on the first non-empty content delta (the TTFT moment).
    """

    def __init__(self) -> None:
        self._buf = b""
        self.first_content = False
        self.done = False
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_tokens = 0
        self.cache_write_tokens = 0
        self.finish_reason: str | None = None
        self.content_deltas = 0
        self.error: str | None = None

    def feed(self, data: bytes) -> bool:
        """Consume bytes; returns True when this call saw the first content delta."""
        self._buf += data
        saw_first = False
        while b"\n\n" in self._buf:
            event, self._buf = self._buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                if self._data(line[5:].strip()) and not self.first_content:
                    self.first_content = saw_first = True
        return saw_first

    def _data(self, payload: bytes) -> bool:
        try:
            obj = None if payload == b"[DONE]" else _from_json(payload)
        except ValueError:  # the SDKs raise on a data line that is not JSON
            if self.error is None:
                self.error = "malformed"
            return False
        wire = _dialect_of(obj) if isinstance(obj, dict) else CLIENTS["openai"]
        return bool(wire.read_event(self, payload, obj))
