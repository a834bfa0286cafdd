"""Rendered text of values that recur from response to response, for every dialect."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["RenderCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RenderCache(dict[K, V], Generic[K, V]):
    """``cache[value]`` is ``render(value)``, worked out once: a hit is one dict subscript.

    For the small values every response carries (limits and remaining counts, reset times,
    the ``created`` second), which recur as buckets drain and refill and clocks tick: a call to
    ``str()`` or a formatter costs several times a lookup. Emptied when full, to stay bounded.
    Keys must be of one type: ``1``, ``1.0`` and ``True`` are the same key to a dict.
    """

    __slots__ = ("render",)
    MAX = 4096

    def __init__(self, render: Callable[[K], V]) -> None:
        super().__init__()
        self.render = render

    def __missing__(self, key: K) -> V:
        if len(self) >= self.MAX:
            self.clear()
        value = self[key] = self.render(key)
        return value
