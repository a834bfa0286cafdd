"""The best any client could do against a burst: the limit's own arithmetic, as a yardstick.

For a burst of N requests at once against a requests-per-minute bucket that holds C requests
and refills at r = C / 60 per second, C get in at once and the rest no faster than the refill:
the k-th request beyond C cannot start before (k - C) / r. So no client, however clever its
retries, finishes the burst before (N - C) / r (the *optimum makespan*), and the p95 of its
latencies cannot be below (0.95 N - C) / r. Both leave out each answer's own time (a second or
so), so they are lower bounds. A strategy's *efficiency* is optimum / achieved: 1.0 is
perfect, 0.5 took twice as long as it had to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_provider.config import ProviderConfig
from simulator.config import WorkloadConfig

__all__ = ["BurstOptimum", "burst_optimum", "efficiencies"]


@dataclass(frozen=True, slots=True)
class BurstOptimum:
    n: int  # requests in the burst
    capacity: int  # requests the bucket admits at once (the RPM limit)
    refill_per_s: float
    makespan_s: float  # (N - C) / r
    p95_latency_ms: float  # (0.95 N - C) / r, in ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "capacity": self.capacity,
            "refill_per_s": self.refill_per_s,
            "makespan_s": self.makespan_s,
            "p95_latency_ms": self.p95_latency_ms,
        }


def burst_optimum(scenario: Mapping[str, Any]) -> BurstOptimum | None:
    """The optimum for a scenario whose arrivals are one burst, or None for any other."""
    workload = scenario.get("workload") or {}
    arrivals = workload.get("arrivals")
    if isinstance(arrivals, list):
        arrivals = arrivals[0] if len(arrivals) == 1 else None
    if not isinstance(arrivals, Mapping) or arrivals.get("kind") != "burst":
        return None
    n = int(arrivals.get("n", 100))
    provider = scenario.get("provider") or {}
    name = workload.get("model") or WorkloadConfig.model_fields["model"].default
    model = (provider.get("models") or {}).get(name) or {}
    default = ProviderConfig.model_fields["default_rpm"].default
    rpm = int(model.get("rpm") or provider.get("default_rpm") or default)
    if provider.get("catalog_limits"):  # the catalogue's tier limits: the mock's own rule
        from simulator.demand import catalog_limits

        rpm = int(catalog_limits(provider, name)[0] or rpm)
    rate = rpm / 60.0
    return BurstOptimum(
        n,
        rpm,
        rate,
        max(0.0, (n - rpm) / rate),
        1000.0 * max(0.0, (math.ceil(0.95 * n) - rpm) / rate),
    )


def efficiencies(
    optimum: BurstOptimum, summary: Mapping[str, Any], strategies: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Per strategy: optimum / achieved makespan and p95. None where there is nothing to
    compare: a strategy that gave up on some of the burst did not finish it (it was quick by
    failing), or the optimum is 0 (the burst fits the bucket)."""
    out: dict[str, dict[str, float | None]] = {}
    for s in strategies:
        m = summary["strategies"].get(s, {})
        span, p95 = m.get("makespan_s"), m.get("p95_latency_ms")
        if (m.get("success_rate") or 0.0) < 1.0:
            span = p95 = None
        out[s] = {
            "makespan": optimum.makespan_s / span if span and optimum.makespan_s else None,
            "p95": optimum.p95_latency_ms / p95 if p95 and optimum.p95_latency_ms else None,
        }
    return out
