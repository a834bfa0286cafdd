"""Responses API request bodies: refused as the API refuses them, read as chat messages.

A body is checked field by field, and a mistake gets the 400 the API gives for it: its
wording, its ``param`` (a path such as ``input[0].content[1].type``) and its ``code``
(``invalid_type``, ``invalid_value``, ``missing_required_parameter``,
``integer_below_min_value``, ...). Fields the mock does not know are ignored, as the chat
dialect ignores them; the real API refuses an unknown parameter.

The input is read as chat messages: a string is one user message, a message item keeps its
role and the text of its content, a ``function_call`` is an assistant message of its name and
arguments, a ``function_call_output`` a tool message of its output, and any other item an
assistant message of its fields as JSON (an approximation: those items are billed as text).
Reading the input as chat messages is what lets this dialect use OpenAI's chat counting and
cache-prefix rules (:mod:`..tokens`) rather than keep a second copy of them.

Three features are refused rather than imitated, with a 400 that says so: ``background``
(polled responses), ``conversation`` (the Conversations API) and ``prompt`` (stored prompt
templates). A client using them would otherwise get answers the real API never gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from ...protocol import BadRequest
from .store import Conversation

__all__ = [
    "INVALID_JSON",
    "ITEM_TYPES",
    "MIN_OUTPUT_TOKENS",
    "NOT_IMITATED",
    "ResponsesRequest",
    "input_messages",
    "missing",
    "parse_request",
    "type_error",
]

MIN_OUTPUT_TOKENS: Final = 16  # the API refuses a smaller max_output_tokens

# The API's words for a body that is not JSON, on every endpoint.
INVALID_JSON: Final = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)

# The ``type`` of every input item of openai-python 3.57's ResponseInputItemParam; a test
# holds this set to the installed SDK's, so a new SDK version with new items says so.
ITEM_TYPES: Final = frozenset({
    "additional_tools", "apply_patch_call", "apply_patch_call_output", "code_interpreter_call",
    "compaction", "compaction_trigger", "computer_call", "computer_call_output",
    "configuration_update", "custom_tool_call", "custom_tool_call_output", "file_search_call",
    "function_call", "function_call_output", "image_generation_call", "item_reference",
    "local_shell_call", "local_shell_call_output", "mcp_approval_request",
    "mcp_approval_response", "mcp_call", "mcp_list_tools", "message", "program",
    "program_output", "reasoning", "shell_call", "shell_call_output", "tool_search_call",
    "tool_search_output", "web_search_call",
})  # fmt: skip
ROLES: Final = ("assistant", "system", "developer", "user")
# Content parts: input parts, and an assistant message's output parts given back as input.
PART_TYPES: Final = ("input_text", "input_image", "input_file", "output_text", "refusal")
TEXT_FORMATS: Final = ("text", "json_object", "json_schema")
VERBOSITIES: Final = ("low", "medium", "high")
TOOL_CHOICES: Final = ("none", "auto", "required")
TRUNCATIONS: Final = ("auto", "disabled")
SERVICE_TIERS: Final = ("auto", "default", "flex", "scale", "priority")
NOT_IMITATED: Final = ("background", "conversation", "prompt")


class ResponsesRequest(msgspec.Struct, frozen=True, gc=False):
    """A valid body: the fields the mock acts on, and the whole body for echoing back."""

    body: Mapping[str, Any]
    model: str
    instructions: str | None
    items: Conversation  # the input items, as chat messages
    max_output_tokens: int | None
    stream: bool
    store: bool
    previous_response_id: str | None


# -- wording ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """A JSON value's kind, as the API's error messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {int: "an integer", float: "a decimal", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), "a value")  # fmt: skip


def _type_error(param: str, expected: str, value: Any) -> BadRequest:
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param,
        "invalid_type",
    )


def _missing(param: str) -> BadRequest:
    return BadRequest(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


missing, type_error = _missing, _type_error  # for .tools, which words its refusals alike


def _invalid_value(param: str, value: str, allowed: Sequence[str]) -> BadRequest:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    return BadRequest(
        f"Invalid value: '{value}'. Supported values are: {listed}.", param, "invalid_value"
    )


def _out_of_range(param: str, value: float, bound: float, above: bool, number: str) -> BadRequest:
    """``number``: how the API names the parameter's type (``integer``, ``decimal``)."""
    side, word, op = ("above", "maximum", "<=") if above else ("below", "minimum", ">=")
    return BadRequest(
        f"Invalid '{param}': {number} {side} {word} value. Expected a value {op} {bound:g}, "
        f"but got {value!r} instead.",
        param,
        f"{number}_{side}_{'max' if above else 'min'}_value",
    )


def _not_imitated(param: str) -> BadRequest:
    return BadRequest(
        f"Unsupported parameter: '{param}' is not imitated by this mock provider (stampede).",
        param,
        "unsupported_parameter",
    )


# -- the body's fields -----------------------------------------------------------------------

_STRING = (str,), "a string"
_BOOLEAN = (bool,), "a boolean"
_INTEGER = (int,), "an integer"
_NUMBER = (int, float), "a number"
_OBJECT = (dict,), "an object"
_ARRAY = (list,), "an array"

# Top-level fields with one JSON type (null is always accepted: the SDK sends it for unset).
_TYPED: Final[dict[str, tuple[tuple[type, ...], str]]] = {
    "instructions": _STRING, "max_output_tokens": _INTEGER, "stream": _BOOLEAN,
    "store": _BOOLEAN, "previous_response_id": _STRING, "background": _BOOLEAN,
    "temperature": _NUMBER, "top_p": _NUMBER, "top_logprobs": _INTEGER,
    "max_tool_calls": _INTEGER, "parallel_tool_calls": _BOOLEAN, "metadata": _OBJECT,
    "text": _OBJECT, "reasoning": _OBJECT, "stream_options": _OBJECT, "prompt": _OBJECT,
    "tools": _ARRAY, "include": _ARRAY, "user": _STRING, "safety_identifier": _STRING,
    "prompt_cache_key": _STRING, "service_tier": _STRING, "truncation": _STRING,
}  # fmt: skip
# (lowest, highest) of the numbers the API range-checks; None: unbounded on that side.
_RANGES: Final[dict[str, tuple[float | None, float | None]]] = {
    "max_output_tokens": (MIN_OUTPUT_TOKENS, None),
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_logprobs": (0, 20),
    "max_tool_calls": (1, None),
}
_CHOICES: Final[dict[str, Sequence[str]]] = {
    "truncation": TRUNCATIONS,
    "service_tier": SERVICE_TIERS,
}


def _is(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _check_fields(body: Mapping[str, Any]) -> None:
    for name, value in body.items():  # a body has a few fields; _TYPED has twenty-odd
        typed = _TYPED.get(name)
        if typed is None or value is None:
            continue
        types, expected = typed
        if not _is(value, types):
            raise _type_error(name, expected, value)
        bounds = _RANGES.get(name)
        if bounds is not None:
            low, high = bounds
            number = "integer" if types == (int,) else "decimal"
            if low is not None and value < low:
                raise _out_of_range(name, value, low, False, number)
            if high is not None and value > high:
                raise _out_of_range(name, value, high, True, number)
        choices = _CHOICES.get(name)
        if choices is not None and value not in choices:
            raise _invalid_value(name, value, choices)
    for name in NOT_IMITATED:
        if body.get(name) not in (None, False):
            raise _not_imitated(name)
    _check_tool_choice(body.get("tool_choice"))
    for i, tool in enumerate(body.get("tools") or ()):
        _typed_object(tool, f"tools[{i}]")
    text = body.get("text")
    if text is not None:
        _check_text_format(text.get("format"))
        verbosity = text.get("verbosity")
        if verbosity is not None and verbosity not in VERBOSITIES:
            if not isinstance(verbosity, str):
                raise _type_error("text.verbosity", "a string", verbosity)
            raise _invalid_value("text.verbosity", verbosity, VERBOSITIES)


def _typed_object(value: Any, param: str) -> str:
    """The ``type`` of an object that must have one."""
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    kind = value.get("type")
    if kind is None:
        raise _missing(f"{param}.type")
    if not isinstance(kind, str):
        raise _type_error(f"{param}.type", "a string", kind)
    return kind


def _check_tool_choice(choice: Any) -> None:
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise _invalid_value("tool_choice", choice, TOOL_CHOICES)
        return
    if not isinstance(choice, dict):
        raise _type_error("tool_choice", "one of a string or an object", choice)
    _typed_object(choice, "tool_choice")


def _check_text_format(fmt: Any) -> None:
    """``text.format``'s shape; what it asks of the output is read by :mod:`.tools`."""
    if fmt is None:
        return
    kind = _typed_object(fmt, "text.format")
    if kind not in TEXT_FORMATS:
        raise _invalid_value("text.format.type", kind, TEXT_FORMATS)
    if kind == "json_schema":
        for name, (types, expected) in (("name", _STRING), ("schema", _OBJECT)):
            if name not in fmt:
                raise _missing(f"text.format.{name}")
            if not _is(fmt[name], types):
                raise _type_error(f"text.format.{name}", expected, fmt[name])


# -- the input, as chat messages -------------------------------------------------------------


def input_messages(value: Any) -> Conversation:
    """The ``input`` of a body as chat messages (see the module docstring)."""
    if isinstance(value, str):
        return ({"role": "user", "content": value},)
    if not isinstance(value, list):
        raise _type_error("input", "one of a string or an array of input items", value)
    return tuple(_item(item, f"input[{i}]") for i, item in enumerate(value))


def _string_field(item: Mapping[str, Any], name: str, path: str) -> str:
    if name not in item:
        raise _missing(f"{path}.{name}")
    value = item[name]
    if not isinstance(value, str):
        raise _type_error(f"{path}.{name}", "a string", value)
    return value


def _item(item: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(item, dict):
        raise _type_error(path, "an object", item)
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise _type_error(f"{path}.type", "a string", kind)
    if kind not in ITEM_TYPES:
        raise _invalid_value(f"{path}.type", kind, sorted(ITEM_TYPES))
    if kind == "message":
        return _message(item, path)
    if kind == "function_call":
        _string_field(item, "call_id", path)
        name = _string_field(item, "name", path)
        return {"role": "assistant", "content": name + _string_field(item, "arguments", path)}
    if kind == "function_call_output":
        _string_field(item, "call_id", path)
        if "output" not in item:
            raise _missing(f"{path}.output")
        output = item["output"]
        if isinstance(output, list):
            return {"role": "tool", "content": _content(output, f"{path}.output")}
        if not isinstance(output, str):
            raise _type_error(f"{path}.output", "one of a string or an array", output)
        return {"role": "tool", "content": output}
    rest = {k: v for k, v in item.items() if k not in ("type", "id", "status")}
    return {"role": "assistant", "content": msgspec.json.encode(rest).decode() if rest else ""}


def _message(item: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    if "role" not in item:
        raise _missing(f"{path}.role")
    role = item["role"]
    if not isinstance(role, str):
        raise _type_error(f"{path}.role", "a string", role)
    if role not in ROLES:
        raise _invalid_value(f"{path}.role", role, ROLES)
    if "content" not in item:
        raise _missing(f"{path}.content")
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise _type_error(f"{path}.content", "one of a string or an array", content)
    return {"role": role, "content": _content(content, f"{path}.content")}


def _content(parts: list[Any], path: str) -> str | list[Mapping[str, Any]]:
    """Content parts as chat content: their text joined, or chat parts when not all text.

    Text parts become chat ``text`` parts, billed; other parts (images, files) are kept as
    they came, unbilled but part of the cache key, as chat content lists are.
    """
    out: list[Mapping[str, Any]] = []
    all_text = True
    for i, part in enumerate(parts):
        where = f"{path}[{i}]"
        kind = _typed_object(part, where)
        if kind not in PART_TYPES:
            raise _invalid_value(f"{where}.type", kind, PART_TYPES)
        if kind == "refusal":
            out.append({"type": "text", "text": _string_field(part, "refusal", where)})
        elif kind in ("input_text", "output_text"):
            out.append({"type": "text", "text": _string_field(part, "text", where)})
        else:
            out.append(part)
            all_text = False
    return "".join(p["text"] for p in out) if all_text else out


# -- the body --------------------------------------------------------------------------------

_decode = msgspec.json.decode


def parse_request(raw: bytes) -> ResponsesRequest:
    """A valid request, or the :class:`BadRequest` the API gives for this body."""
    try:
        body = _decode(raw)
    except (msgspec.MsgspecError, RecursionError):  # not JSON, or nested past the decoder
        raise BadRequest(INVALID_JSON) from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", None, "invalid_type")
    if body.get("model") is None:
        raise _missing("model")
    model = body["model"]
    if not isinstance(model, str):
        raise _type_error("model", "a string", model)
    _check_fields(body)
    if body.get("input") is None:
        raise _missing("input")
    items = input_messages(body["input"])
    previous = body.get("previous_response_id")
    if not items and not body.get("instructions") and previous is None:
        raise BadRequest(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "input",
            "empty_array",
        )
    return ResponsesRequest(
        body,
        model,
        body.get("instructions"),
        items,
        body.get("max_output_tokens"),
        bool(body.get("stream")),
        body.get("store") is not False,
        previous,
    )
