"""The sans-I/O client brain: retry policies, fallback chain, guards and the request generator."""

from __future__ import annotations

from simulator.client.engine import ClientBrain, RequestGen, respond, run_scripted
from simulator.client.events import (
    AttemptSpec,
    Outcome,
    RequestResult,
    Send,
    Sleep,
    Woke,
)
from simulator.client.policies import RetryPolicy, build_retry_policy

__all__ = [
    "AttemptSpec",
    "ClientBrain",
    "Outcome",
    "RequestGen",
    "RequestResult",
    "RetryPolicy",
    "Send",
    "Sleep",
    "Woke",
    "build_retry_policy",
    "respond",
    "run_scripted",
]
