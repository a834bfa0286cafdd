"""Bounded memos for values the hot path looks up once or more per request.

A memo is a plain ``dict``, read as ``try: value = memo[key]`` / ``except KeyError: value =
fill(memo, key, compute)``. A hit is then one specialised dict subscript, the cheapest lookup
there is: a ``functools.lru_cache`` hit is a call and a recency-list update, ``memo.get(key)``
is a method call, and any dict *subclass* (one with ``__missing__``, or ``Counter``) routes
its subscript through a generic slot that calls ``dict.__getitem__`` as a method.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["MEMO_MAX", "fill"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MEMO_MAX = 4096


def fill(memo: dict[K, V], key: K, compute: Callable[[K], V], limit: int = MEMO_MAX) -> V:
    """Store and return ``compute(key)``; a memo holding ``limit`` entries is emptied first.

    Keys must be of one type: ``1``, ``1.0`` and ``True`` are the same key to a dict.
    """
    if len(memo) >= limit:
        memo.clear()
    value = memo[key] = compute(key)
    return value
