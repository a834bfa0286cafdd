"""The client side of Anthropic's Messages API: the request an attempt sends, what its
response says (non-streamed bodies and the ``message_*`` / ``content_block_*`` events).

Finish reasons come back in the article's trace words: ``end_turn`` and ``stop_sequence``
read as ``stop``, ``max_tokens`` as ``length``, ``tool_use`` as ``tool_calls``.

The request marks its system prompt as a prompt-cache breakpoint (``cache_control``, the
default 5-minute TTL), as an application that turned Anthropic's prompt caching on does: a
stable system prompt is then read from the cache (0.1x the input price), while one that
changes every request (the cache-busting layout) is written again each time (1.25x).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .headers import REMAINING_REQUESTS, REMAINING_TOKENS

__all__ = [
    "API_VERSION",
    "CACHE_CONTROL",
    "CHAT_PATH",
    "DEFAULT_MAX_TOKENS",
    "REMAINING",
    "TRACE_FINISH",
    "cache_writes_of",
    "error_of",
    "finish_of",
    "read_event",
    "request_body",
    "request_headers",
    "usage_of",
]

CHAT_PATH = "/v1/messages"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # max_tokens is required by the Messages API
CACHE_CONTROL = {"type": "ephemeral"}  # a breakpoint with the default TTL (5 minutes)
REMAINING = (REMAINING_REQUESTS,), (REMAINING_TOKENS,)  # (requests, tokens) header names
TRACE_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def request_body(
    model: str, chat: tuple[tuple[str, str], ...], max_tokens: int | None, stream: bool
) -> dict[str, Any]:
    """The system prompt goes in ``system`` as a text block marked for the prompt cache,
    the rest in ``messages``."""
    system = "\n".join(c for r, c in chat if r == "system")
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": r, "content": c} for r, c in chat if r != "system"],
        "max_tokens": max_tokens or DEFAULT_MAX_TOKENS,
        "stream": stream,
    }
    if system:
        body["system"] = [{"type": "text", "text": system, "cache_control": CACHE_CONTROL}]
    return body


def request_headers(api_key: str) -> dict[str, str]:
    return {
        "x-api-key": api_key,
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
    }


def usage_of(usage: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """(input tokens, cached ones among them, output tokens). Anthropic's ``input_tokens``
    leaves out the cache: the total is it plus cache reads plus cache writes."""
    if not usage:
        return 0, 0, 0
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    return (
        int(usage.get("input_tokens") or 0) + read + written,
        read,
        int(usage.get("output_tokens") or 0),
    )


def cache_writes_of(usage: Mapping[str, Any] | None) -> int:
    """Prompt tokens written to the cache (billed 1.25x base input for the 5-minute TTL)."""
    return int((usage or {}).get("cache_creation_input_tokens") or 0)


def finish_of(data: Mapping[str, Any]) -> str | None:
    reason = data.get("stop_reason")
    return TRACE_FINISH.get(reason, reason) if isinstance(reason, str) else None


def error_of(data: Mapping[str, Any], status: int) -> str:
    """The error's ``type`` (``rate_limit_error``, ``overloaded_error``, ...)."""
    err = data.get("error")
    if isinstance(err, Mapping):
        return str(err.get("type") or f"http_{status}")
    return f"http_{status}"


def read_event(tally: Any, payload: bytes, obj: Any) -> bool:
    """Apply one event's data to a stream tally; True on a content delta with text."""
    if not isinstance(obj, dict):
        return False
    kind = obj.get("type")
    if kind == "message_start":
        start = (obj.get("message") or {}).get("usage")
        tally.input_tokens, tally.cached_tokens, _ = usage_of(start)
        tally.cache_write_tokens = cache_writes_of(start)
    elif kind == "content_block_delta":
        if (obj.get("delta") or {}).get("text"):
            tally.content_deltas += 1
            return True
    elif kind == "message_delta":
        tally.output_tokens = int((obj.get("usage") or {}).get("output_tokens") or 0)
        reason = (obj.get("delta") or {}).get("stop_reason")
        if reason:
            tally.finish_reason = TRACE_FINISH.get(reason, reason)
    elif kind == "message_stop":
        tally.done = True
    elif kind == "error":
        tally.error = error_of(obj, 200)
    return False
