"""OpenAI request bodies: validate them, count prompt tokens, refuse them as OpenAI does.

A refusal is a :class:`BadRequest` carrying the message, ``param`` and ``code`` the real API
gives for the same mistake (missing or mistyped fields, invalid JSON, an empty message list).

Two validators read the same TypedDict schema. msgspec decodes every chat body: it parses and
checks in one pass at about a third of pydantic's cost, and this runs once per request served.
A body msgspec refuses goes to pydantic, whose structured errors (a location per field, an
error type) are what the OpenAI-shaped refusal is built from; if pydantic accepts it after
all, its result is used, so no body pydantic's schema allows is ever refused.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

import msgspec
from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from ..protocol import BadRequest
from .tokens import count_chat_tokens

__all__ = ["BadRequest", "ChatBody", "EmbeddingsBody", "parse_chat", "parse_embeddings"]

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


_decode_chat = msgspec.json.Decoder(ChatBody).decode
_chat = TypeAdapter(ChatBody)
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
        body: ChatBody = _decode_chat(raw)
    except msgspec.MsgspecError:
        try:
            body = _chat.validate_json(raw)
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
