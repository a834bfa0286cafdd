"""The OpenAI wire format: parse requests, render bodies, headers, SSE chunks and errors.

Shapes follow the public API reference so the official ``openai`` SDK cannot tell the mock
from the service: ``{"error": {"message", "type", "param", "code"}}`` errors, Go-style
``x-ratelimit-reset-*`` durations, ``retry-after`` plus ``retry-after-ms`` on a 429, and
``data:`` SSE lines ending in ``data: [DONE]``. All durations handed in are scenario seconds;
``time_scale`` turns them into the wall-clock values a client must see.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from ..model.limits import format_go_duration
from ..model.provider import Completion, Embedding, RateLimitView, Rejection
from ..model.tokens import count_chat_tokens

__all__ = [
    "BadRequest",
    "chat_body",
    "chat_body_bytes",
    "chunk",
    "embedding_body",
    "error_body",
    "models_body",
    "parse_chat",
    "parse_embeddings",
    "ratelimit_headers",
    "rejection",
    "usage",
]

_CFG = ConfigDict(strict=True)


class _Message(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: NotRequired[str | list[dict[str, Any]] | None]
    name: NotRequired[str]


class _StreamOptions(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    include_usage: NotRequired[bool]


class ChatBody(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    model: str
    messages: list[_Message]
    max_tokens: NotRequired[int | None]
    max_completion_tokens: NotRequired[int | None]
    stream: NotRequired[bool | None]
    stream_options: NotRequired[_StreamOptions | None]
    n: NotRequired[int | None]


class EmbeddingsBody(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    model: str
    input: str | list[str]
    encoding_format: NotRequired[Literal["float", "base64"]]
    dimensions: NotRequired[int]


_chat = TypeAdapter(ChatBody)
# The schema validator itself: TypeAdapter.validate_json only checks its options and calls it.
_validate_chat_json = _chat.validator.validate_json
_embeddings = TypeAdapter(EmbeddingsBody)
_FIELDS = {
    "model", "messages", "role", "content", "name", "max_tokens", "max_completion_tokens",
    "stream", "stream_options", "include_usage", "n", "input", "encoding_format", "dimensions",
}  # fmt: skip
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "literal_error": "one of the documented values",
}


class BadRequest(Exception):
    """A request the API refuses with a 4xx before any model work."""

    def __init__(
        self, message: str, param: str | None = None, code: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), "a value")  # fmt: skip


def _to_bad_request(exc: ValidationError) -> BadRequest:
    err = exc.errors()[0]
    if err["type"] == "json_invalid":
        return BadRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        )
    parts: list[str] = []
    for p in err["loc"]:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in _FIELDS:
            parts.append(("." if parts else "") + p)
        elif parts:  # a union member tag such as 'str' or 'list[...]': stop here
            break
    param = "".join(parts) or None
    if err["type"] == "missing":
        return BadRequest(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    if err["type"] in ("greater_than_equal", "greater_than"):
        return BadRequest(
            f"Invalid '{param}': integer below minimum value. Expected a value >= 1, but got "
            f"{err.get('input')} instead.",
            param,
            "integer_below_min_value",
        )
    if err["type"] == "model_type":  # top level is not an object
        return BadRequest("The request body must be a JSON object.", None, "invalid_type")
    expected = _TYPE_NAMES.get(err["type"], "a valid value")
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got "
        f"{_json_kind(err.get('input'))} instead.",
        param,
        "invalid_type",
    )


def parse_chat(raw: bytes) -> tuple[ChatBody, int, int | None]:
    """(body, prompt tokens, effective max_tokens) or :class:`BadRequest`."""
    try:
        body: ChatBody = _validate_chat_json(raw)
    except ValidationError as exc:
        raise _to_bad_request(exc) from None
    if not body["messages"]:
        raise BadRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            "messages",
            "empty_array",
        )
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise BadRequest(
            f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got "
            f"{max_tokens} instead.",
            "max_tokens",
            "integer_below_min_value",
        )
    return body, count_chat_tokens(body["messages"]), max_tokens


def parse_embeddings(raw: bytes) -> EmbeddingsBody:
    try:
        body = _embeddings.validate_json(raw)
    except ValidationError as exc:
        raise _to_bad_request(exc) from None
    if isinstance(body["input"], list) and not body["input"]:
        raise BadRequest("'$.input' is invalid. Please check the API reference.", "input")
    return body


# ------------------------------------------------------------------------------- rendering


def ratelimit_headers(view: RateLimitView | None, time_scale: float) -> dict[str, str]:
    if view is None:
        return {}
    return {
        "x-ratelimit-limit-requests": str(view.limit_requests),
        "x-ratelimit-limit-tokens": str(view.limit_tokens),
        "x-ratelimit-remaining-requests": str(view.remaining_requests),
        "x-ratelimit-remaining-tokens": str(view.remaining_tokens),
        "x-ratelimit-reset-requests": format_go_duration(view.reset_requests_s / time_scale),
        "x-ratelimit-reset-tokens": format_go_duration(view.reset_tokens_s / time_scale),
    }


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _retry_in(seconds: float) -> str:
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout. The request took too long to complete.",
}


def rejection(r: Rejection, time_scale: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for a provider rejection, worded as OpenAI does."""
    a = r.message_args
    headers = ratelimit_headers(r.ratelimit, time_scale)
    if r.kind == "auth":
        key = a["key"]
        if not key:
            msg = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"
            msg = f"Incorrect API key provided: {shown}."
        return 401, error_body(msg, "invalid_request_error", None, "invalid_api_key"), headers
    if r.kind == "model_not_found":
        msg = f"The model `{a['model']}` does not exist or you do not have access to it."
        return 404, error_body(msg, "invalid_request_error", None, "model_not_found"), headers
    if r.kind == "context_length":
        msg = (
            f"This model's maximum context length is {a['limit']} tokens. However, you requested "
            f"{a['total']} tokens ({a['input']} in the messages, {a['output']} in the "
            "completion). Please reduce the length of the messages or completion."
        )
        body = error_body(msg, "invalid_request_error", "messages", "context_length_exceeded")
        return 400, body, headers
    if r.kind == "rate_limit":
        lim = r.limited
        assert lim is not None
        if lim.kind == "too_large":
            msg = (
                f"Request too large for {a['model']} on tokens per min (TPM): Limit "
                f"{lim.limit}, Requested {lim.requested}. The input or output tokens must be "
                "reduced in order to run successfully."
            )
            return 429, error_body(msg, "tokens", None, "rate_limit_exceeded"), headers
        if lim.kind == "concurrency":
            msg = (
                f"Too many concurrent requests for {a['model']}: Limit {lim.limit}, "
                f"In flight {lim.used}. Please retry when a request completes."
            )
            headers["retry-after"] = "1"
            headers["retry-after-ms"] = str(math.ceil(1000 / time_scale))
            return 429, error_body(msg, "requests", None, "rate_limit_exceeded"), headers
        unit = "requests per min (RPM)" if lim.kind == "requests" else "tokens per min (TPM)"
        wait = (lim.retry_after_s or 0.0) / time_scale
        msg = (
            f"Rate limit reached for {a['model']} on {unit}: Limit {lim.limit}, Used "
            f"{lim.used}, Requested {lim.requested}. Please try again in {_retry_in(wait)}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        headers["retry-after"] = str(max(1, math.ceil(wait)))
        headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        return 429, error_body(msg, lim.kind, None, "rate_limit_exceeded"), headers
    status = r.status
    msg = _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
    return status, error_body(msg, "server_error", None, None), headers


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


def _completion_id(c: Completion) -> str:
    return "chatcmpl-" + c.request_id.removeprefix("req_")


def chat_body(c: Completion, created: int) -> dict[str, Any]:
    return {
        "id": _completion_id(c),
        "object": "chat.completion",
        "created": created,
        "model": c.model.name,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": c.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": c.finish_reason,
            }
        ],
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

# Rendered fragments of chat bodies. Under load the same few (model, text) and usage
# combinations recur, and %-formatting a long template scans it character by character: a
# cache hit is a dict lookup instead. Plain dicts, emptied when full, are cheaper than lru_cache.
_CACHE_MAX = 4096
_choices_cache: dict[int, tuple[tuple[str, ...], str, str, bytes]] = {}
_usage_cache: dict[tuple[int, int, int], bytes] = {}


def _choices_json(model: str, finish_reason: str, pieces: tuple[str, ...]) -> bytes:
    # Keyed by id(pieces): token_pieces() hands out one shared tuple per text, and hashing
    # its 50-odd strings would cost more than the rest of the lookup. The entry keeps the
    # tuple alive, so its id cannot be reused by another object while it is cached.
    hit = _choices_cache.get(id(pieces))
    if hit is not None and hit[0] is pieces and hit[1] == model and hit[2] == finish_reason:
        return hit[3]
    if len(_choices_cache) >= _CACHE_MAX:
        _choices_cache.clear()
    text = json.dumps("".join(pieces))
    out = (_BODY_CHOICES % (json.dumps(model), text, finish_reason)).encode()
    _choices_cache[id(pieces)] = (pieces, model, finish_reason, out)
    return out


def _usage_json(n_in: int, n_out: int, cached: int) -> bytes:
    key = (n_in, n_out, cached)
    out = _usage_cache.get(key)
    if out is None:
        if len(_usage_cache) >= _CACHE_MAX:
            _usage_cache.clear()
        out = _usage_cache[key] = (_USAGE_JSON % (n_in, n_out, n_in + n_out, cached)).encode()
    return out


def chat_body_bytes(c: Completion, created: int) -> bytes:
    """:func:`chat_body` rendered from cached fragments: the hot path of every non-streamed call."""
    return b"".join(
        (
            _BODY_HEAD,
            c.request_id.removeprefix("req_").encode(),
            _BODY_CREATED,
            str(created).encode(),
            _choices_json(c.model.name, c.finish_reason, c.pieces),
            _usage_json(c.input_tokens, c.output_tokens, c.cached_tokens),
            _BODY_TAIL,
        )
    )


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
        "id": _completion_id(c),
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


def models_body(names: list[tuple[str, str]], created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": owner}
            for name, owner in names
        ],
    }
