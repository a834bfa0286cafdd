"""Anthropic response bodies: the ``message`` object, its ``usage``, and the model list.

``usage.input_tokens`` counts only the prompt tokens neither read from nor written to the
cache: the whole prompt is ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``, and ``cache_creation`` splits the writes by TTL.
``output_tokens`` counts a tool call's input as well as text, as the API bills it.

An answer that calls tools (:func:`content_blocks`) is its text block, when it has text,
then one ``tool_use`` block per call: ``{"type": "tool_use", "id": "toolu_01...", "name",
"input"}``, with ``stop_reason`` ``tool_use`` (the SDK's ToolUseBlock and StopReason).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ...model.catalog import ModelSpec
from ...model.memo import fill
from ...model.outputs import Choice, ToolCall
from ...model.provider import Completion

__all__ = [
    "CREATED_AT",
    "STOP_REASONS",
    "content_blocks",
    "message_body",
    "message_bytes",
    "message_id",
    "model_info",
    "models_page",
    "tool_input",
    "tool_use_id",
    "usage",
]

# The brain's finish reasons (model.vocabulary) in Anthropic's words.
STOP_REASONS = {
    "end": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
}
CREATED_AT = "2024-10-22T00:00:00Z"  # created_at of a model with no release date (a scenario's own)

_encode = msgspec.json.encode


def message_id(c: Completion) -> str:
    return "msg_" + c.request_id.removeprefix("req_")


def usage(c: Completion, output_tokens: int | None = None) -> dict[str, Any]:
    written = c.cache_write_5m + c.cache_write_1h
    return {
        "input_tokens": c.input_tokens - c.cached_tokens - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": c.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": c.cache_write_5m,
            "ephemeral_1h_input_tokens": c.cache_write_1h,
        },
        "output_tokens": c.output_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
    }


def tool_use_id(call: ToolCall) -> str:
    """``toolu_01`` and 22 characters of the call's key, as the API's ids look
    (``toolu_01G2Q9aJ8Jgeu5B9pMBxB3Jn`` in anthropics/claude-code#2697)."""
    return "toolu_01" + call.key[:22]


def tool_input(call: ToolCall) -> dict[str, Any]:
    """The call's input as an object; ``{}`` for input cut short by ``max_tokens`` (it is
    not JSON: a stream delivers the part it has)."""
    try:
        value = json.loads(call.text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def content_blocks(choice: Choice) -> list[dict[str, Any]]:
    """The answer's content blocks: its text (if any, or if it calls nothing), its calls."""
    blocks: list[dict[str, Any]] = []
    if choice.pieces or choice.tool_call is None:
        blocks.append({"type": "text", "text": choice.text})
    for call in choice.calls:
        blocks.append({"type": "tool_use", "id": tool_use_id(call), "name": call.name,
                       "input": tool_input(call)})  # fmt: skip
    return blocks


def message_body(c: Completion, text: str | None = None) -> dict[str, Any]:
    """The ``message`` of a finished response; ``text`` None: the whole answer."""
    if c.choices is not None:  # tools, structured output, stop sequences
        choice = c.choices[0]
        return {
            "id": message_id(c),
            "type": "message",
            "role": "assistant",
            "model": c.model.name,
            "content": content_blocks(choice),
            "stop_reason": STOP_REASONS[choice.finish_reason],
            "stop_sequence": choice.stop_sequence,
            "usage": usage(c),
        }
    return {
        "id": message_id(c),
        "type": "message",
        "role": "assistant",
        "model": c.model.name,
        "content": [{"type": "text", "text": c.text if text is None else text}],
        "stop_reason": STOP_REASONS[c.finish_reason],
        "stop_sequence": None,
        "usage": usage(c),
    }


# Rendered tails of message bodies (everything after the id), memoised as the OpenAI
# dialect's chat bodies are (see openai/bodies.py): under load the same few (text, model,
# stop reason, usage) combinations recur, and building and encoding the nested dicts costs
# several times a lookup. Keyed by id(pieces), checked with ``is``: a reused id can never
# render another text. Byte for byte ``_encode(message_body(c))`` (a test holds them equal).
_tails: dict[tuple[int, str, str, int, int, int, int, int], tuple[tuple[str, ...], bytes]] = {}
_HEAD = b'{"id":"msg_'


def _render_tail(c: Completion) -> bytes:
    body = _encode(message_body(c))
    return body[body.index(b'",') :]  # from the end of the id on


def message_bytes(c: Completion) -> bytes:
    """:func:`message_body`, encoded, from a memo of its tail: every non-streamed call."""
    if c.choices is not None:  # an answer shaped by the request's options: not memoised
        return _encode(message_body(c))
    pieces = c.pieces
    key = (id(pieces), c.model.name, c.finish_reason, c.input_tokens, c.cached_tokens,
           c.output_tokens, c.cache_write_5m, c.cache_write_1h)  # fmt: skip
    hit = _tails.get(key)
    if hit is not None and hit[0] is pieces:
        tail = hit[1]
    else:
        tail = _render_tail(c)
        fill(_tails, key, lambda _: (pieces, tail))
    return _HEAD + c.request_id[4:].encode() + tail  # request ids start with "req_"


def model_info(spec: ModelSpec) -> dict[str, Any]:
    return {
        "type": "model",
        "id": spec.snapshot or spec.name,  # an alias is answered with the ID it resolves to
        "display_name": spec.display_name or spec.name,
        "created_at": f"{spec.released.isoformat()}T00:00:00Z" if spec.released else CREATED_AT,
        "max_input_tokens": spec.context_window,
        "max_tokens": spec.max_output_tokens,
        "lifecycle": "active",
    }


def models_page(
    specs: list[ModelSpec], limit: int, before_id: str | None, after_id: str | None
) -> dict[str, Any]:
    """One page of ``GET /v1/models`` (cursor ids must name listed models; checked by the
    caller)."""
    ids = [s.name for s in specs]
    if before_id is not None:
        end = ids.index(before_id)
        chosen = specs[max(0, end - limit) : end]
        more = end - limit > 0
    else:
        start = ids.index(after_id) + 1 if after_id is not None else 0
        chosen = specs[start : start + limit]
        more = start + limit < len(specs)
    data = [model_info(s) for s in chosen]
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
