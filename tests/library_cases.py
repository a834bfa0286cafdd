"""The table of failures every library model is checked on, and how our brain plays one.

A case is one failure that every attempt of a logical request meets (so the library makes as
many attempts as it ever will, and sleeps before each retry). The library side of each test
turns the case into the library's own response or exception; :func:`model_run` plays it
through our client brain in virtual time. Both sides draw their jitter from a random number
pinned to ``u`` (0, 0.5 and just under 1): equal sleeps at all three mean the same formula,
not merely overlapping ranges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mock_provider.model.catalog import DEFAULT_CATALOG
from simulator.client.engine import ClientBrain, run_scripted
from simulator.client.events import AttemptSpec, Outcome, Send, Sleep
from simulator.config import ClientConfig
from simulator.workload import LogicalRequest

__all__ = ["CASES", "JITTER_DRAWS", "Case", "PinnedRandom", "Run", "model_run", "request"]

JITTER_DRAWS = (0.0, 0.5, 0.999)


@dataclass(frozen=True)
class Case:
    """``status`` 0 with ``error`` "connection" or "timeout" means no response at all."""

    label: str
    status: int
    retry_after: str | None = None  # the retry-after header as sent
    retry_after_ms: str | None = None
    should_retry: bool | None = None  # x-should-retry
    error: str | None = None

    def headers(self) -> dict[str, str]:
        h: dict[str, str] = {}
        if self.retry_after is not None:
            h["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            h["retry-after-ms"] = self.retry_after_ms
        if self.should_retry is not None:
            h["x-should-retry"] = "true" if self.should_retry else "false"
        return h

    def outcome(self, now: float) -> Outcome:
        """The case as our transport reports it: ``retry-after-ms`` first, then seconds."""
        ra = None
        if self.retry_after_ms is not None:
            ra = float(self.retry_after_ms) / 1000
        elif self.retry_after is not None:
            ra = float(self.retry_after)
        return Outcome(
            now=now,
            status=self.status,
            error=self.error,
            retry_after_s=ra,
            should_retry=self.should_retry,
        )


def _statuses(*codes: int) -> list[Case]:
    return [Case(str(c), c) for c in codes]


def _retry_afters(status: int) -> list[Case]:
    return [
        Case(f"{status} retry-after {s}", status, retry_after=s) for s in ("1", "30", "90", "200")
    ]


CASES: list[Case] = [
    *_statuses(400, 401, 403, 404, 408, 409, 429),
    *_retry_afters(429),
    Case("429 retry-after-ms 1500", 429, retry_after_ms="1500"),
    Case("429 retry-after 2, -ms 1500", 429, retry_after="2", retry_after_ms="1500"),  # the mock's
    *_statuses(500, 503, 529),
    Case("503 retry-after 30", 503, retry_after="30"),
    Case("connection error", 0, error="connection"),
    Case("timeout", 0, error="timeout"),
    Case("500 x-should-retry false", 500, should_retry=False),
    Case("400 x-should-retry true", 400, should_retry=True),
]


class PinnedRandom(random.Random):
    """A generator whose every draw is ``u``: ``uniform(a, b)`` is then ``a + (b - a) * u``."""

    def __init__(self, u: float) -> None:
        super().__init__(0)
        self.u = u

    def random(self) -> float:
        return self.u


@dataclass
class Run:
    """What one logical request did: the model of each attempt and each sleep, in order."""

    models: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.models)

    def __str__(self) -> str:
        naps = ", ".join(f"{s:.3f}" for s in self.sleeps)
        return f"{self.attempts} attempts {self.models}, sleeps [{naps}]"


def request(model: str = "gpt-4o", seq: int = 0) -> LogicalRequest:
    return LogicalRequest(
        seq=seq,
        at=0.0,
        user_id="u1",
        feature="chat",
        prompt_version="v1",
        messages=(("user", "hello"),),
        input_tokens=10,
        max_tokens=16,
        model=model,
    )


def model_run(
    brain: ClientBrain | ClientConfig,
    case: Case | dict[str, Case | None],
    u: float = 0.5,
    now: float = 0.0,
    model: str = "gpt-4o",
) -> tuple[Run, float]:
    """Play ``case`` (or, per model, a case or None for a success) through our brain.

    Returns what the request did and the virtual time it ended at.
    """
    if isinstance(brain, ClientConfig):
        brain = ClientBrain(brain, DEFAULT_CATALOG, PinnedRandom(u), lambda seq: PinnedRandom(u))

    def reply(spec: AttemptSpec, at: float) -> Outcome:
        c = case.get(spec.model) if isinstance(case, dict) else case
        return Outcome(now=at, status=200) if c is None else c.outcome(at)

    _, events = run_scripted(brain.request(request(model), now), reply, now)
    run = Run()
    for e in events:
        if isinstance(e, Send):
            run.models.append(e.attempt.model)
        elif isinstance(e, Sleep):
            run.sleeps.append(e.seconds)
            now += e.seconds
    return run, now
