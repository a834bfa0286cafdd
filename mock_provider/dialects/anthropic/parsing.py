"""Anthropic request bodies: validate them as the Messages API does, refuse them in its words.

The API validates with pydantic-style rules and words a refusal as ``<field path>: <what was
expected>`` (``max_tokens: Field required``, ``messages.0.role: Input should be 'user' or
'assistant'``, ``temperature: Input should be less than or equal to 1``), plus a few rules of
its own quoted verbatim where they are known (``messages: at least one message is required``,
``A maximum of 4 blocks with cache_control may be provided. Found 5.``). The checks are
written out below rather than declared in a schema: content blocks are a union of some twenty
tagged shapes that no single TypedDict validator reads, and a request's first error, in the
API's order and wording, is what a client sees.

What is checked: every top-level field's type and range (``max_tokens`` >= 1,
``temperature`` and ``top_p`` in [0, 1], ``top_k`` >= 0), unknown top-level fields, message
roles and content (a string or content blocks of a known ``type``; text blocks need text),
``system`` as a string or text blocks, ``metadata``, ``stop_sequences``, ``tools`` and
``tool_choice`` shapes, ``thinking`` budgets, and every ``cache_control`` (``ephemeral``,
``ttl`` 5m or 1h, at most four). Fields the mock does not act on (``thinking``,
``service_tier``, ...) are still validated and then ignored. The rules that join fields
(``tool_choice`` needs ``tools``, tool turns pair up, ...) are :mod:`.options` and
:mod:`.conversation`, run on a body this module passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ..protocol import BadRequest

__all__ = [
    "COUNT_TOKENS_FIELDS",
    "MAX_BREAKPOINTS",
    "MESSAGES_FIELDS",
    "TTL_S",
    "decode",
    "validate",
]

MAX_BREAKPOINTS = 4
TTL_S = {"5m": 300.0, "1h": 3600.0}

# Top-level fields of POST /v1/messages (anthropic-sdk-python 2.15's MessageCreateParams).
MESSAGES_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
    "cache_control", "container", "context_management", "diagnostics", "inference_geo",
    "mcp_servers", "output_config", "speed",
    "output_format",  # the structured-outputs beta's name for output_config.format
})  # fmt: skip
# ... and of POST /v1/messages/count_tokens (MessageCountTokensParams).
COUNT_TOKENS_FIELDS = frozenset({
    "model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control",
    "context_management", "mcp_servers", "output_config", "speed",
})  # fmt: skip

# Content block types a message may carry (the SDK's ContentBlockParam union).
BLOCK_TYPES = (
    "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use",
    "tool_result", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
)  # fmt: skip
_BLOCK_TYPES = frozenset(BLOCK_TYPES)
_TEXT_FIELDS = frozenset({"type", "text", "cache_control", "citations"})
_TOOL_FIELDS = frozenset({
    "name", "description", "input_schema", "cache_control", "type", "strict",
    "input_examples", "defer_loading", "allowed_callers", "eager_input_streaming",
})  # fmt: skip
# Fields each non-text block must have (the rest of its shape is not checked).
_REQUIRED = {
    "image": ("source",),
    "document": ("source",),
    "tool_use": ("id", "name", "input"),
    "server_tool_use": ("id", "name", "input"),
    "tool_result": ("tool_use_id",),
    "thinking": ("thinking", "signature"),
    "redacted_thinking": ("data",),
}

_decode = msgspec.json.Decoder().decode


def _bad(loc: str, msg: str) -> BadRequest:
    return BadRequest(f"{loc}: {msg}" if loc else msg, loc or None)


def decode(raw: bytes) -> dict[str, Any]:
    """The body as JSON, or the API's refusal of a body that is not a JSON object."""
    try:
        body = _decode(raw)
    except msgspec.DecodeError:  # also NaN and Infinity literals, which are not JSON
        raise BadRequest(
            "There was an error parsing the body of your request. Please make sure it is "
            "valid JSON."
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("Input should be a valid dictionary")
    return body


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _expect(v: Any, loc: str, kind: type, name: str) -> None:
    ok = _is_int(v) if kind is int else _is_number(v) if kind is float else isinstance(v, kind)
    if not ok or (kind is not bool and type(v) is bool):
        raise _bad(loc, f"Input should be a valid {name}")


def _range(v: Any, loc: str, lo: float | None = None, hi: float | None = None) -> None:
    if lo is not None and v < lo:
        raise _bad(loc, f"Input should be greater than or equal to {lo:g}")
    if hi is not None and v > hi:
        raise _bad(loc, f"Input should be less than or equal to {hi:g}")


def _only(d: Mapping[str, Any], allowed: frozenset[str], loc: str) -> None:
    for key in d:
        if key not in allowed:
            raise _bad(f"{loc}.{key}" if loc else key, "Extra inputs are not permitted")


def _cache_control(cc: Any, loc: str) -> float:
    """A breakpoint's TTL in seconds (0 for ``null``: no breakpoint)."""
    if cc is None:
        return 0.0
    _expect(cc, loc, dict, "dictionary")
    _only(cc, frozenset({"type", "ttl"}), loc)
    if "type" not in cc:
        raise _bad(f"{loc}.type", "Field required")
    if cc["type"] != "ephemeral":
        raise _bad(f"{loc}.type", "Input should be 'ephemeral'")
    ttl = cc.get("ttl", "5m")
    if ttl not in TTL_S:
        raise _bad(f"{loc}.ttl", "Input should be '5m' or '1h'")
    return TTL_S[ttl]


class _Breakpoints:
    """Counts the request's ``cache_control`` markers as validation meets them."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def mark(self, block: Mapping[str, Any], loc: str) -> None:
        if block.get("cache_control") is not None:
            _cache_control(block["cache_control"], f"{loc}.cache_control")
            self.n += 1


def _text_block(block: Any, loc: str, marks: _Breakpoints) -> None:
    _expect(block, loc, dict, "dictionary")
    _only(block, _TEXT_FIELDS, loc)
    if "text" not in block:
        raise _bad(f"{loc}.text", "Field required")
    _expect(block["text"], f"{loc}.text", str, "string")
    if not block["text"]:
        raise BadRequest("messages: text content blocks must be non-empty", "messages")
    marks.mark(block, loc)


def _block(block: Any, loc: str, marks: _Breakpoints) -> None:
    _expect(block, loc, dict, "dictionary")
    kind = block.get("type")
    if kind is None:
        raise _bad(f"{loc}.type", "Field required")
    if not isinstance(kind, str) or kind not in _BLOCK_TYPES:
        tags = ", ".join(f"'{t}'" for t in BLOCK_TYPES)
        raise _bad(
            loc, f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            f"{tags}",
        )  # fmt: skip
    if kind == "text":
        _text_block(block, loc, marks)
        return
    for name in _REQUIRED.get(kind, ()):
        if name not in block:
            raise _bad(f"{loc}.{name}", "Field required")
    if kind in ("tool_use", "server_tool_use"):
        _expect(block["name"], f"{loc}.name", str, "string")
        _expect(block["input"], f"{loc}.input", dict, "dictionary")
    if kind == "tool_result":
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            _expect(content, f"{loc}.content", list, "list")
            for j, part in enumerate(content):
                _block(part, f"{loc}.content.{j}", marks)
    marks.mark(block, loc)


def _message(m: Any, loc: str, last: bool, marks: _Breakpoints) -> None:
    _expect(m, loc, dict, "dictionary")
    _only(m, frozenset({"role", "content"}), loc)
    for name in ("role", "content"):
        if name not in m:
            raise _bad(f"{loc}.{name}", "Field required")
    if m["role"] not in ("user", "assistant"):
        raise _bad(f"{loc}.role", "Input should be 'user' or 'assistant'")
    content = m["content"]
    if isinstance(content, str):
        empty = not content
    else:
        _expect(content, f"{loc}.content", list, "list")
        for j, block in enumerate(content):
            _block(block, f"{loc}.content.{j}", marks)
        empty = not content
    if empty and not (last and m["role"] == "assistant"):
        raise BadRequest(
            f"{loc}: all messages must have non-empty content except for the optional final "
            "assistant message",
            loc,
        )


def _system(system: Any, marks: _Breakpoints) -> None:
    if isinstance(system, str):
        return
    _expect(system, "system", list, "list")
    for j, block in enumerate(system):
        loc = f"system.{j}"
        _expect(block, loc, dict, "dictionary")
        if block.get("type") != "text":
            raise _bad(f"{loc}.type", "Input should be 'text'")
        _text_block(block, loc, marks)


def _tools(tools: Any, marks: _Breakpoints) -> None:
    _expect(tools, "tools", list, "list")
    for j, tool in enumerate(tools):
        loc = f"tools.{j}"
        _expect(tool, loc, dict, "dictionary")
        if tool.get("type", "custom") not in ("custom", None):  # a server tool: its own shape
            marks.mark(tool, loc)
            continue
        _only(tool, _TOOL_FIELDS, loc)
        for name, kind, label in (("name", str, "string"), ("input_schema", dict, "dictionary")):
            if name not in tool:
                raise _bad(f"{loc}.{name}", "Field required")
            _expect(tool[name], f"{loc}.{name}", kind, label)
        if not 1 <= len(tool["name"]) <= 128:
            raise _bad(f"{loc}.name", "String should have between 1 and 128 characters")
        marks.mark(tool, loc)


def _tool_choice(choice: Any) -> None:
    _expect(choice, "tool_choice", dict, "dictionary")
    kind = choice.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise _bad(
            "tool_choice",
            f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'",
        )
    if kind == "tool":
        if "name" not in choice:
            raise _bad("tool_choice.name", "Field required")
        _expect(choice["name"], "tool_choice.name", str, "string")


def _thinking(thinking: Any, max_tokens: int | None) -> None:
    _expect(thinking, "thinking", dict, "dictionary")
    kind = thinking.get("type")
    if kind not in ("enabled", "disabled", "adaptive"):
        raise _bad(
            "thinking",
            f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'enabled', 'disabled', 'adaptive'",
        )
    if kind == "enabled":
        if "budget_tokens" not in thinking:
            raise _bad("thinking.enabled.budget_tokens", "Field required")
        budget = thinking["budget_tokens"]
        _expect(budget, "thinking.enabled.budget_tokens", int, "integer")
        _range(budget, "thinking.enabled.budget_tokens", 1024)
        if max_tokens is not None and max_tokens <= budget:
            raise BadRequest(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                "documentation at https://docs.claude.com/en/docs/build-with-claude/"
                "extended-thinking#max-tokens-and-context-window-size",
                "max_tokens",
            )


def _sampling(body: dict[str, Any]) -> None:
    for name, kind, label in (("stream", bool, "boolean"), ("temperature", float, "number"),
                              ("top_p", float, "number"), ("top_k", int, "integer")):  # fmt: skip
        if body.get(name) is not None:
            _expect(body[name], name, kind, label)
    if body.get("temperature") is not None:
        _range(body["temperature"], "temperature", 0, 1)
    if body.get("top_p") is not None:
        _range(body["top_p"], "top_p", 0, 1)
    if body.get("top_k") is not None:
        _range(body["top_k"], "top_k", 0)


def _metadata(meta: Any) -> None:
    _expect(meta, "metadata", dict, "dictionary")
    _only(meta, frozenset({"user_id"}), "metadata")
    if meta.get("user_id") is not None:
        _expect(meta["user_id"], "metadata.user_id", str, "string")


def _stop_sequences(stops: Any) -> None:
    _expect(stops, "stop_sequences", list, "list")
    for j, stop in enumerate(stops):
        _expect(stop, f"stop_sequences.{j}", str, "string")


def _service_tier(tier: Any) -> None:
    if tier not in ("auto", "standard_only"):
        raise _bad("service_tier", "Input should be 'auto' or 'standard_only'")


_SAMPLING = frozenset({"stream", "temperature", "top_p", "top_k"})
_OPTIONAL_CHECKS = (
    ("metadata", _metadata),
    ("stop_sequences", _stop_sequences),
    ("tool_choice", _tool_choice),
    ("service_tier", _service_tier),
)
_ROLES = frozenset({"user", "assistant"})


def validate(body: dict[str, Any], fields: frozenset[str] = MESSAGES_FIELDS) -> int:
    """Refuse ``body`` (a :class:`BadRequest`) as the API would; else the number of
    ``cache_control`` breakpoints it marks.

    ``fields``: the endpoint's top-level fields (:data:`MESSAGES_FIELDS` or
    :data:`COUNT_TOKENS_FIELDS`); ``max_tokens`` is required where it is one of them. Runs
    for every request served: the optional fields are visited only when present, and a
    message with plain string content is checked inline.
    """
    if not fields.issuperset(body):
        _only(body, fields, "")
    required = ("model", "max_tokens", "messages") if "max_tokens" in fields else (
        "model", "messages"
    )  # fmt: skip
    for name in required:
        if name not in body:
            raise _bad(name, "Field required")
    _expect(body["model"], "model", str, "string")
    max_tokens = body.get("max_tokens")
    if "max_tokens" in body:
        _expect(max_tokens, "max_tokens", int, "integer")
        _range(max_tokens, "max_tokens", 1)
    messages = body["messages"]
    _expect(messages, "messages", list, "list")
    if not messages:
        raise BadRequest("messages: at least one message is required", "messages")
    marks = _Breakpoints()
    if body.get("tools") is not None:
        _tools(body["tools"], marks)
    if body.get("system") is not None:
        _system(body["system"], marks)
    last = len(messages) - 1
    for i, m in enumerate(messages):
        # The common case, inline: {"role": "user" | "assistant", "content": "<text>"}.
        if (
            type(m) is dict
            and len(m) == 2
            and type(role := m.get("role")) is str
            and role in _ROLES
        ):
            content = m.get("content")
            if type(content) is str and content:
                continue
        _message(m, f"messages.{i}", i == last, marks)
    if body.get("cache_control") is not None:  # automatic: marks the last cacheable block
        _cache_control(body["cache_control"], "cache_control")
        marks.n += 1
    if marks.n > MAX_BREAKPOINTS:
        raise BadRequest(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marks.n}."
        )
    if len(body) > len(required) + (body.get("system") is not None):  # optional fields given
        if not _SAMPLING.isdisjoint(body):
            _sampling(body)
        for name, check in _OPTIONAL_CHECKS:
            if body.get(name) is not None:
                check(body[name])
        if body.get("thinking") is not None:
            _thinking(body["thinking"], max_tokens)
    return marks.n
