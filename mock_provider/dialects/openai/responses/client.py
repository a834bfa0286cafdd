"""The client side of the Responses API: the request an attempt sends, what its answer says.

The simulator (``simulator/wire.py``) reads Responses answers through here, as it reads chat
completions through ``openai/client.py``. Usage is ``input_tokens`` (of which
``input_tokens_details.cached_tokens`` were read from the cache) and ``output_tokens``; an
answer's finish is its ``status`` (``completed``), or for an ``incomplete`` one the reason
(``max_output_tokens``). A stream's events are typed (``response.output_text.delta``, ...)
and numbered; it ends with ``response.completed`` or ``response.incomplete``, with no
``[DONE]`` line. Its errors are the chat API's bodies, and in a stream an ``error`` event
with a ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client import REMAINING, cache_writes_of, error_of, request_headers

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

CHAT_PATH = "/v1/responses"
_CONTENT = frozenset({"response.output_text.delta", "response.function_call_arguments.delta"})
_FINAL = frozenset({"response.completed", "response.incomplete"})


def request_body(
    model: str, chat: tuple[tuple[str, str], ...], max_tokens: int | None, stream: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "input": [{"role": r, "content": c} for r, c in chat],
        "stream": stream,
    }
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    return body


def usage_of(usage: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """(input tokens, cached ones among them, output tokens)."""
    if not usage:
        return 0, 0, 0
    details = usage.get("input_tokens_details") or {}
    return (
        int(usage.get("input_tokens") or 0),
        int(details.get("cached_tokens") or 0),
        int(usage.get("output_tokens") or 0),
    )


def finish_of(data: Mapping[str, Any]) -> str | None:
    status = data.get("status")
    if status == "incomplete":
        details = data.get("incomplete_details") or {}
        return str(details.get("reason") or status)
    return str(status) if status else None


def read_event(tally: Any, payload: bytes, obj: Any) -> bool:
    """Apply one event to a stream tally; True if it carried content."""
    if not isinstance(obj, dict):
        return False
    kind = obj.get("type")
    if kind in _CONTENT:
        if obj.get("delta"):
            tally.content_deltas += 1
            return True
        return False
    if kind in _FINAL:
        response = obj.get("response") or {}
        tally.input_tokens, tally.cached_tokens, tally.output_tokens = usage_of(
            response.get("usage")
        )
        tally.finish_reason = finish_of(response)
        tally.done = True
    elif kind == "error":
        tally.error = str(obj.get("code") or "error")
    return False
