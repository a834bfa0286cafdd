"""OpenAI response bodies: chat completions (dict and pre-rendered bytes), embeddings, models.

A plain completion (one text answer) is rendered from cached fragments
(:func:`chat_body_bytes`); one with choices (``n``, tool calls, structured content,
log probabilities) from :func:`chat_body`, which renders both.
"""

from __future__ import annotations

import base64
import calendar
import json
from typing import Any

from ...model.catalog import ModelSpec
from ...model.memo import fill
from ...model.outputs import Choice, TokenLogprob
from ...model.provider import Completion, Embedding

MODELS_CREATED = 1_700_000_000  # "created" of a model with no release date (a scenario's own)

__all__ = [
    "FINISH_REASONS",
    "call_id",
    "chat_body",
    "chat_body_bytes",
    "completion_id",
    "embedding_body",
    "logprob_entry",
    "model_body",
    "models_body",
    "usage",
]


# The brain's finish reasons (model.vocabulary) in OpenAI's words.
FINISH_REASONS = {
    "end": "stop",
    "stop_sequence": "stop",  # OpenAI does not say which sequence
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def usage(c: Completion, output_tokens: int | None = None) -> dict[str, Any]:
    out = c.output_tokens if output_tokens is None else output_tokens
    return {
        "prompt_tokens": c.input_tokens,
        "completion_tokens": out,
        "total_tokens": c.input_tokens + out,
        "prompt_tokens_details": {"cached_tokens": c.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_id(c: Completion) -> str:
    return "chatcmpl-" + c.response_key


def call_id(key: str) -> str:
    return "call_" + key


def logprob_entry(piece: str, lp: TokenLogprob) -> dict[str, Any]:
    """One token's ``logprobs.content`` entry: token, log probability, UTF-8 bytes, top."""
    return {
        "token": piece,
        "logprob": lp.logprob,
        "bytes": list(piece.encode()),
        "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in lp.top],
    }


def _message(choice: Choice) -> dict[str, Any]:
    call = choice.tool_call
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if call else choice.text,
        "refusal": None,
        "annotations": [],
    }
    if call:
        message["tool_calls"] = [
            {
                "id": call_id(call.key),
                "type": "function",
                "function": {"name": call.name, "arguments": call.text},
            }
        ]
    return message


def _choice(index: int, choice: Choice) -> dict[str, Any]:
    logprobs = None
    if choice.logprobs is not None:
        logprobs = {
            "content": [
                logprob_entry(p, lp) for p, lp in zip(choice.pieces, choice.logprobs, strict=True)
            ],
            "refusal": None,
        }
    return {
        "index": index,
        "message": _message(choice),
        "logprobs": logprobs,
        "finish_reason": FINISH_REASONS[choice.finish_reason],
    }


def chat_body(c: Completion, created: int) -> dict[str, Any]:
    if c.choices is None:
        choices = [_choice(0, Choice(c.pieces, c.finish_reason))]
    else:
        choices = [_choice(i, ch) for i, ch in enumerate(c.choices)]
    return {
        "id": completion_id(c),
        "object": "chat.completion",
        "created": created,
        "model": c.model.name,
        "choices": choices,
        "usage": usage(c),
        "service_tier": "default",
        "system_fingerprint": "fp_stampede",
    }


_USAGE_JSON = (
    '{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
    '"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},'
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
)
_BODY_HEAD = b'{"id":"chatcmpl-'
_BODY_CREATED = b'","object":"chat.completion","created":'
_BODY_CHOICES = (
    ',"model":%s,"choices":[{"index":0,'
    '"message":{"role":"assistant","content":%s,"refusal":null,"annotations":[]},'
    '"logprobs":null,"finish_reason":"%s"}],"usage":'
)
_BODY_TAIL = b',"service_tier":"default","system_fingerprint":"fp_stampede"}'

# Rendered tails of chat bodies (everything after ``created``). Under load the same few
# (text, model, finish reason, usage) combinations recur, and %-formatting a long template
# scans it character by character: a hit is one dict lookup instead. The key holds
# id(pieces), not the tuple: token_pieces() hands out one shared tuple per text, and hashing
# its 50-odd strings would cost more than the rest of the lookup. The entry keeps the tuple
# alive and is checked with ``is``, so a reused id can never render another text.
_tails: dict[tuple[int, str, str, int, int, int], tuple[tuple[str, ...], bytes]] = {}
_created_json: dict[int, bytes] = {}  # a memo (see model.memo)


def _render_second(second: int) -> bytes:
    return b"%d" % second


def _render_tail(c: Completion) -> bytes:
    text = json.dumps("".join(c.pieces))
    choices = _BODY_CHOICES % (json.dumps(c.model.name), text, FINISH_REASONS[c.finish_reason])
    n_in, n_out = c.input_tokens, c.output_tokens
    usage = _USAGE_JSON % (n_in, n_out, n_in + n_out, c.cached_tokens)
    return (choices + usage).encode() + _BODY_TAIL


def chat_body_bytes(c: Completion, created: int) -> bytes:
    """:func:`chat_body` rendered from cached fragments: the hot path of every non-streamed call."""
    pieces = c.pieces
    key = (id(pieces), c.model.name, c.finish_reason, c.input_tokens, c.output_tokens,
           c.cached_tokens)  # fmt: skip
    hit = _tails.get(key)
    if hit is not None and hit[0] is pieces:
        tail = hit[1]
    else:
        tail = _render_tail(c)
        fill(_tails, key, lambda _: (pieces, tail))
    try:
        created_json = _created_json[created]
    except KeyError:
        created_json = fill(_created_json, created, _render_second)
    return b"".join((_BODY_HEAD, c.response_key.encode(), _BODY_CREATED, created_json, tail))


def embedding_body(e: Embedding, encoding_format: str) -> dict[str, Any]:
    data = []
    for i, vec in enumerate(e.vectors):
        value: Any = (
            base64.b64encode(vec.astype("<f4").tobytes()).decode()
            if encoding_format == "base64"
            else vec.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": e.model.name,
        "usage": {"prompt_tokens": e.input_tokens, "total_tokens": e.input_tokens},
    }


def model_body(name: str, spec: ModelSpec) -> dict[str, Any]:
    """One model, as ``GET /v1/models/{id}`` and each entry of the list give it: ``name`` is
    the ID asked for (an alias is listed as its own model). ``shutdown_date`` is the optional
    field the deprecations page describes: YYYY-MM-DD, or null when none is announced."""
    released = spec.released
    created = calendar.timegm(released.timetuple()) if released else MODELS_CREATED
    shutdown = spec.retires.isoformat() if spec.retires else None
    return {"id": name, "object": "model", "created": created, "owned_by": spec.owned_by,
            "shutdown_date": shutdown}  # fmt: skip


def models_body(models: list[tuple[str, ModelSpec]]) -> dict[str, Any]:
    return {"object": "list", "data": [model_body(n, s) for n, s in models]}
