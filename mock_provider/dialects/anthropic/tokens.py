"""Anthropic's token rules, approximated: what a request is billed, and its cache blocks.

Claude's tokenizer is not public, so the mock counts with cl100k (``count_text``), as an
approximation: every text (tool definitions as their JSON, system blocks, message text,
tool inputs and results), plus :data:`TOKENS_PER_MESSAGE` for each message's turn markers;
an image or a document counts :data:`MEDIA_TOKENS` (about a 1,000 x 1,000 image).
``/v1/messages/count_tokens`` answers with the same count.

The prompt is cached in Anthropic's order, tools, then system, then messages, one *block*
at a time (a tool, a system text block, a content block; a string system prompt or message
content is one block). :func:`cache_blocks` gives each block boundary as ``(key, cumulative
tokens, ttl_s)``: the key hashes everything up to it, ``ttl_s`` is the TTL of a
``cache_control`` breakpoint on that block (0 for none); a top-level ``cache_control`` marks
the last block. The brain's :class:`~mock_provider.model.cache.BreakpointCache` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ...model.tokens import count_text, memo_of_counts
from .parsing import TTL_S

__all__ = ["MEDIA_TOKENS", "TOKENS_PER_MESSAGE", "cache_blocks", "count_request"]

TOKENS_PER_MESSAGE = 3
MEDIA_TOKENS = 1_334  # an image of about 1000 x 1000 pixels: (w * h) / 750

_encode = msgspec.json.encode


def _json_text(value: Any) -> str:
    try:
        return _encode(value, order="sorted").decode()
    except (TypeError, ValueError, OverflowError):  # an integer too large for JSON, ...
        return repr(value)


def _block_tokens(block: Mapping[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return count_text(block["text"])
    if kind in ("image", "document"):
        return MEDIA_TOKENS
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    if kind in ("tool_use", "server_tool_use"):
        return count_text(str(block.get("name", ""))) + count_text(_json_text(block.get("input")))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return count_text(content)
        if isinstance(content, list):
            return sum(_block_tokens(b) for b in content if isinstance(b, dict))
        return 0
    return count_text(_json_text({k: v for k, v in block.items() if k != "cache_control"}))


def _tool_tokens(tool: Mapping[str, Any]) -> int:
    return count_text(_json_text({k: v for k, v in tool.items() if k != "cache_control"}))


def _blocks(body: Mapping[str, Any]) -> list[tuple[str, Any, int]]:
    """(section, block, tokens) for every block in prompt order; a message's turn markers
    are counted with its first block."""
    out: list[tuple[str, Any, int]] = []
    for tool in body.get("tools") or ():
        out.append(("tool", tool, _tool_tokens(tool)))
    system = body.get("system")
    if isinstance(system, str):
        if system:
            out.append(("system", system, count_text(system)))
    elif system:
        for block in system:
            out.append(("system", block, count_text(block["text"])))
    for m in body["messages"]:
        role, content = m["role"], m["content"]
        first = TOKENS_PER_MESSAGE
        if isinstance(content, str):
            out.append((role, content, first + count_text(content)))
            continue
        for j, block in enumerate(content):
            out.append((role if j == 0 else "", block, first + _block_tokens(block)))
            first = 0
        if not content:
            out.append((role, "", first))
    return out


def count_request(body: Mapping[str, Any]) -> int:
    """Input tokens of a validated request body (see the module docstring)."""
    system = body.get("system")
    if body.get("tools") or (system is not None and not isinstance(system, str)):
        return sum(tokens for _, _, tokens in _blocks(body))
    # The common case, without building the block list: a string system prompt, messages.
    counts = memo_of_counts()
    total = 0
    if system:
        total = counts[system] if system in counts else count_text(system)
    for m in body["messages"]:
        content = m["content"]
        if type(content) is str:
            total += TOKENS_PER_MESSAGE + (
                counts[content] if content in counts else count_text(content)
            )
        else:
            total += TOKENS_PER_MESSAGE + sum(_block_tokens(b) for b in content)
    return total


def _ttl(block: Any) -> float:
    if isinstance(block, dict) and block.get("cache_control") is not None:
        return TTL_S[block["cache_control"].get("ttl", "5m")]
    return 0.0


def _identity(block: Any) -> Any:
    """What a block's cache key hashes: all of it but its breakpoint."""
    if isinstance(block, str):
        return block
    if block.get("type") == "text" and len(block) <= 3:
        return ("text", block["text"])
    return _json_text({k: v for k, v in block.items() if k != "cache_control"})


def cache_blocks(
    body: Mapping[str, Any], breakpoints: int = 1
) -> tuple[int, Sequence[tuple[int, int, float]]]:
    """(input tokens, block boundaries): the boundaries are empty when nothing is marked
    (``breakpoints``, validation's count, 0 says so at once)."""
    if not breakpoints:
        return count_request(body), ()
    blocks = _blocks(body)
    total = sum(tokens for _, _, tokens in blocks)
    ttls = [_ttl(block) for _, block, _ in blocks]
    auto = body.get("cache_control")
    if auto is not None and blocks and not ttls[-1]:
        ttls[-1] = TTL_S[auto.get("ttl", "5m")]
    if not any(ttls):
        return total, ()
    out = []
    key, cumulative = 0, 0
    for (section, block, tokens), ttl in zip(blocks, ttls, strict=True):
        key = hash((key, section, _identity(block)))
        cumulative += tokens
        out.append((key, cumulative, ttl))
    return total, tuple(out)
