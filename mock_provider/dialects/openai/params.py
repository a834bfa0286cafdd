"""A chat request's options beyond the prompt: checked as the API checks them, read for the brain.

The API refuses an option out of its range with a 400 naming the parameter; the messages and
codes here are the real ones where a capture of the real API was found (``n``,
``temperature`` and the other decimals, ``top_logprobs`` without ``logprobs``,
``logit_bias`` keys, ``tool_choice``, tool names, response formats, schema rules), and follow
the same pattern otherwise (the ``top_logprobs`` ceiling, ``logit_bias`` values, ``seed``'s
range). Types were already checked by the body's schema (:mod:`.parsing`).

:func:`read_options` returns the brain's :class:`~mock_provider.model.outputs.OutputSpec` for
a request that asks for more than one plain answer, else None. A body with none of these
options never reaches this module (see ``OpenAIDialect.parse_chat``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...model.outputs import OutputSpec, Tool, ToolChoice
from ..protocol import BadRequest
from .parsing import ChatBody, invalid_value, json_kind
from .schemas import check_strict

__all__ = ["MAX_CHOICES", "MAX_TOP_LOGPROBS", "read_options"]

MAX_CHOICES = 128
MAX_TOP_LOGPROBS = 20
MAX_LOGIT_BIAS = 1024  # entries
_INT64 = 2**63 - 1
_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
# (parameter, lowest, highest) of the decimal options, in the order the API checks them.
_DECIMALS = (
    ("temperature", 0, 2),
    ("top_p", 0, 1),
    ("presence_penalty", -2, 2),
    ("frequency_penalty", -2, 2),
)


def _number(value: float) -> str:
    """A value as the API prints it back: ``9``, ``2.5``, ``-3``."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _below(param: str, low: float, value: float, kind: str = "integer") -> BadRequest:
    return BadRequest(
        f"Invalid '{param}': {kind} below minimum value. Expected a value >= {_number(low)}, "
        f"but got {_number(value)} instead.",
        param,
        f"{kind}_below_min_value",
    )


def _above(param: str, high: float, value: float, kind: str = "integer") -> BadRequest:
    return BadRequest(
        f"Invalid '{param}': {kind} above maximum value. Expected a value <= {_number(high)}, "
        f"but got {_number(value)} instead.",
        param,
        f"{kind}_above_max_value",
    )


def _missing(param: str) -> BadRequest:
    return BadRequest(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def _type(param: str, expected: str, value: Any) -> BadRequest:
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead.",
        param,
        "invalid_type",
    )


def _name(param: str, value: Any) -> None:
    """A function's or a response format's name: 1 to 64 of ``[a-zA-Z0-9_-]``."""
    if not isinstance(value, str):
        raise _type(param, "a string", value)
    if not value:
        raise BadRequest(
            f"Invalid '{param}': empty string. Expected a string with minimum length 1, but "
            "got an empty string instead.",
            param,
            "empty_string",
        )
    if len(value) > 64:
        raise BadRequest(
            f"Invalid '{param}': string too long. Expected a string with maximum length 64, "
            f"but got a string with length {len(value)} instead.",
            param,
            "string_above_max_length",
        )
    if not _NAME.match(value):
        raise BadRequest(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            param,
            "invalid_value",
        )


def read_options(body: ChatBody) -> OutputSpec | None:
    """Check the options (see the module docstring); the brain's spec, or None if plain."""
    n = body.get("n")
    if n is not None:
        if n < 1:
            raise _below("n", 1, n)
        if n > MAX_CHOICES:
            raise _above("n", MAX_CHOICES, n)
    options: Mapping[str, Any] = body
    for param, low, high in _DECIMALS:
        value = options.get(param)
        if value is not None:
            if not value <= high:  # NaN fails both comparisons, as it should
                raise _above(param, high, value, "decimal")
            if not value >= low:
                raise _below(param, low, value, "decimal")
    _check_logit_bias(body.get("logit_bias"))
    seed = body.get("seed")
    if seed is not None and not -_INT64 - 1 <= seed <= _INT64:
        raise (_above if seed > 0 else _below)("seed", _INT64 if seed > 0 else -_INT64 - 1, seed)
    logprobs = _logprobs(body)
    json, schema = _response_format(body.get("response_format"))
    if json and schema is None:
        _check_json_mentioned(body["messages"])
    tools, choice, name = _tools(body)
    stop = _stop(body.get("stop"))
    if n in (None, 1) and logprobs is None and not json and not tools and not stop:
        return None
    return OutputSpec(
        choices=n or 1,
        json=json,
        schema=schema,
        tools=tools,
        tool_choice=choice,
        tool_name=name,
        logprobs=logprobs,
        stop=stop,
    )


MAX_STOP = 4  # "Up to 4 sequences where the API will stop generating" (API reference, `stop`)


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    """The stop sequences, at most :data:`MAX_STOP`; the refusal of more follows the API's
    wording for an array over its length ("Invalid 'tools': array too long. Expected an array
    with maximum length 128, but got an array with length 133 instead.", Upsonic/Upsonic#176).
    """
    if not stop:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if len(stop) > MAX_STOP:
        raise BadRequest(
            f"Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, "
            f"but got an array with length {len(stop)} instead.",
            "stop",
            "array_above_max_length",
        )
    return tuple(s for s in stop if s)


def _check_json_mentioned(messages: list[Any]) -> None:
    """JSON mode needs the word in the conversation: "the API will throw an error if the
    string 'JSON' does not appear somewhere in the context" (platform.openai.com/docs/guides/
    structured-outputs, JSON mode). Any case, in any message's text."""
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            if "json" in content.lower():
                return
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, Mapping) else None
                if isinstance(text, str) and "json" in text.lower():
                    return
    raise BadRequest(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of "
        "type 'json_object'.",
        "messages",
    )


def _check_logit_bias(bias: Mapping[str, float] | None) -> None:
    if not bias:
        return
    if len(bias) > MAX_LOGIT_BIAS:
        raise BadRequest(
            f"Invalid 'logit_bias': too many properties. Expected an object with at most "
            f"{MAX_LOGIT_BIAS} properties, but got an object with {len(bias)} properties "
            "instead.",
            "logit_bias",
            "object_above_max_properties",
        )
    for key, value in bias.items():
        if not key.isdigit():
            raise BadRequest(
                f"Invalid key in 'logit_bias': {key}. You should only be submitting "
                "non-negative integers.",
                "logit_bias",
            )
        if not value <= 100:
            raise _above(f"logit_bias.{key}", 100, value, "decimal")
        if not value >= -100:
            raise _below(f"logit_bias.{key}", -100, value, "decimal")


def _logprobs(body: ChatBody) -> int | None:
    """Alternatives per token when log probabilities are asked for, else None."""
    top = body.get("top_logprobs")
    wanted = body.get("logprobs") is True
    if top is not None:
        if top < 0:
            raise _below("top_logprobs", 0, top)
        if top > MAX_TOP_LOGPROBS:
            raise _above("top_logprobs", MAX_TOP_LOGPROBS, top)
        if not wanted:
            raise BadRequest(
                "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
                "top_logprobs",
            )
    return (top or 0) if wanted else None


_FORMATS = ("json_object", "json_schema", "text")


def _response_format(fmt: Mapping[str, Any] | None) -> tuple[bool, Any]:
    """(JSON wanted, its schema or None)."""
    if fmt is None:
        return False, None
    kind = fmt.get("type")
    if kind is None:
        raise _missing("response_format.type")
    if kind not in _FORMATS:
        raise invalid_value("response_format.type", kind, _FORMATS)
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    spec = fmt.get("json_schema")
    if spec is None:
        raise _missing("response_format.json_schema")
    if not isinstance(spec, Mapping):
        raise _type("response_format.json_schema", "an object", spec)
    if "name" not in spec:
        raise _missing("response_format.json_schema.name")
    _name("response_format.json_schema.name", spec["name"])
    schema = spec.get("schema", {})
    if not isinstance(schema, Mapping):
        raise _type("response_format.json_schema.schema", "an object", schema)
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _type("response_format.json_schema.strict", "a boolean", strict)
    if strict:
        check_strict(schema, f"response_format '{spec['name']}'", "response_format", None)
    return True, schema


_CHOICES = ("none", "auto", "required")


def _tools(body: ChatBody) -> tuple[tuple[Tool, ...], ToolChoice, str | None]:
    """(the callable tools, the choice, the named tool): tools are dropped for ``none``."""
    raw = body.get("tools")
    if raw is not None and not raw:
        # The real refusal, quoted in continuedev/continue#3370 and dnakov/anon-kode#20.
        raise BadRequest(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "tools",
            "empty_array",
        )
    raw = raw or []
    tools = []
    for i, t in enumerate(raw):
        where = f"tools[{i}]"
        kind = t.get("type")
        if kind is None:
            raise _missing(f"{where}.type")
        if kind not in ("function", "custom"):
            raise invalid_value(f"{where}.type", kind, ("function", "custom"))
        if kind == "custom":
            continue  # free-form tools: accepted, never called (see the README)
        fn = t.get("function")
        if fn is None:
            raise _missing(f"{where}.function")
        if not isinstance(fn, Mapping):
            raise _type(f"{where}.function", "an object", fn)
        if "name" not in fn:
            raise _missing(f"{where}.function.name")
        _name(f"{where}.function.name", fn["name"])
        params = fn.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise _type(f"{where}.function.parameters", "an object", params)
        if fn.get("strict") is True:
            check_strict(
                params or {}, f"function '{fn['name']}'", f"{where}.function.parameters",
                "invalid_function_parameters",
            )  # fmt: skip
        tools.append(Tool(fn["name"], params))
    choice = body.get("tool_choice")
    if choice is None:
        return tuple(tools), ("auto" if tools else "none"), None
    if not raw:
        raise BadRequest(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
        )
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise invalid_value("tool_choice", choice, _CHOICES)
        return (tuple(tools) if choice != "none" else ()), choice, None  # type: ignore[return-value]
    fn = choice.get("function")
    if not isinstance(fn, Mapping):
        raise _missing("tool_choice.function")
    name = fn.get("name")
    if name is None:
        raise _missing("tool_choice.function.name")
    if not any(t.name == name for t in tools):
        raise BadRequest(
            f"Invalid value for 'function_call': no function named '{name}' was specified in "
            "the 'functions' parameter.",
            "function_call",
        )
    return tuple(tools), "named", name
