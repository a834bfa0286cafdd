"""The best any client could do in a battery item: the yardstick its thresholds are set against.

Theory of operation
-------------------
No client serves more requests than the item's limits admit. Over the item's window
``T = duration + drain`` a model with a limit of R requests a minute admits at most
``R + R * (T - down) / 60`` requests (a full bucket, then the refill), where ``down`` is the
time an outage fault takes it out. Its tokens-per-minute limit admits at most
``TPM + TPM * (T - down) / 60`` prompt tokens, so no more than that over the mean prompt. Any
client may fall back to any model the item's provider lists, so the item's *capacity* is the
sum over those models, each at the smaller of its two bounds, and the *best success rate* is
``min(1, capacity / offered)``. It leaves out every answer's own time and every fault that a
retry can get past (resets, hangs, error rates), so it is an upper bound: the success rate no
client can beat.

For a burst the report's own optimum line (:func:`simulator.report.optimum.burst_optimum`) is
kept beside it: the best p95 latency a client that stays on the first model could have.

A battery threshold may be written against the best: ``success_rate: ">= best - 0.05"`` holds
when the client serves within 5 points of the best any client could do
(:func:`resolve_threshold` turns it into the number before the run).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mock_provider.config import ProviderSettings
from simulator.config import Scenario
from simulator.report.optimum import BurstOptimum, burst_optimum
from simulator.workload import build_workload

__all__ = ["BEST_METRICS", "ItemBest", "against_best", "item_best", "resolve_threshold"]

# Metrics a threshold may state against the best (a ceiling: higher is better).
BEST_METRICS = ("success_rate",)
_AGAINST_BEST = re.compile(r"^\s*(>=|>)\s*best\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True, slots=True)
class ItemBest:
    offered: int  # logical requests the item's workload sends
    capacity: int  # requests the item's limits admit over the window, every model counted
    window_s: float  # duration + drain
    burst: BurstOptimum | None  # the report's optimum line, for an item that is one burst

    @property
    def success_rate(self) -> float:
        return 1.0 if self.offered == 0 else min(1.0, self.capacity / self.offered)

    def describe(self) -> str:
        """One sentence: the best, and why."""
        share = f"{100 * self.success_rate:.1f}%"
        text = (
            f"best any client could do: {share} (the limits admit {self.capacity:,} requests "
            f"in {self.window_s:g} s; {self.offered:,} are offered)"
        )
        if self.burst is not None and self.burst.p95_latency_ms > 0:
            text += (
                f"; on the first model alone, a p95 of {self.burst.p95_latency_ms / 1000:,.0f} s"
            )
        return text


def _down_s(provider: ProviderSettings, model: str, window_s: float) -> float:
    """Seconds within the window that an outage fault takes ``model`` out (overlaps once)."""
    spans = sorted(
        (f.start, window_s if f.end is None else min(f.end, window_s))
        for f in provider.faults
        if f.kind == "outage" and f.model in ("*", model) and f.key is None
    )
    down, reach = 0.0, 0.0
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            down += end - start
            reach = end
    return down


def item_best(scenario: Scenario) -> ItemBest:
    """The best any client could do in ``scenario`` (see the module docstring)."""
    window = scenario.duration + scenario.drain
    workload = build_workload(scenario.workload, scenario.seed, scenario.duration)
    prompts = [r.input_tokens for r in workload.open_loop] + [
        r.input_tokens for user in workload.closed_loop for r in user
    ]
    mean_prompt = sum(prompts) / len(prompts) if prompts else 1.0
    provider = scenario.provider
    models = dict.fromkeys([scenario.workload.model, *provider.models])
    capacity = 0.0
    for name in models:
        m = provider.models.get(name)
        rpm = (m.rpm if m is not None else None) or provider.default_rpm
        tpm = (m.tpm if m is not None else None) or provider.default_tpm
        up = window - _down_s(provider, name, window)
        by_requests = rpm + rpm * up / 60.0
        by_tokens = (tpm + tpm * up / 60.0) / max(mean_prompt, 1.0)
        capacity += min(by_requests, by_tokens)
    data = scenario.model_dump(include={"workload", "provider"})
    return ItemBest(workload.total, math.floor(capacity), window, burst_optimum(data))


def resolve_threshold(expr: str, best: float) -> str:
    """``">= best - 0.05"`` as ``">= 0.95"`` when the best is 1.0; any other expression as is."""
    match = _AGAINST_BEST.match(expr)
    if match is None:
        return expr
    op, margin = match.group(1), float(match.group(2) or 0.0)
    return f"{op} {round(max(0.0, best - margin), 4):g}"


def against_best(expr: str) -> bool:
    """Whether ``expr`` is written against the best (``">= best - X"``)."""
    return _AGAINST_BEST.match(expr) is not None
