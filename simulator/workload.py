"""Seeded arrival processes and prompt generators.

(Contract only; the implementation lands with the workload work.)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LogicalRequest", "Workload"]


@dataclass(frozen=True, slots=True)
class LogicalRequest:
    """What the application wanted once. Identical for every strategy under one seed."""

    seq: int  # unique, dense from 0, in arrival order
    at: float  # open loop: scenario seconds of arrival; closed loop: think time before it
    user_id: str
    feature: str
    prompt_version: str
    messages: tuple[tuple[str, str], ...]  # (role, content), token-exact text
    input_tokens: int  # OpenAI-rule prompt tokens of ``messages``
    max_tokens: int | None
    model: str  # the model the application asks for first


@dataclass(frozen=True, slots=True)
class Workload:
    open_loop: tuple[LogicalRequest, ...]  # sorted by ``at``
    closed_loop: tuple[tuple[LogicalRequest, ...], ...]  # one sequence per user

    @property
    def total(self) -> int:
        return len(self.open_loop) + sum(len(u) for u in self.closed_loop)
