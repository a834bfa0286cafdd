"""A Messages request's options beyond the prompt: refused as the API refuses them, read for
the brain.

Theory of operation
-------------------
:func:`~.parsing.validate` has checked every field's shape. The rules here join fields
together, or a field and the model, and each is the API's own, worded as it words it (the
source of each wording is cited beside it):

- ``anthropic-version`` must be sent, and be a version the API knows (:func:`check_version`);
- ``tool_choice`` needs ``tools``, and a named choice must name one of them;
- a custom tool's ``input_schema`` must be an object schema (``"type": "object"``);
- ``thinking`` (enabled or adaptive) needs a model with extended thinking, and a
  ``tool_choice`` that does not force a call;
- ``tool_use`` and ``tool_result`` blocks must pair up across turns (:mod:`.conversation`).

:func:`read_options` returns the brain's :class:`~mock_provider.model.outputs.OutputSpec`
for a request that asks for more than one plain answer: custom tools (server tools, such as
``web_search_20250305``, are accepted and never called), ``tool_choice`` (``auto``, ``any``:
the brain's ``required``, ``tool``: its ``named``, ``none``), parallel calls unless
``disable_parallel_tool_use``, ``stop_sequences``, and ``output_config.format``'s JSON
schema (structured outputs). None for a plain request, the common case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model.outputs import OutputSpec, Tool, ToolChoice
from ..protocol import BadRequest
from .headers import VERSION

__all__ = [
    "MAX_PARALLEL_CALLS",
    "VERSIONS",
    "check_version",
    "read_options",
    "supports_thinking",
]

# The versions platform.claude.com/docs/en/api/versioning lists: 2026-10-21 (what the
# anthropic SDK 2.x sends: its _constants.ANTHROPIC_API_VERSION), 2023-06-01 and
# 2023-01-01. (What 2026-10-21 changes, such as refusing ``temperature``, is not modelled.)
VERSIONS = frozenset({"2026-10-21", "2023-06-01", "2023-01-01"})
# The most tool_use blocks the mock puts in one answer when parallel calls are allowed (the
# API sets no documented number; Claude rarely makes more than a few).
MAX_PARALLEL_CALLS = 3
# Anthropic's tool_choice types in the brain's words. A forced choice (any, tool) always
# calls, with no text first and stop_reason "tool_use": "When tool_choice is set to any or
# tool, the assistant message is prefilled to force a tool to be used. This means the model
# will not emit a chain-of-thought text content block before tool_use content blocks" (the
# tool-use docs, quoted in madebywelch/anthropic-go#26); the SDK's StopReason: "tool_use: the
# model invoked one or more tools".
_CHOICES: dict[str, ToolChoice] = {"auto": "auto", "any": "required", "tool": "named",
                                   "none": "none"}  # fmt: skip


def check_version(headers: Mapping[str, str]) -> None:
    """Refuse a request without a known ``anthropic-version``, in the API's words."""
    version = headers.get(VERSION)
    if version is None:
        # {"type":"invalid_request_error","message":"anthropic-version: header is required"}:
        # quoted in envoyproxy/ai-gateway#1909 and PipedreamHQ/pipedream#9697.
        raise BadRequest("anthropic-version: header is required", VERSION)
    if version not in VERSIONS:
        # 'anthropic-version: "2023-10-01" is not a valid version': directus-labs/extensions#285
        # (and '"2023-06-01, 2023-06-01" is not a valid version' in decolua/9router#1227).
        raise BadRequest(f'anthropic-version: "{version}" is not a valid version', VERSION)


def supports_thinking(model: str) -> bool:
    """Whether ``model`` has extended thinking: every Claude model from Sonnet 3.7 on
    (docs.claude.com/en/docs/build-with-claude/extended-thinking, "Supported models"), so
    not Claude 3 and 3.5 (``claude-3-5-sonnet-20241022`` answers "does not support
    thinking": anthropics/claude-code#2245), Claude 2 or Claude Instant."""
    if model.startswith("claude-3-"):
        return model.startswith("claude-3-7")
    return not model.startswith(("claude-2", "claude-instant"))


def _check_thinking(body: Mapping[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None or thinking.get("type") == "disabled":
        return
    model = body["model"]
    if not supports_thinking(model):
        # "'claude-3-5-haiku-20241022' does not support thinking.": anthropics/claude-code
        # #12914; the same for claude-3-5-sonnet-20241022 in #2245.
        raise BadRequest(f"'{model}' does not support thinking.", "thinking")
    choice = body.get("tool_choice")
    if choice is not None and choice["type"] in ("any", "tool"):
        # "Thinking may not be enabled when tool_choice forces tool use.": the API's 400,
        # quoted verbatim in several public clients that guard against it (an AI SDK
        # issue's reproduction script, a Bedrock adapter's test); the extended-thinking docs
        # allow only tool_choice auto or none with thinking.
        raise BadRequest(
            "Thinking may not be enabled when tool_choice forces tool use.", "tool_choice"
        )


def _tools(body: Mapping[str, Any]) -> tuple[Tool, ...]:
    """The custom tools, each input schema checked; server tools are not the mock's to call."""
    tools = []
    for j, tool in enumerate(body.get("tools") or ()):
        if tool.get("type", "custom") not in ("custom", None):
            continue
        schema = tool["input_schema"]
        # The SDK's InputSchemaTyped: ``type: Required[Literal["object"]]``. The API's
        # words: "tools.0.custom.input_schema.type: Input should be 'object'" (quoted in
        # several public repositories' notes on a 400, e.g. for a top-level array schema)
        # and "tools.0.custom.input_schema.type: Field required" (for a root anyOf).
        where = f"tools.{j}.custom.input_schema.type"
        if "type" not in schema:
            raise BadRequest(f"{where}: Field required", where)
        if schema["type"] != "object":
            raise BadRequest(f"{where}: Input should be 'object'", where)
        tools.append(Tool(tool["name"], schema))
    return tuple(tools)


def _tool_choice(
    body: Mapping[str, Any], tools: tuple[Tool, ...]
) -> tuple[ToolChoice, str | None, bool]:
    """(the brain's choice, the named tool, whether parallel calls are allowed)."""
    choice = body.get("tool_choice")
    if choice is None:
        return ("auto" if tools else "none"), None, True
    kind = choice["type"]
    if not body.get("tools"):
        # "tool_choice.any may only be specified while providing tools": the API's 400,
        # quoted in two public client repositories' notes on it (a Dart and a JS client).
        raise BadRequest(
            f"tool_choice.{kind} may only be specified while providing tools", "tool_choice"
        )
    name = choice.get("name") if kind == "tool" else None
    if name is not None and not any(t.get("name") == name for t in body["tools"]):
        # "Tool 'web_search' not found in provided tools": the API's message, quoted in
        # full in a public test of an Anthropic proxy's error handling.
        raise BadRequest(f"Tool '{name}' not found in provided tools", "tool_choice")
    parallel = choice.get("disable_parallel_tool_use") is not True
    return _CHOICES[kind], name, parallel


def _format_schema(body: Mapping[str, Any]) -> Any:
    """The JSON schema of structured outputs, or None: ``output_config.format`` (the GA API),
    or ``output_format``, the same object in the beta API that LiteLLM and pydantic-ai still
    send (with the ``structured-outputs-2025-11-13`` beta header; Anthropic's structured
    outputs docs describe both)."""
    if body.get("output_format") is not None:
        return _json_schema(body.get("output_format"), "output_format")
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    return _json_schema(fmt, "output_config.format")


def _json_schema(fmt: Any, at: str) -> Any:
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") != "json_schema":
        raise BadRequest(f"{at}.type: Input should be 'json_schema'", f"{at}.type")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        where = f"{at}.schema"
        raise BadRequest(f"{where}: Field required" if schema is None
                         else f"{where}: Input should be a valid dictionary", where)  # fmt: skip
    return schema


def read_options(body: Mapping[str, Any]) -> OutputSpec | None:
    """Check the cross-field rules (see the module docstring); the brain's spec, or None."""
    if body.get("thinking") is not None:
        _check_thinking(body)
    tools = _tools(body)
    choice, name, parallel = _tool_choice(body, tools)
    if choice == "named" and not any(t.name == name for t in tools):
        choice = "none"  # it names a server tool: not the mock's to call
    structured = body.get("output_config") is not None or body.get("output_format") is not None
    schema = _format_schema(body) if structured else None
    stops = tuple(body.get("stop_sequences") or ())
    if choice == "none" and schema is None and not stops:
        return None
    return OutputSpec(
        json=schema is not None,
        schema=schema,
        tools=tools if choice != "none" else (),
        tool_choice=choice,
        tool_name=name,
        max_tool_calls=MAX_PARALLEL_CALLS if parallel else 1,
        preamble=True,
        stop=stops,
    )
