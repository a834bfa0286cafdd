"""What a Responses request asks of its answer: tools, ``tool_choice`` and ``text.format``.

:func:`read_output` turns those fields into the brain's
:class:`~mock_provider.model.outputs.OutputSpec` (None for one plain text answer), refusing
what the API refuses; :func:`check_call_outputs` refuses a ``function_call_output`` that
answers no call. Each rule names its source.

- **Function tools** are flat (``{"type": "function", "name", "parameters", "strict"}``,
  openai-python's ``FunctionToolParam``). ``strict: true`` keeps the schema to the strict
  subset (:mod:`..schemas`), with chat's wording. ``strict`` left out is strict too, the
  schema normalised rather than refused: "If you omit ``strict``, the default depends on the
  API: Responses requests will normalize your schema into strict mode (for example, by
  setting ``additionalProperties: false`` and marking all fields as required) [...] while
  Chat Completions requests remain non-strict by default" (OpenAI's function calling guide,
  2026-04). ``strict: false`` takes the schema as it is. Other tool types (web search, file
  search, MCP, custom, ...) are accepted and never called.
- **tool_choice** is ``none``, ``auto`` (the default), ``required``, a named function
  (``{"type": "function", "name"}``, ``ToolChoiceFunctionParam``) or ``allowed_tools``
  (``{"mode": "auto" | "required", "tools": [...]}``, ``ToolChoiceAllowedParam``), which
  narrows the tools callable. A named tool that is not among ``tools`` is the API's
  ``Tool choice 'NAME' not found in 'tools' parameter.`` (param ``tool_choice``; the wording
  of public captures, e.g. for ``image_generation``). A forced choice of a hosted tool is
  answered with text: the mock runs no hosted tool.
- **parallel_tool_calls** "Whether to allow the model to run tool calls in parallel",
  default true (the API reference for ``POST /v1/responses``): an answer may then make several
  calls (:mod:`mock_provider.model.outputs`).
- **text.format** ``json_schema`` (``ResponseFormatTextJSONSchemaConfigParam``: ``name``,
  ``schema``, ``strict``) makes the text an instance of the schema, checked as chat's
  ``response_format`` is when ``strict`` is true; ``json_object`` makes it a JSON object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from ....model.outputs import MAX_PARALLEL_CALLS, OutputSpec, Tool, ToolChoice
from ...protocol import BadRequest
from ..schemas import check_strict
from .parsing import missing, type_error

__all__ = ["check_call_outputs", "normalise_strict", "read_output"]

_DEFAULT_CHOICE: Final = "auto"


def read_output(body: Mapping[str, Any]) -> OutputSpec | None:
    """The brain's spec for this body, or None when it asks for one plain text answer.

    Types were checked already (:mod:`.parsing`); this reads and checks meaning.
    """
    tools = _function_tools(body.get("tools") or ())
    choice, name, tools = _tool_choice(body.get("tool_choice"), tools)
    json, schema = _text_format((body.get("text") or {}).get("format"))
    if not json and (not tools or choice == "none"):
        return None
    parallel = body.get("parallel_tool_calls") is not False
    return OutputSpec(
        json=json,
        schema=schema,
        tools=tools if choice != "none" else (),
        tool_choice=choice,
        tool_name=name,
        max_tool_calls=MAX_PARALLEL_CALLS if parallel else 1,
    )


def _function_tools(raw: Iterable[Any]) -> tuple[Tool, ...]:
    tools = []
    for i, tool in enumerate(raw):
        if tool.get("type") != "function":
            continue  # hosted and custom tools: accepted, never called
        where = f"tools[{i}]"
        name = tool.get("name")
        if name is None:
            raise missing(f"{where}.name")
        if not isinstance(name, str):
            raise type_error(f"{where}.name", "a string", name)
        params = tool.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise type_error(f"{where}.parameters", "an object", params)
        strict = tool.get("strict")
        if strict is True:
            check_strict(params or {}, f"function '{name}'", f"{where}.parameters",
                         "invalid_function_parameters")  # fmt: skip
        elif strict is None and params is not None:
            params = normalise_strict(params)  # the Responses default (module docstring)
        tools.append(Tool(name, params))
    return tuple(tools)


def normalise_strict(schema: Any) -> Any:
    """``schema`` with every object's properties required and no others allowed: what the
    Responses API does to a function schema whose ``strict`` is left out."""
    if isinstance(schema, list):
        return [normalise_strict(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: normalise_strict(v) for k, v in schema.items()}
    props = schema.get("properties")
    if isinstance(props, Mapping):
        out["properties"] = {k: normalise_strict(v) for k, v in props.items()}
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


def _not_in_tools(name: str) -> BadRequest:
    return BadRequest(f"Tool choice '{name}' not found in 'tools' parameter.", "tool_choice")


def _tool_choice(
    choice: Any, tools: tuple[Tool, ...]
) -> tuple[ToolChoice, str | None, tuple[Tool, ...]]:
    """(the choice, the named tool, the tools callable)."""
    if choice is None:
        return _DEFAULT_CHOICE, None, tools
    if isinstance(choice, str):  # none, auto, required: checked by .parsing
        return choice, None, tools  # type: ignore[return-value]
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if not any(t.name == name for t in tools):
            raise _not_in_tools(str(name))
        return "named", name, tools
    if kind == "allowed_tools":
        listed = choice.get("tools")
        allowed = {
            t.get("name") for t in (listed if isinstance(listed, list) else ())
            if isinstance(t, Mapping) and t.get("type") == "function"
        }  # fmt: skip
        mode = choice.get("mode")
        narrowed = tuple(t for t in tools if t.name in allowed)
        return ("required" if mode == "required" else "auto"), None, narrowed
    return "none", None, ()  # a hosted tool forced: the mock runs none, so it answers text


def _text_format(fmt: Any) -> tuple[bool, Any]:
    """(JSON wanted, its schema or None); the format's fields were checked by .parsing."""
    if not fmt or fmt.get("type") == "text":
        return False, None
    if fmt.get("type") == "json_object":
        return True, None
    schema = fmt.get("schema") or {}
    if fmt.get("strict") is True:
        check_strict(schema, f"text.format '{fmt.get('name')}'", "text.format.schema", None)
    return True, schema


def check_call_outputs(items: Iterable[Any], known: frozenset[str]) -> frozenset[str]:
    """Refuse a ``function_call_output`` whose ``call_id`` names no ``function_call`` before
    it, in the input or the previous responses (``known``); the call ids known after.

    The API's 400 (type ``invalid_request_error``, param ``input``, code null), as quoted in
    continuedev/continue#10092: ``No tool call found for function call output with call_id
    call_uelfkqtHfJDC4Btqeoozq82e.``
    """
    calls: set[Any] = set(known)
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "function_call":
            calls.add(item.get("call_id"))
        elif kind == "function_call_output" and item.get("call_id") not in calls:
            raise BadRequest(
                f"No tool call found for function call output with call_id {item.get('call_id')}.",
                "input",
            )
    return frozenset(c for c in calls if isinstance(c, str))
