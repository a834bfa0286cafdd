"""OpenAI streaming: ``data:`` SSE events of ``chat.completion.chunk``, then ``data: [DONE]``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...model.provider import Completion
from .bodies import completion_id

__all__ = ["DONE", "chunk"]


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
