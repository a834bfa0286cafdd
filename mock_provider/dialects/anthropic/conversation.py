"""Tool turns must pair up: the Messages API's two conversation rules, in its words.

Theory of operation
-------------------
An assistant turn that calls tools (``tool_use`` blocks, each with an ``id``) must be
answered by the next turn, a user turn, with a ``tool_result`` block for each call
(``tool_use_id`` naming it). The API refuses, with a 400 ``invalid_request_error``:

- a ``tool_result`` whose ``tool_use_id`` is not a ``tool_use`` of the turn before it
  (located at the block: ``messages.3.content.0``);
- a turn followed by a turn that lacks a ``tool_result`` for one of its ``tool_use`` ids
  (located at the calling turn: ``messages.2``; every missing id is listed).

A conversation that ends on a calling assistant turn is not refused here: that is a prefill
of the answer, which the mock does not judge. Server tools (``server_tool_use``) are the
API's own and pair with their own result blocks; they are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..protocol import BadRequest

__all__ = ["check_tool_turns"]


def _ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [b[key] for b in content if b.get("type") == kind and isinstance(b.get(key), str)]


def check_tool_turns(messages: Sequence[Any]) -> None:
    """Refuse (:class:`BadRequest`) the first unpaired tool turn (see the module docstring)."""
    called: list[str] = []  # the tool_use ids of the turn before
    for i, m in enumerate(messages):
        content = m["content"]
        if isinstance(content, list):
            for j, block in enumerate(content):
                if block.get("type") == "tool_result" and block["tool_use_id"] not in called:
                    # anthropics/claude-code#13460 (and router-for-me/CLIProxyAPI#497): "messages.
                    # 48.content.1: unexpected `tool_use_id` found in `tool_result` blocks:
                    # toolu_019E... Each `tool_result` block must have a corresponding
                    # `tool_use` block in the previous message."
                    where = f"messages.{i}.content.{j}"
                    raise BadRequest(
                        f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block['tool_use_id']}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message.",
                        where,
                    )
        if called:
            answered = set(_ids(content, "tool_result", "tool_use_id"))
            missing = [c for c in called if c not in answered]
            if missing:
                # anthropics/claude-code#5989 (two ids, comma-separated) and #2697:
                # "messages.22: `tool_use` ids were found without `tool_result` blocks
                # immediately after: toolu_01Hq..., toolu_01SJ... Each `tool_use` block must
                # have a corresponding `tool_result` block in the next message."
                where = f"messages.{i - 1}"
                raise BadRequest(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must "
                    "have a corresponding `tool_result` block in the next message.",
                    where,
                )
        called = _ids(content, "tool_use", "id") if m["role"] == "assistant" else []
