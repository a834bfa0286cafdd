"""Prompt caching: a repeated prompt prefix seen within the TTL is billed as cached tokens.

Two rules, one per provider:

- :class:`PromptCache`, automatic (OpenAI): a request is offered as its prefixes, ``(key,
  cumulative tokens)`` pairs its dialect cuts after every message. A hit needs at least
  ``min_tokens`` (1024) of shared prefix and is counted in steps of 128 tokens. Writing is
  free and every prefix is stored.
- :class:`BreakpointCache`, explicit (Anthropic's ``cache_control``): only the prefixes
  ending at a breakpoint the request marks are written, each with its TTL (5 minutes or an
  hour), and only when at least the model's minimum cacheable length; a shorter one is
  processed uncached, without error. A read finds the longest cached prefix that ends at a
  breakpoint or up to 20 blocks before one (the API's lookback), and refreshes its TTL.
  Cache writes are billed (1.25x base input for 5 minutes, 2x for an hour), reads 0.1x, and
  an entry can be read only once the response that wrote it has begun.

A stable system prompt hits; a system prompt with a timestamp in front never does (the
article's GOOD and BAD layouts).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

__all__ = ["CACHE_STEP", "LOOKBACK_BLOCKS", "BreakpointCache", "CacheUse", "PromptCache"]

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


LOOKBACK_BLOCKS = 20  # how far before a breakpoint a read may hit (Anthropic's documented lookback)


class CacheUse(msgspec.Struct, frozen=True, gc=False):
    """What one request reads from and writes to a :class:`BreakpointCache`.

    ``writes`` are the (key, ttl_s) entries to store when the request is admitted.
    """

    read: int = 0  # prompt tokens read from the cache
    write_5m: int = 0  # prompt tokens written with the 5-minute TTL
    write_1h: int = 0  # ... with the 1-hour TTL
    hit: int | None = None  # the key read, refreshed on commit
    hit_ttl_s: float = 0.0
    writes: tuple[tuple[int, float], ...] = ()

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h


NO_CACHE_USE = CacheUse()
HOUR_S = 3600.0


class BreakpointCache:
    """Explicit prompt caching at the request's breakpoints (see the module docstring).

    A request is offered as its block boundaries in prompt order (tools, system, messages):
    ``(key, cumulative tokens, ttl_s)``, ``ttl_s`` > 0 where the block carries a breakpoint.
    :meth:`plan` works out the request's reads and writes without changing anything (a
    request the limits then refuse must not write); :meth:`commit` applies them.
    """

    def __init__(self, min_tokens: int) -> None:
        self.min_tokens = min_tokens
        # key -> (expires at, readable from, ttl_s)
        self._entries: dict[int, tuple[float, float, float]] = {}

    def plan(self, blocks: Sequence[tuple[int, int, float]], now: float) -> CacheUse:
        entries = self._entries
        read, hit, hit_ttl = 0, None, 0.0
        breakpoints = [i for i, b in enumerate(blocks) if b[2] > 0]
        if not breakpoints:
            return NO_CACHE_USE
        for i in breakpoints:
            for j in range(i, max(-1, i - LOOKBACK_BLOCKS), -1):
                key, tokens, _ = blocks[j]
                entry = entries.get(key)
                if entry is not None and entry[0] > now and entry[1] <= now:
                    if tokens > read:
                        read, hit, hit_ttl = tokens, key, entry[2]
                    break  # the nearest hit before this breakpoint is the longest for it
        write_5m = write_1h = 0
        writes = []
        done = read  # tokens already cached or billed as written
        for i in breakpoints:
            key, tokens, ttl = blocks[i]
            if tokens < self.min_tokens or tokens <= done:
                continue  # too short to cache, or already read
            if ttl >= HOUR_S:
                write_1h += tokens - done
            else:
                write_5m += tokens - done
            done = tokens
            writes.append((key, ttl))
        return CacheUse(read, write_5m, write_1h, hit, hit_ttl, tuple(writes))

    def commit(self, use: CacheUse, now: float, readable_at: float) -> None:
        """Refresh the entry read and store the ones written (readable from ``readable_at``,
        when the response that wrote them begins)."""
        entries = self._entries
        if use.hit is not None:
            expires, ready, ttl = entries[use.hit]
            entries[use.hit] = (max(expires, now + ttl), ready, ttl)
        for key, ttl in use.writes:
            old = entries.get(key)
            ready = readable_at if old is None or old[0] <= now else min(old[1], readable_at)
            entries[key] = (now + ttl, ready, ttl)
        if len(entries) > 4 * 4096:  # bounded: drop what has expired
            for key in [k for k, e in entries.items() if e[0] <= now]:
                del entries[key]

    def clear(self) -> None:
        self._entries.clear()
