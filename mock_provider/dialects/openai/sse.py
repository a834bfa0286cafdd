"""OpenAI streaming: ``data:`` SSE events of ``chat.completion.chunk``, then ``data: [DONE]``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...model.memo import fill
from ...model.provider import Completion
from .bodies import completion_id

__all__ = ["DONE", "chunk", "chunk_head", "content_chunk"]


def chunk(
    c: Completion,
    created: int,
    delta: Mapping[str, Any] | None,
    finish_reason: str | None = None,
    with_usage: bool = False,
    usage_body: Mapping[str, Any] | None = None,
) -> bytes:
    """One SSE event. ``delta=None`` with ``usage_body`` renders the final usage chunk."""
    payload: dict[str, Any] = {
        "id": completion_id(c),
        "object": "chat.completion.chunk",
        "created": created,
        "model": c.model.name,
        "service_tier": "default",
        "system_fingerprint": "fp_stampede",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage:
        payload["usage"] = usage_body
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


# The content chunks of a stream, one per token, from a per-response head and a memo of the
# rendered deltas: a dict and json.dumps per token cost several microseconds, and a stream
# sends one chunk per output token. Byte for byte what :func:`chunk` renders for
# ``delta={"content": piece}`` (tests hold them equal).
_piece_json: dict[str, bytes] = {}  # a memo (see model.memo)
_END = b"}\n\n"
_USAGE_NULL_END = b',"usage":null}\n\n'


def chunk_head(c: Completion, created: int) -> bytes:
    """What every chunk of one response starts with, up to and including ``"choices":``."""
    head = chunk(c, created, None)  # ... "choices":[]}\n\n
    return head[: -len(b"[]}\n\n")]


def _render_piece(piece: str) -> bytes:
    delta = {"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
    return json.dumps([delta], separators=(",", ":")).encode()


def content_chunk(head: bytes, piece: str, with_usage: bool) -> bytes:
    """:func:`chunk` with ``delta={"content": piece}``, from the response's :func:`chunk_head`."""
    try:
        delta = _piece_json[piece]
    except KeyError:
        delta = fill(_piece_json, piece, _render_piece)
    return head + delta + (_USAGE_NULL_END if with_usage else _END)
