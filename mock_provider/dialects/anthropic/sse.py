"""Anthropic streaming: named SSE events, ``event: <type>\\ndata: {...}\\n\\n``.

The sequence the API sends for a text answer: ``message_start`` (the message with empty
content and the prompt's usage, ``output_tokens`` 1), ``content_block_start`` (an empty
text block), ``ping``, one ``content_block_delta`` (``text_delta``) per token,
``content_block_stop``, ``message_delta`` (``stop_reason``, and the usage so far:
cumulative, not an increment), ``message_stop``.

An answer with tool calls (:class:`AnthropicBlockStream`) has one block per part, each
opened, filled and stopped in turn, with its ``index``: the text block as above, if the
answer has text, then per call ``content_block_start`` with ``{"type": "tool_use", "id",
"name", "input": {}}``, a first ``input_json_delta`` with ``partial_json`` ``""``, one
``input_json_delta`` per token of the input's JSON, and ``content_block_stop``; then
``message_delta`` with ``stop_reason`` ``tool_use``. (The streaming docs' tool-use example,
docs.claude.com/en/docs/build-with-claude/streaming; the SDK joins the ``partial_json``
pieces and parses them at ``content_block_stop``.)
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...model.memo import fill
from ...model.outputs import ToolCall
from ...model.provider import Completion
from .bodies import STOP_REASONS, message_id, tool_use_id, usage
from .errors import fault_error

__all__ = ["AnthropicBlockStream", "AnthropicStream", "event"]

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
        return (
            _message_start(self.c)
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


def _message_start(c: Completion) -> bytes:
    message: dict[str, object] = {
        "id": message_id(c), "type": "message", "role": "assistant", "model": c.model.name,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage(c, 1),
    }  # fmt: skip
    return event("message_start", {"type": "message_start", "message": message})


def _block_start(index: int, call: ToolCall | None, ping: bool = False) -> bytes:
    """A block's opening: an empty text block, or a tool_use block and its first, empty,
    input delta (after the ``ping`` that follows the first block's start)."""
    block: dict[str, object] = {"type": "text", "text": ""}
    if call is not None:
        block = {"type": "tool_use", "id": tool_use_id(call), "name": call.name, "input": {}}
    start = event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )
    if ping:
        start += event("ping", {"type": "ping"})
    return start if call is None else start + _input_delta(index, "")


def _input_delta(index: int, piece: str) -> bytes:
    delta = {"type": "input_json_delta", "partial_json": piece}
    return event("content_block_delta", {"type": "content_block_delta", "index": index,
                                         "delta": delta})  # fmt: skip


def _block_stop(index: int) -> bytes:
    return event("content_block_stop", {"type": "content_block_stop", "index": index})


class AnthropicBlockStream:
    """The events of a streamed answer shaped by the request's options (tools, structured
    output, stop sequences): its blocks one after another (see the module docstring).

    The executor hands it one token per step, in the answer's stream order (the text, then
    each call's input); it opens the next block when a step crosses into it.
    """

    __slots__ = ("block", "c", "parts", "step", "until")

    def __init__(self, c: Completion) -> None:
        assert c.choices is not None
        self.c = c
        choice = c.choices[0]
        # (the call, or None for the text; the step at which the block ends)
        parts: list[tuple[ToolCall | None, int]] = []
        end = 0
        if choice.pieces or choice.tool_call is None:
            end = len(choice.pieces)
            parts.append((None, end))
        for call in choice.calls:
            end += len(call.arguments)
            parts.append((call, end))
        self.parts = parts
        self.block = 0  # the open block's index
        self.until = parts[0][1]  # the step at which it ends
        self.step = 0

    def opening(self) -> bytes:
        return _message_start(self.c) + _block_start(0, self.parts[0][0], ping=True)

    def token(self, piece: str) -> bytes:
        out = b""
        while self.step >= self.until:  # this step begins the next block
            out += _block_stop(self.block)
            self.block += 1
            self.until = self.parts[self.block][1]
            out += _block_start(self.block, self.parts[self.block][0])
        self.step += 1
        if self.parts[self.block][0] is None:  # the text: always the first block
            return out + self.text_delta(piece)
        return out + _input_delta(self.block, piece)

    def text_delta(self, piece: str) -> bytes:
        try:
            return _deltas[piece]
        except KeyError:
            return fill(_deltas, piece, _render_delta)

    def closing(self, delivered: int) -> bytes:
        c = self.c
        assert c.choices is not None
        choice = c.choices[0]
        done = usage(c, c.tokens_after(delivered))
        del done["cache_creation"], done["service_tier"]
        delta = {"stop_reason": STOP_REASONS[choice.finish_reason],
                 "stop_sequence": choice.stop_sequence}  # fmt: skip
        return (
            _block_stop(self.block)
            + event("message_delta", {"type": "message_delta", "delta": delta, "usage": done})
            + event("message_stop", {"type": "message_stop"})
        )

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        return event("error", {"type": "error", "error": fault_error(status, error_type, message)})
