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
scales 1 to 20 (40 ms round trip, so a 20 ms bound; a 100-request burst on 60 RPM):

- naive's success rate was 60.0% and its amplification 4.60 in every run at 1x, 2x, 3x and
  5x (ten runs), with a median latency of 1.33-1.34 s; at 10x, 61% and 4.57-4.58 with
  1.40-1.42 s (three runs); at 20x, 63% and 4.47. The other strategies' amplification
  stayed within 0.09 of their 2x values up to 20x (their jitter makes it vary run to run);
- the median attempt excess was 2 ms at 1x, 4-8 ms at 2x, 6 ms at 3x, 10-21 ms at 5x, 23-68
  ms at 10x and 44-207 ms at 20x; the median client lag stayed under 15 ms up to 5x. The
  bound sits about three times below the excess at which naive began to drift (10x);
- the p95 moves without the results: the client lag's p95 was 14-22 ms at 1x and 29-55 ms at
  2x, the burst's 100 sends leaving one client process one after another whatever the
  scale. A p95 rule at this bound would fail 2x, and sometimes 1x.

``--time-scale auto`` (:func:`choose_scale`) applies the same rule before the run: a short
calibration against the mock measures the median attempt excess at a few scales of
:data:`SCALE_LADDER` (a binary search: the excess only grows with the scale) and keeps the
largest within :data:`AUTO_MARGIN` of the bound; the host's overhead per request is wall
time, so the excess is about ``k x overhead``, and the largest passing k is about
``bound / overhead``. The margin: the calibration replays only the scenario's opening, and on
a 20-request burst the run's median excess came out up to 1.3 times the calibration's.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mock_provider.model.catalog import build_catalog
from simulator.config import Scenario
from simulator.model_refs import called_models
from simulator.workload import Workload

__all__ = [
    "AUTO_MARGIN",
    "MEASURES",
    "SCALE_LADDER",
    "SHARE",
    "STATISTIC",
    "Probe",
    "ScaleChoice",
    "Shortest",
    "Spread",
    "TimingSamples",
    "choose_scale",
    "distortion_warnings",
    "expected_concurrency",
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


# --------------------------------------------------------------------------- --time-scale auto

# The scales a calibration may choose: about 1.5x apart, from real time to 80x.
SCALE_LADDER: tuple[float, ...] = (1, 1.5, 2, 3, 5, 8, 12, 20, 30, 50, 80)
AUTO_MARGIN = 0.75  # of the bound: the most a calibration probe may show at the chosen scale
MAX_CONCURRENCY = 512  # calibration greenlets at most


@dataclass(frozen=True, slots=True)
class Probe:
    """One calibration measurement at ``scale``, scenario ms: the median attempt excess and
    the median lateness of the opening burst's sends (the client lag a burst meets); ``p50_ms``
    is the larger, which the choice goes by."""

    scale: float
    excess_p50_ms: float
    lag_p50_ms: float
    n: int

    @property
    def p50_ms(self) -> float:
        return max(self.excess_p50_ms, self.lag_p50_ms)


@dataclass(frozen=True, slots=True)
class ScaleChoice:
    """What ``--time-scale auto`` chose: ``scale``, the probes behind it, and the target.

    ``target_ms`` is :data:`AUTO_MARGIN` of ``bound_ms``, the bound the run is checked with.
    """

    scale: float
    bound_ms: float
    concurrency: int
    probes: tuple[Probe, ...]

    @property
    def target_ms(self) -> float:
        return AUTO_MARGIN * self.bound_ms

    @property
    def reason(self) -> str:
        passed = [p for p in self.probes if p.p50_ms <= self.target_ms]
        failed = [p for p in self.probes if p.p50_ms > self.target_ms]
        shown = []
        if passed:
            best = max(passed, key=lambda p: p.scale)
            shown.append(f"{best.scale:g}x gave {best.p50_ms:,.1f} ms")
        if failed:
            worst = min(failed, key=lambda p: p.scale)
            shown.append(f"{worst.scale:g}x gave {worst.p50_ms:,.1f} ms")
        target = (
            f"{self.target_ms:,.0f} ms ({AUTO_MARGIN:.0%} of the {self.bound_ms:,.0f} ms bound)"
        )
        head = (
            f"the largest scale whose median excess and lag stayed within {target}"
            if passed
            else f"no scale kept the median excess and lag within {target}; the slowest was taken"
        )
        return f"{head}: {'; '.join(shown)}, {self.concurrency} requests at a time"

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "bound_ms": self.bound_ms,
            "target_ms": self.target_ms,
            "statistic": STATISTIC,
            "concurrency": self.concurrency,
            "probes": [{**asdict(p), "p50_ms": p.p50_ms} for p in self.probes],
            "reason": self.reason,
        }


def choose_scale(
    measure: Callable[[float], Probe],
    bound_ms: float,
    concurrency: int,
    ladder: tuple[float, ...] = SCALE_LADDER,
) -> ScaleChoice:
    """The largest scale of ``ladder`` whose probe stays within :data:`AUTO_MARGIN` of
    ``bound_ms`` (the first scale if none does).

    A binary search (four probes at most for the default ladder): the excess grows with the
    scale.
    """
    target = AUTO_MARGIN * bound_ms
    probes: list[Probe] = []
    best: float | None = None
    lo, hi = 0, len(ladder) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        probe = measure(ladder[mid])
        probes.append(probe)
        if probe.p50_ms <= target:
            best, lo = ladder[mid], mid + 1
        else:
            hi = mid - 1
    return ScaleChoice(ladder[0] if best is None else best, bound_ms, concurrency, tuple(probes))


def typical_latency_s(sc: Scenario, workload: Workload) -> float:
    """The planned median latency of the workload's first model for a median request."""
    spec = build_catalog(sc.provider).get(sc.workload.model)
    reqs = workload.open_loop or tuple(r for user in workload.closed_loop for r in user)
    if spec is None or not reqs:
        return 0.0
    lat = spec.latency
    input_tokens = float(np.median([r.input_tokens for r in reqs]))
    output = sc.provider.output_tokens.median
    cap = min(r.max_tokens or spec.max_output_tokens for r in reqs)
    output = min(output, cap)
    ms = (
        lat.network_ms.median
        + lat.prefill_ms_per_token.median * input_tokens
        + lat.first_token_ms.median
        + lat.decode_ms_per_token.median * max(0.0, output - 1)
    )
    return ms / 1000.0


def expected_concurrency(sc: Scenario, workload: Workload) -> int:
    """Logical requests in flight at the busiest moment, if each took the typical latency.

    The most open-loop arrivals in any window of :func:`typical_latency_s` (a burst of n is
    n), plus one per closed-loop user; at least 1, at most :data:`MAX_CONCURRENCY`.
    """
    window = typical_latency_s(sc, workload)
    times = sorted(r.at for r in workload.open_loop)
    busiest = max(
        (bisect.bisect_right(times, t + window) - i for i, t in enumerate(times)), default=0
    )
    return max(1, min(MAX_CONCURRENCY, busiest + len(workload.closed_loop)))
