"""How the client brain reads an :class:`Outcome`: what never retries, what means overload."""

from __future__ import annotations

from simulator.client.events import Outcome

__all__ = ["NEVER_RETRY", "effective_status", "is_overload"]

NEVER_RETRY: frozenset[int] = frozenset({400, 401, 403, 404})


def effective_status(outcome: Outcome) -> int:
    """The status used for decisions: a 2xx that broke mid-way (``stream_cut``) counts as 0.

    A cut stream is a dropped connection from the client's point of view, so it is treated like
    a timeout/connection error (status 0) by every policy, breaker and fallback rule.
    """
    if outcome.ok and outcome.error is not None:
        return 0
    return outcome.status


def is_overload(outcome: Outcome) -> bool:
    """429, 5xx, timeout/connection: the failures that say the backend is struggling."""
    s = effective_status(outcome)
    return s == 0 or s == 429 or s >= 500
