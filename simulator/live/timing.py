"""How far a live run's timing drifted from the scenario's: measured, bounded, checked.

Theory of operation. A live run divides every planned time by the time scale k, but the host
adds wall time of its own (the mock's handling, the client's scheduling, loopback HTTP), and
a wall millisecond read back as scenario time is k milliseconds. At k = 20 a 2 ms hiccup is a
40 ms network round trip that took twice as long as planned. Three measures, each in
scenario milliseconds, per strategy:

- ``mock_ms`` (a), the mock's handling: wall time from admission to the response's last
  byte beyond the plan, times k (request log: ``(t - start_t) * 1000 - plan_ms``);
- ``lag_ms`` (b), the client's scheduling: how late each arrival and each backoff wake-up
  came (trace ``lag_ms``);
- ``excess_ms`` (c), per attempt: observed latency minus the mock's plan (trace
  ``latency_ms - plan_ms``): everything the host added to an attempt, (a) included.

The rule (:data:`SHARE`, :data:`STATISTIC`): a strategy's live timing is faithful when the
median of each measure stays within half the scenario's *shortest latency*, the smallest
median network round trip among the models its clients call (the workload's model and every
fallback). That is what a 429 or a 503 takes, the fastest loop a client can run (a naive
retry loop), so it is the first timing the host's overhead bends.

Why the median and a half, from ``stampede run scenarios/thundering_herd.yaml`` at time
scales 1 to 40 (40 ms round trip, so a 20 ms bound):

- naive's success rate was 60.0% in all five runs at 1x and 2x, 61% at 5x, 62-63% at 10x,
  62-64% at 20x and 65-67% at 40x, and its median latency 1.36-1.42 s at 1x-2x, 1.50-1.64 s
  at 5x, 1.75-2.08 s at 10x; the other strategies' amplification moved by at most 0.06;
- the median attempt excess was 2-17 ms at 1x-2x, 16-88 ms at 5x and 33-182 ms at 10x: the
  median separates the scales that agree from those that drift, and a bound of 20 ms sits
  two to four times below where naive began to drift;
- the p95 was 53 ms already at 1x: a burst of 100 requests is served one at a time by one
  client process and one mock process, whatever the scale, and that tail did not move the
  results (1x and 2x agreed while it doubled). A p95 rule would fail every scale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mock_provider.model.catalog import build_catalog
from simulator.config import Scenario
from simulator.model_refs import called_models

__all__ = [
    "MEASURES",
    "SHARE",
    "STATISTIC",
    "Shortest",
    "Spread",
    "TimingSamples",
    "distortion_warnings",
    "read_mock_log",
    "shortest_latency",
]

SHARE = 0.5  # of the shortest latency: the distortion bound
STATISTIC = "p50"  # of each measure, compared with the bound
MEASURES = {
    "mock_ms": "mock handling",
    "lag_ms": "client lag",
    "excess_ms": "attempt excess",
}


@dataclass(frozen=True, slots=True)
class Spread:
    """Percentiles of one measure, scenario milliseconds."""

    n: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread | None:
        a = np.fromiter(values, dtype=float)
        if a.size == 0:
            return None
        p50, p95 = np.percentile(a, [50, 95])
        return cls(
            int(a.size), round(float(p50), 3), round(float(p95), 3), round(float(a.max()), 3)
        )


@dataclass(frozen=True, slots=True)
class Shortest:
    """The scenario's shortest latency: the smallest median network round trip called."""

    ms: float
    model: str

    @property
    def bound_ms(self) -> float:
        return SHARE * self.ms


def shortest_latency(sc: Scenario) -> Shortest | None:
    """None when every model the clients call answers instantly (nothing to distort)."""
    catalog = build_catalog(sc.provider)
    found = [
        Shortest(spec.latency.network_ms.median, model)
        for model in called_models(sc)
        if (spec := catalog.get(model)) is not None and spec.latency.network_ms.median > 0
    ]
    return min(found, key=lambda s: s.ms, default=None)


@dataclass
class TimingSamples:
    """One strategy's samples of the three measures, fed record by record."""

    mock_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    excess_ms: list[float] = field(default_factory=list)

    def add_trace(self, rec: Mapping[str, Any]) -> None:
        """An attempt record of traces.jsonl (others are ignored)."""
        if rec.get("kind") != "attempt":
            return
        lag, plan = rec.get("lag_ms"), rec.get("plan_ms")
        if lag is not None:
            self.lag_ms.append(lag)
        if plan is not None and rec.get("status"):
            self.excess_ms.append(rec["latency_ms"] - plan)

    def add_mock(self, entry: Mapping[str, Any]) -> None:
        """A request-log entry of the mock (scenario seconds ``t`` and ``start_t``)."""
        start, plan = entry.get("start_t"), entry.get("plan_ms")
        if start is not None and plan is not None:
            self.mock_ms.append((entry["t"] - start) * 1000.0 - plan)

    def summary(self) -> dict[str, dict[str, float] | None]:
        return {
            name: (None if (s := Spread.of(getattr(self, name))) is None else asdict(s))
            for name in MEASURES
        }


def distortion_warnings(
    strategy: str, summary: Mapping[str, Mapping[str, float] | None], shortest: Shortest | None
) -> list[str]:
    """A message when a measure's :data:`STATISTIC` exceeds the bound (none when within)."""
    if shortest is None:
        return []
    over = [
        f"{what} {spread[STATISTIC]:,.0f} ms"
        for name, what in MEASURES.items()
        if (spread := summary.get(name)) is not None and spread[STATISTIC] > shortest.bound_ms
    ]
    if not over:
        return []
    return [
        f"{strategy}: live timing distorted: {STATISTIC} {', '.join(over)} of scenario time, "
        f"over the {shortest.bound_ms:,.0f} ms bound ({SHARE:.0%} of {shortest.model}'s "
        f"{shortest.ms:,.0f} ms round trip); lower the time scale or use --time-scale auto"
    ]


def read_mock_log(path: Path, offset: int = 0) -> Iterator[dict[str, Any]]:
    """Entries of the mock's request log from byte ``offset`` (a torn last line is skipped)."""
    if not path.exists():
        return
    with open(path, "rb") as fh:
        fh.seek(offset)
        for line in fh:
            if line.endswith(b"\n"):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
