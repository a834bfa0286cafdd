"""The client side of OpenAI's format: the request an attempt sends, what its response says.

The simulator (``simulator/wire.py``) reads OpenAI responses through here. Header
names and body fields are the ones the mock's renderers in this package write, so each is
spelled once. Finish reasons come back in the article's trace words, which for OpenAI are its
own (``stop``, ``length``, ``tool_calls``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .headers import REMAINING_REQUESTS, REMAINING_TOKENS

__all__ = [
    "CHAT_PATH",
    "REMAINING",
    "cache_writes_of",
    "error_of",
    "finish_of",
    "read_event",
    "request_body",
    "request_headers",
    "usage_of",
]

CHAT_PATH = "/v1/chat/completions"
REMAINING = (REMAINING_REQUESTS,), (REMAINING_TOKENS,)  # (requests, tokens) header names


def request_body(
    model: str, chat: tuple[tuple[str, str], ...], max_tokens: int | None, stream: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": r, "content": c} for r, c in chat],
        "stream": stream,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def request_headers(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}", "content-type": "application/json"}


def usage_of(usage: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """(input tokens, cached ones among them, output tokens): ``prompt_tokens`` includes the
    cached ``prompt_tokens_details.cached_tokens``."""
    if not usage:
        return 0, 0, 0
    details = usage.get("prompt_tokens_details") or {}
    return (
        int(usage.get("prompt_tokens") or 0),
        int(details.get("cached_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )


def cache_writes_of(usage: Mapping[str, Any] | None) -> int:
    """OpenAI's prompt cache is written for free and reports no writes."""
    return 0


def finish_of(data: Mapping[str, Any]) -> str | None:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        reason = choices[0].get("finish_reason")
        return str(reason) if reason else None
    return None


def error_of(data: Mapping[str, Any], status: int) -> str:
    """The error's ``code``, else its ``type``: what traces record as the attempt's error."""
    err = data.get("error")
    if isinstance(err, Mapping):
        return str(err.get("code") or err.get("type") or f"http_{status}")
    return f"http_{status}"


def read_event(tally: Any, payload: bytes, obj: Any) -> bool:
    """Apply one ``data:`` event to a stream tally; True if it carried content.

    ``payload`` is the raw data (``[DONE]`` is not JSON); ``obj`` its parsed value or None.
    """
    if payload == b"[DONE]":
        tally.done = True
        return False
    if not isinstance(obj, dict):
        return False
    if "error" in obj:
        tally.error = error_of(obj, 200)
        return False
    if obj.get("usage"):
        tally.input_tokens, tally.cached_tokens, tally.output_tokens = usage_of(obj["usage"])
    content = False
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content"):
            content = True
            tally.content_deltas += 1
        if choice.get("finish_reason"):
            tally.finish_reason = choice["finish_reason"]
    return content
