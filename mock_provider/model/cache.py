"""Prompt caching: a repeated message prefix seen within the TTL is billed as cached tokens.

Like OpenAI's automatic caching, a hit needs at least ``min_tokens`` (1024) of shared prefix
and is counted in steps of 128 tokens. The granularity here is whole messages: a stable
system prompt hits, a system prompt with a timestamp in front never does (the article's
GOOD and BAD layouts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .tokens import REPLY_PRIMING, TOKENS_PER_MESSAGE, TOKENS_PER_NAME, content_text, count_text

__all__ = ["PromptCache", "prefix_keys"]

CACHE_STEP = 128


class PromptCache:
    def __init__(self, ttl_s: float = 300.0, min_tokens: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.min_tokens = min_tokens
        self._seen: dict[int, float] = {}  # prefix key -> last use; oldest first

    def lookup(self, prefixes: Sequence[tuple[int, int]], now: float) -> int:
        """Cached tokens for a request whose prefixes are ``(key, cumulative_tokens)``.

        Every prefix is then stored (or refreshed) as used at ``now``.
        """
        self._expire(now)
        cached = 0
        for key, tokens in prefixes:
            seen = self._seen.pop(key, None)
            if seen is not None and tokens > cached:
                cached = tokens
            self._seen[key] = now
        if cached < self.min_tokens:
            return 0
        return cached - cached % CACHE_STEP

    def _expire(self, now: float) -> None:
        horizon = now - self.ttl_s
        seen = self._seen
        while seen:
            key = next(iter(seen))
            if seen[key] >= horizon:
                break
            del seen[key]

    def clear(self) -> None:
        self._seen.clear()


def prefix_keys(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(hash of messages[:i+1], prompt tokens of messages[:i+1]) for each prefix.

    Tokens are counted as :func:`~.tokens.count_chat_tokens` bills them (text parts of list
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
