"""Anthropic streaming: named SSE events, ``event: <type>\\ndata: {...}\\n\\n``.

The sequence the API sends for a text answer: ``message_start`` (the message with empty
content and the prompt's usage, ``output_tokens`` 1), ``content_block_start`` (an empty
text block), ``ping``, one ``content_block_delta`` (``text_delta``) per token,
``content_block_stop``, ``message_delta`` (``stop_reason``, and the usage so far:
cumulative, not an increment), ``message_stop``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...model.memo import fill
from ...model.provider import Completion
from .bodies import STOP_REASONS, message_id, usage
from .errors import fault_error

__all__ = ["AnthropicStream", "event"]

_encode = msgspec.json.encode


def event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _encode(data) + b"\n\n"


# A text delta per token: the event rendered once per distinct piece (a dict and an encode
# per token cost several microseconds, and a stream sends one event per output token).
# Byte for byte what event("content_block_delta", ...) renders (a test holds them equal).
_deltas: dict[str, bytes] = {}  # a memo (see model.memo)
_DELTA_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":'
)


def _render_delta(piece: str) -> bytes:
    return _DELTA_HEAD + _encode(piece) + b"}}\n\n"


class AnthropicStream:
    """The events of one streamed message (see the module docstring)."""

    __slots__ = ("c",)

    def __init__(self, c: Completion) -> None:
        self.c = c

    def opening(self) -> bytes:
        c = self.c
        start_usage = usage(c, 1)
        message: dict[str, object] = {
            "id": message_id(c), "type": "message", "role": "assistant", "model": c.model.name,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage,
        }  # fmt: skip
        return (
            event("message_start", {"type": "message_start", "message": message})
            + event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            + event("ping", {"type": "ping"})
        )

    def token(self, piece: str) -> bytes:
        try:
            return _deltas[piece]
        except KeyError:
            return fill(_deltas, piece, _render_delta)

    def closing(self, delivered: int) -> bytes:
        c = self.c
        done = usage(c, delivered)
        del done["cache_creation"], done["service_tier"]
        return (
            event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": STOP_REASONS[c.finish_reason], "stop_sequence": None},
                    "usage": done,
                },
            )
            + event("message_stop", {"type": "message_stop"})
        )

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        return event("error", {"type": "error", "error": fault_error(status, error_type, message)})
