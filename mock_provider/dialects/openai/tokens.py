"""OpenAI's token rules: what a chat request is billed, and where its cache prefixes end.

The per-message overhead is OpenAI's published rule for chat models (3 tokens a message, 1
for a ``name``, 3 to prime the reply). Prompt caching is automatic: every prefix of whole
messages is a candidate (the brain's cache takes the longest it has seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...model.tokens import count_text, memo_of_counts

__all__ = [
    "PART_TYPES",
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "UnknownPart",
    "cache_prefixes",
    "content_text",
    "count_chat_tokens",
]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
_counts = memo_of_counts()


# The content part types of chat messages, in the order the API lists them.
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")


class UnknownPart(ValueError):
    """A content part the API does not know (``parsing`` finds which, and says so)."""


def content_text(content: Any, strict: bool = False) -> str:
    """The billed text of a message's content: a string, or the text parts of a list.

    With ``strict`` (a chat request's own content), a part of no type chat knows, or a text
    part without text, raises :class:`UnknownPart`; otherwise such parts are unbilled (the
    Responses API's image and file parts, which its own parsing has checked).
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for p in content:
            kind = p.get("type") if isinstance(p, Mapping) else None
            if kind == "text":
                text = p.get("text")
                if isinstance(text, str):
                    texts.append(text)
                elif strict:
                    raise UnknownPart(kind)
            elif strict and kind not in PART_TYPES:
                raise UnknownPart(kind)
        return "".join(texts)
    return ""


def count_chat_tokens(messages: Iterable[Mapping[str, Any]], strict: bool = False) -> int:
    """Prompt tokens of a chat request, as OpenAI bills them (``strict``: see
    :func:`content_text`)."""
    total = REPLY_PRIMING
    counts = _counts
    for m in messages:
        # The memo read directly rather than through count_text() calls, a subscript for the
        # required role, and str() only for values that are not
        # strings already: this runs for every message of every request served.
        role = m["role"]
        content = m.get("content")
        if type(role) is not str:
            role = str(role)
        if type(content) is not str:
            content = content_text(content, strict)
        try:
            total += TOKENS_PER_MESSAGE + counts[role] + counts[content]
        except KeyError:  # nothing was added: count (and remember) both
            total += TOKENS_PER_MESSAGE + count_text(role) + count_text(content)
        name = m.get("name")
        if name:
            total += TOKENS_PER_NAME + count_text(str(name))
    return total


def cache_prefixes(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(hash of messages[:i+1], prompt tokens of messages[:i+1]) for each prefix.

    Tokens are counted as :func:`count_chat_tokens` bills them (text parts of list
    content only); the key hashes all of the content, so a different image is a different
    prefix.
    """
    out = []
    key = 0
    tokens = REPLY_PRIMING
    for m in messages:
        content = m.get("content")
        role = str(m.get("role", ""))
        name = m.get("name")
        key = hash((key, role, name, content if isinstance(content, str) else repr(content)))
        tokens += TOKENS_PER_MESSAGE + count_text(role) + count_text(content_text(content))
        if name:
            tokens += TOKENS_PER_NAME + count_text(str(name))
        out.append((key, tokens))
    return out
