"""Prompt caching: a repeated prompt prefix seen within the TTL is billed as cached tokens.

A request is offered to the cache as its prefixes, ``(key, cumulative tokens)`` pairs that
its dialect cuts (OpenAI: after every message, Anthropic: at its ``cache_control``
breakpoints). Like OpenAI's automatic caching, a hit needs at least ``min_tokens`` (1024) of
shared prefix and is counted in steps of 128 tokens. A stable system prompt hits; a system
prompt with a timestamp in front never does (the article's GOOD and BAD layouts).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CACHE_STEP", "PromptCache"]

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
