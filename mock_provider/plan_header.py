"""The mock's own response header: how long it planned a response to take.

``x-stampede-plan-ms`` is the wall-clock milliseconds the mock meant to spend on a response
after admitting it: the timing plan's total for a completion (streamed or not), the network
round trip for a refusal. A client that measures an attempt subtracts it to see what the host
added on top: the mock's own handling, both event loops' scheduling, loopback HTTP. Wall
milliseconds, like every other time header (``retry-after-ms``): the client multiplies by the
time scale. No real provider sends it; ``simulator/wire.py`` reads it by this name.
"""

from __future__ import annotations

from .clock import TimeBase

__all__ = ["PLAN_HEADER", "plan_ms_text"]

PLAN_HEADER = "x-stampede-plan-ms"


def plan_ms_text(plan_s: float, clock: TimeBase) -> str:
    """The header's value for a plan of ``plan_s`` scenario seconds (microsecond precision)."""
    if not plan_s:  # zero-latency profiles (tests, benchmarks): skip the float formatting
        return "0"
    return f"{clock.wall(plan_s * 1000.0):.3f}"
