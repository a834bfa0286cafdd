"""The client side of the wire formats: build an attempt's HTTP request, read its response.

Pure functions (bytes and header mappings in, values out), so the Locust transport stays a
thin shell and the parsing is tested without a network. Header times are wall seconds; the
caller multiplies by ``time_scale`` to get scenario seconds.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic_core import from_json as _from_json

from mock_provider.plan_header import PLAN_HEADER
from simulator.client.events import AttemptSpec

__all__ = ["HttpCall", "ResponseFacts", "SSEReader", "build_call", "read_body", "read_headers"]


class HttpCall(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes
    stats_name: str  # what Locust's statistics call it: "<model> chat" or "<model> stream"


def build_call(spec: AttemptSpec) -> HttpCall:
    """The HTTP request for one attempt, in the model's dialect."""
    return _build_call(
        spec.model, spec.dialect, spec.messages, spec.max_tokens, spec.stream, spec.api_key
    )


@lru_cache(maxsize=1024)  # retries and fallbacks of one logical request reuse the body
def _build_call(
    model: str,
    dialect: str,
    chat: tuple[tuple[str, str], ...],
    max_tokens: int | None,
    stream: bool,
    api_key: str,
) -> HttpCall:
    messages = [{"role": r, "content": c} for r, c in chat]
    if dialect == "anthropic":
        system = "\n".join(c for r, c in chat if r == "system")
        body: dict[str, Any] = {
            "model": model,
            "messages": [m for m in messages if m["role"] != "system"],
            "max_tokens": max_tokens or 1024,
            "stream": stream,
        }
        if system:
            body["system"] = system
        headers = {
            "x-api-key": api_key,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        }
        return HttpCall(
            "/v1/messages", headers, json.dumps(body).encode(), _stats_name(model, stream)
        )
    body = {"model": model, "messages": messages, "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream_options"] = {"include_usage": True}
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    return HttpCall(
        "/v1/chat/completions", headers, json.dumps(body).encode(), _stats_name(model, stream)
    )


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
_OPENAI_REMAINING = ("x-ratelimit-remaining-requests",), ("x-ratelimit-remaining-tokens",)
_ANTHROPIC_REMAINING = (
    ("anthropic-ratelimit-requests-remaining",),
    ("anthropic-ratelimit-tokens-remaining",),
)
_REMAINING: dict[str | None, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "openai": _OPENAI_REMAINING,
    "anthropic": _ANTHROPIC_REMAINING,
    None: (
        _OPENAI_REMAINING[0] + _ANTHROPIC_REMAINING[0],
        _OPENAI_REMAINING[1] + _ANTHROPIC_REMAINING[1],
    ),
}


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


def _usage(usage: Mapping[str, Any] | None) -> tuple[int, int, int]:
    if not usage:
        return 0, 0, 0
    if "prompt_tokens" in usage:  # OpenAI
        details = usage.get("prompt_tokens_details") or {}
        return (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            int(details.get("cached_tokens") or 0),
        )
    cached = int(usage.get("cache_read_input_tokens") or 0)  # Anthropic: input excludes cache
    return (
        int(usage.get("input_tokens") or 0) + cached,
        int(usage.get("output_tokens") or 0),
        cached,
    )


def read_body(status: int, body: bytes) -> BodyFacts:
    """Usage and finish reason of a complete response, or the provider's error code."""
    try:
        # pydantic-core's parser: the same values as json.loads (and ValueError on bad input)
        # in about a third of the time; every attempt's body goes through here.
        data = _from_json(body) if body else {}
    except ValueError:
        return BodyFacts(error=None if 200 <= status < 300 else f"http_{status}")
    if not isinstance(data, dict):
        return BodyFacts()
    if status >= 400 or "error" in data:
        err = data.get("error")
        if isinstance(err, dict):
            return BodyFacts(error=err.get("code") or err.get("type") or f"http_{status}")
        return BodyFacts(error=f"http_{status}")
    i, o, c = _usage(data.get("usage"))
    finish = None
    choices = data.get("choices")
    if isinstance(choices, list) and choices:
        finish = choices[0].get("finish_reason")
    elif "stop_reason" in data:
        finish = {"max_tokens": "length", "end_turn": "stop"}.get(
            data["stop_reason"], data["stop_reason"]
        )
    return BodyFacts(i, o, c, finish)


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
        if payload == b"[DONE]":
            self.done = True
            return False
        try:
            obj = _from_json(payload)
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        if "error" in obj:
            err = obj["error"]
            self.error = (err.get("code") or err.get("type")) if isinstance(err, dict) else "error"
            return False
        kind = obj.get("type")
        if kind is not None:  # Anthropic event stream
            return self._anthropic(kind, obj)
        if obj.get("usage"):
            self.input_tokens, self.output_tokens, self.cached_tokens = _usage(obj["usage"])
        content = False
        for choice in obj.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                content = True
                self.content_deltas += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return content

    def _anthropic(self, kind: str, obj: Mapping[str, Any]) -> bool:
        if kind == "message_start":
            usage = (obj.get("message") or {}).get("usage")
            self.input_tokens, _, self.cached_tokens = _usage(usage)
        elif kind == "content_block_delta":
            if (obj.get("delta") or {}).get("text"):
                self.content_deltas += 1
                return True
        elif kind == "message_delta":
            self.output_tokens = int((obj.get("usage") or {}).get("output_tokens") or 0)
            reason = (obj.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish_reason = {"max_tokens": "length", "end_turn": "stop"}.get(
                    reason, reason
                )
        elif kind == "message_stop":
            self.done = True
        return False
