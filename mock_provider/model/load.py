"""Load-dependent latency: a model slows down, then refuses, as its requests in flight grow.

Why: a real model under load answers later (queueing on shared accelerators): time to first
token and the gaps between tokens stretch with the requests in flight, and above its capacity
the API answers 503 (OpenAI) or 529 (Anthropic, ``overloaded_error``). That is what turns a
spike into a retry storm that outlives it: clients time out on the slow answers and retry,
which keeps the model loaded (a metastable failure).

The curve (``ModelConfig.load``): with ``n`` requests in flight besides the new one, its
latency after the network round trip is multiplied by
``1 + slope * max(0, n - free) ** exponent``; above ``capacity`` in flight it is refused.
Requests in flight are counted per model, across keys: it is the model's capacity, not a
key's quota (``max_in_flight`` is a key's concurrency limit, a 429).
"""

from __future__ import annotations

from mock_provider.config import LoadConfig

from .latency import TimingPlan, make_plan

__all__ = ["ModelLoad"]


class ModelLoad:
    """One model's requests in flight and its curve (see the module docstring)."""

    __slots__ = ("capacity", "exponent", "free", "in_flight", "slope")

    def __init__(self, cfg: LoadConfig) -> None:
        self.free, self.slope, self.exponent = cfg.free, cfg.slope, cfg.exponent
        self.capacity = cfg.capacity
        self.in_flight = 0

    def full(self) -> bool:
        return self.capacity is not None and self.in_flight >= self.capacity

    def factor(self) -> float:
        """How much slower the next request is, with the requests in flight now."""
        over = self.in_flight - self.free
        return 1.0 + self.slope * over**self.exponent if over > 0 else 1.0

    def stretch(self, plan: TimingPlan) -> TimingPlan:
        """The plan at the current load: the network round trip stays, the rest stretches."""
        f = self.factor()
        if f == 1.0:
            return plan
        waiting = plan.ttft_s - plan.network_s
        gaps = tuple(g * f for g in plan.gaps_s)
        return make_plan(plan.network_s, plan.prefill_s * f, plan.network_s + waiting * f, gaps)

    def release(self) -> None:
        if self.in_flight > 0:
            self.in_flight -= 1
