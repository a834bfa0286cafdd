"""OpenAI request bodies: validate them, count prompt tokens, refuse them as OpenAI does.

A refusal is a :class:`BadRequest` carrying the message, ``param`` and ``code`` the real API
gives for the same mistake (missing or mistyped fields, invalid JSON, an empty message list,
an unknown content part). Value checks of the options (ranges, tools, response formats) are
:mod:`.params`'s.

Two validators read the same TypedDict schema. msgspec decodes every chat body: it parses and
checks in one pass at about a third of pydantic's cost, and this runs once per request served.
A body msgspec refuses goes to pydantic, whose structured errors (a location per field, an
error type) are what the OpenAI-shaped refusal is built from; if pydantic accepts it after
all, its result is used, so no body pydantic's schema allows is ever refused; except a body
that is not JSON at all (``NaN``, ``Infinity``: pydantic's parser takes them, the API answers
400 as for any other invalid JSON).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

import msgspec
from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from ..protocol import BadRequest
from .tokens import PART_TYPES, UnknownPart, count_chat_tokens

__all__ = [
    "ROLES",
    "BadRequest",
    "ChatBody",
    "EmbeddingsBody",
    "check_conversation",
    "embedding_inputs",
    "invalid_json",
    "invalid_value",
    "json_kind",
    "parse_chat",
    "parse_embeddings",
]

_CFG = ConfigDict(strict=True)


ROLES = ("system", "assistant", "user", "function", "tool", "developer")  # the API's order


class _Message(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    role: Literal["system", "assistant", "user", "function", "tool", "developer"]
    content: NotRequired[str | list[dict[str, Any]] | None]
    name: NotRequired[str]
    tool_calls: NotRequired[list[dict[str, Any]] | None]  # an assistant's calls
    tool_call_id: NotRequired[str]  # the call a tool message answers


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
    temperature: NotRequired[float | None]
    top_p: NotRequired[float | None]
    presence_penalty: NotRequired[float | None]
    frequency_penalty: NotRequired[float | None]
    logit_bias: NotRequired[dict[str, float] | None]
    seed: NotRequired[int | None]
    logprobs: NotRequired[bool | None]
    top_logprobs: NotRequired[int | None]
    response_format: NotRequired[dict[str, Any] | None]
    tools: NotRequired[list[dict[str, Any]] | None]
    tool_choice: NotRequired[str | dict[str, Any] | None]
    parallel_tool_calls: NotRequired[bool | None]
    stop: NotRequired[str | list[str] | None]
    user: NotRequired[str]


class EmbeddingsBody(TypedDict):
    __pydantic_config__ = _CFG  # type: ignore[misc]
    model: str
    # A text, texts, a text's tokens, or several texts' tokens (LangChain sends these).
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: NotRequired[Literal["float", "base64"]]
    dimensions: NotRequired[int]
    user: NotRequired[str]


_decode_chat = msgspec.json.Decoder(ChatBody).decode
_chat = TypeAdapter(ChatBody)
_embeddings = TypeAdapter(EmbeddingsBody)
_FIELDS = {
    "model", "messages", "role", "content", "name", "max_tokens", "max_completion_tokens",
    "tool_calls", "tool_call_id",
    "stream", "stream_options", "include_usage", "n", "input", "encoding_format", "dimensions",
    *(k for k in ChatBody.__annotations__),
}  # fmt: skip
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
}


def json_kind(value: Any) -> str:
    """How the API names the kind of a JSON value in its type errors."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a decimal number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), "a value")  # fmt: skip


def invalid_json() -> BadRequest:
    return BadRequest(
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
        "but what was sent was not valid JSON.)"
    )


def _quoted_list(values: Any) -> str:
    """``'a', 'b', and 'c'`` as the API lists supported values."""
    items = [f"'{v}'" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f", and {items[-1]}"


def invalid_value(param: str, value: Any, supported: Any) -> BadRequest:
    return BadRequest(
        f"Invalid value: '{value}'. Supported values are: {_quoted_list(supported)}.",
        param,
        "invalid_value",
    )


def _to_bad_request(exc: ValidationError) -> BadRequest:
    err = exc.errors()[0]
    if err["type"] == "json_invalid":
        return invalid_json()
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
    if err["type"] == "literal_error" and param and param.endswith(".role"):
        return invalid_value(param, err.get("input"), ROLES)
    if err["type"] == "literal_error":
        return BadRequest(
            f"Invalid value: '{err.get('input')}'. Supported values are: "
            f"{err.get('ctx', {}).get('expected', '')}.",
            param,
            "invalid_value",
        )
    expected = _TYPE_NAMES.get(err["type"], "a valid value")
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got "
        f"{json_kind(err.get('input'))} instead.",
        param,
        "invalid_type",
    )


def parse_chat(raw: bytes) -> tuple[ChatBody, int, int | None]:
    """(body, prompt tokens, effective max_tokens) or :class:`BadRequest`."""
    try:
        body: ChatBody = _decode_chat(raw)
    except msgspec.ValidationError:  # JSON, but not as the schema has it: pydantic says why
        try:
            body = _chat.validate_json(raw)
        except ValidationError as exc:
            raise _to_bad_request(exc) from None
    except (msgspec.DecodeError, RecursionError):  # not JSON (NaN, Infinity), or too deep
        raise invalid_json() from None
    if not body["messages"]:
        raise BadRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            "messages",
            "empty_array",
        )
    cap, legacy_cap = body.get("max_completion_tokens"), body.get("max_tokens")
    if cap is not None and legacy_cap is not None:
        # The real refusal, quoted in langchain-ai/langgraph#5943.
        raise BadRequest(
            "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
            "max_tokens",
            "invalid_parameter_combination",
        )
    if cap is not None and cap < 1:
        raise _below_one("max_completion_tokens", cap)
    if legacy_cap is not None and legacy_cap < 1:
        raise _below_one("max_tokens", legacy_cap)
    if body.get("stream_options") is not None and not body.get("stream"):
        # The real refusal, quoted in BerriAI/litellm#5803 (param stream_options, code null).
        raise BadRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    check_conversation(body["messages"])
    max_tokens = legacy_cap if cap is None else cap
    try:
        tokens = count_chat_tokens(body["messages"], strict=True)
    except UnknownPart:
        raise _bad_part(body["messages"]) from None
    return body, tokens, max_tokens


_NO_CALLS: list[Any] = []  # never added to: a conversation without calls allocates nothing


def check_conversation(messages: list[Any]) -> None:
    """Refuse a conversation whose tool messages do not pair with the assistant's calls.

    A ``tool`` message must answer a call of the assistant message before it (the messages
    between them being tool messages too), and every call of that assistant message must be
    answered before another kind of message, or the end of the conversation. The refusals
    are the real ones: "messages with role 'tool' must be ..." with param
    ``messages.[i].role`` and code null (miurla/morphic#136, smarter-sh/smarter#264), and
    "An assistant message with 'tool_calls' must be followed by ..." with the unanswered ids
    and a ``messages.[i].role`` param (router-for-me/CLIProxyAPI#2798; here ``i`` is the
    assistant message's index). A tool message without ``tool_call_id`` is refused as the
    API's schema refuses a missing required field.
    """
    pending: list[Any] = _NO_CALLS  # the calls of the last assistant message not yet answered
    answering = -1  # index of the assistant message whose calls the tool messages answer
    for i, m in enumerate(messages):
        role = m["role"]
        if role == "tool":
            if "tool_call_id" not in m:
                where = f"messages[{i}].tool_call_id"
                raise BadRequest(
                    f"Missing required parameter: '{where}'.", where, "missing_required_parameter"
                )
            if answering < 0 or m["tool_call_id"] not in pending:
                raise BadRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            pending.remove(m["tool_call_id"])
            continue
        if pending:
            raise _unanswered(pending, answering)
        calls = m.get("tool_calls") if role == "assistant" else None
        if calls:
            answering, pending = i, [c.get("id") for c in calls if isinstance(c, dict)]
        elif answering >= 0:
            answering, pending = -1, _NO_CALLS
    if pending:
        raise _unanswered(pending, answering)


def _unanswered(pending: list[Any], index: int) -> BadRequest:
    ids = ", ".join(str(p) for p in pending)
    return BadRequest(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{ids}",
        f"messages.[{index}].role",
    )


def _below_one(name: str, value: int) -> BadRequest:
    return BadRequest(
        f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got "
        f"{value} instead.",
        name,
        "integer_below_min_value",
    )


def _bad_part(messages: list[Any]) -> BadRequest:
    """The refusal for the first content part that is not one of :data:`PART_TYPES`."""
    for i, m in enumerate(messages):
        content = m.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            where = f"messages[{i}].content[{j}]"
            kind = part.get("type")
            if kind is None:
                return BadRequest(
                    f"Missing required parameter: '{where}.type'.",
                    f"{where}.type",
                    "missing_required_parameter",
                )
            if kind not in PART_TYPES:
                return invalid_value(f"{where}.type", kind, PART_TYPES)
            if kind == "text" and not isinstance(part.get("text"), str):
                return BadRequest(
                    f"Invalid type for '{where}.text': expected a string, but got "
                    f"{json_kind(part.get('text'))} instead.",
                    f"{where}.text",
                    "invalid_type",
                )
    return BadRequest("Invalid content part.", "messages")  # not reached: a part was bad


def parse_embeddings(raw: bytes) -> EmbeddingsBody:
    try:
        msgspec.json.decode(raw)  # NaN and Infinity are not JSON (pydantic's parser takes them)
    except (msgspec.DecodeError, RecursionError):  # ... nor is JSON nested past the decoder
        raise invalid_json() from None
    try:
        body = _embeddings.validate_json(raw)
    except ValidationError as exc:
        raise _to_bad_request(exc) from None
    inputs = body["input"]
    if _bad_input(inputs):
        # The real refusal of an empty input, of "" and of more than 2048 inputs
        # (aryn-ai/sycamore#943; embeddings-benchmark/mteb#1200, which quotes the API
        # reference: "cannot be an empty string, and any array must be 2048 dimensions or
        # less"): param and code null.
        raise BadRequest(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference."
        )
    dims = body.get("dimensions")
    if dims is not None and dims < 1:
        raise BadRequest(
            f"Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got "
            f"{dims} instead.",
            "dimensions",
            "integer_below_min_value",
        )
    return body


MAX_EMBEDDING_INPUTS = 2048


def _bad_input(inputs: Any) -> bool:
    """An input the embeddings API refuses: empty text or list, a negative token id, more
    than :data:`MAX_EMBEDDING_INPUTS` inputs."""
    if inputs == "" or inputs == []:
        return True
    if isinstance(inputs, str):
        return False
    if isinstance(inputs[0], int):  # one text as its tokens
        return min(inputs) < 0
    return len(inputs) > MAX_EMBEDDING_INPUTS or any(
        x == "" or x == [] or (isinstance(x, list) and min(x) < 0) for x in inputs
    )


def embedding_inputs(body: EmbeddingsBody) -> list[str | list[int]]:
    """The texts of an embeddings body, each a string or its token ids: ``input`` is one
    text, a list of texts, one text's tokens, or a list of texts' tokens."""
    given: Any = body["input"]
    if isinstance(given, str) or (given and isinstance(given[0], int)):
        return [given]
    return list(given)
