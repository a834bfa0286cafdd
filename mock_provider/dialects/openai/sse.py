"""OpenAI streaming: ``data:`` SSE events of ``chat.completion.chunk``, then ``data: [DONE]``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...model.memo import fill
from ...model.outputs import Choice
from ...model.provider import Completion
from .bodies import FINISH_REASONS, call_id, completion_id, logprob_entry, usage
from .errors import fault_error

__all__ = ["DONE", "ChoicesStream", "chunk", "chunk_head", "content_chunk"]


def chunk(
    c: Completion,
    created: int,
    delta: Mapping[str, Any] | None,
    finish_reason: str | None = None,
    with_usage: bool = False,
    usage_body: Mapping[str, Any] | None = None,
    index: int = 0,
    logprobs: Mapping[str, Any] | None = None,
) -> bytes:
    """One SSE event for choice ``index``. ``delta=None`` with ``usage_body`` renders the
    final usage chunk (no choices)."""
    payload: dict[str, Any] = {
        "id": completion_id(c),
        "object": "chat.completion.chunk",
        "created": created,
        "model": c.model.name,
        "service_tier": "default",
        "system_fingerprint": "fp_stampede",
        "choices": []
        if delta is None
        else [
            {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        ],
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


class ChoicesStream:
    """The chunks of a completion with choices (``n``, tool calls, structured content, log
    probabilities), each chunk one choice's, as the API streams them:

    - a first chunk per choice with the role; for a tool call it also carries the call's
      ``index``, ``id``, ``type`` and the function's ``name`` with empty ``arguments``;
    - at each step of the plan, one chunk per choice that still has a token: a ``content``
      piece (with its ``logprobs`` entry when asked), or an ``arguments`` piece of the call;
    - right after a choice's last token, its finish chunk (empty delta, ``finish_reason``);
    - at the end, the usage chunk (``stream_options.include_usage``) and ``[DONE]``.

    The plan executor calls :meth:`token` once per step, in order; the piece it passes (the
    longest choice's) is not needed, as the writer counts steps itself.
    """

    __slots__ = ("c", "created", "finished", "include_usage", "step")

    def __init__(self, c: Completion, created: int, include_usage: bool) -> None:
        assert c.choices is not None
        self.c, self.created, self.include_usage = c, created, include_usage
        self.step = 0
        self.finished = [False] * len(c.choices)

    def _chunk(self, index: int, delta: Mapping[str, Any], **extra: Any) -> bytes:
        return chunk(self.c, self.created, delta, with_usage=self.include_usage, index=index,
                     **extra)  # fmt: skip

    def opening(self) -> bytes:
        out = []
        for i, ch in enumerate(self._choices()):
            delta: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
            call = ch.tool_call
            if call is not None:
                delta["content"] = None
                delta["tool_calls"] = [
                    {
                        "index": 0,
                        "id": call_id(call.key),
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            out.append(self._chunk(i, delta))
        return b"".join(out)

    def _choices(self) -> tuple[Choice, ...]:
        assert self.c.choices is not None
        return self.c.choices

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        body = fault_error(status, error_type, message)
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    def token(self, piece: str) -> bytes:
        k = self.step
        self.step = k + 1
        out = []
        for i, ch in enumerate(self._choices()):
            call = ch.tool_call
            if call is not None:
                if k < len(call.arguments):
                    delta = {
                        "tool_calls": [{"index": 0, "function": {"arguments": call.arguments[k]}}]
                    }
                    out.append(self._chunk(i, delta))
            elif k < len(ch.pieces):
                logprobs = None
                if ch.logprobs is not None:
                    entry = logprob_entry(ch.pieces[k], ch.logprobs[k])
                    logprobs = {"content": [entry], "refusal": None}
                out.append(self._chunk(i, {"content": ch.pieces[k]}, logprobs=logprobs))
            if k + 1 >= ch.tokens and not self.finished[i]:
                out.append(self._finish(i, ch))
        return b"".join(out)

    def _finish(self, index: int, ch: Choice) -> bytes:
        self.finished[index] = True
        return self._chunk(index, {}, finish_reason=FINISH_REASONS[ch.finish_reason])

    def closing(self, delivered: int) -> bytes:
        out = [self._finish(i, ch) for i, ch in enumerate(self._choices()) if not self.finished[i]]
        if self.include_usage:
            body = usage(self.c, self.c.tokens_after(delivered))
            out.append(chunk(self.c, self.created, None, with_usage=True, usage_body=body))
        return b"".join(out) + DONE
