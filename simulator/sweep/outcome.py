"""What a sweep's rows say: the spread over seeds, which settings hold, the best, where each
strategy breaks, and whether a published ordering is reproduced.

Theory of operation
-------------------
* A *cell* is one point of the grid and one strategy; its rows (one per seed) are its
  samples. A metric's value in a cell is the mean over the seeds that have one, with the
  lowest and highest as its spread.
* A cell *holds* when every threshold on its strategy holds on every seed: a setting that
  fails one seed in N fails about one run in N in production. The thresholds are the
  scenario's own (``thresholds:``, ``all`` expanded); a strategy without any is held to the
  objective's ``floor`` if the scenario has one, else to :data:`DEFAULT_FLOOR`, and the output
  says so.
* The *best setting* is the holding cell that ranks first by the scenario's objective
  (``objective.rank_by``, else :data:`DEFAULT_RANK`) on its means, each metric in its better
  direction; a tie goes to the next metric, then to the earlier cell in grid order. When an
  axis varies the load (a path under ``workload.``), the load is the condition, not a setting
  to pick: a setting (a strategy and the other axes' values) must hold at every load of the
  grid, and settings are ranked by their cell at the heaviest load.
* A strategy's *breaking point*, for each setting of the other axes, is the first value of
  the load axis (:func:`simulator.sweep.grid.load_axis`; numbers in increasing order) at which
  its cell stops holding, with the threshold that failed. A strategy may hold throughout, or
  fail from the first value.
* A *reference* (``sweep.reference`` in the scenario) lists a published study's numbers per
  strategy at one point; the check compares the two orderings of the strategies, metric by
  metric, lowest first.

Pure: rows in, results out; no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.config import Scenario, SweepReference
from simulator.report.metrics import METRICS
from simulator.report.thresholds import Threshold, evaluate, parse_thresholds
from simulator.report.units import format_value
from simulator.sweep.grid import Axis, Point, load_axis

__all__ = [
    "DEFAULT_FLOOR",
    "DEFAULT_RANK",
    "BreakingPoint",
    "Cell",
    "OrderCheck",
    "best_cell",
    "breaking_points",
    "cells_of",
    "floor_of",
    "judges_of",
    "reference_check",
]

DEFAULT_FLOOR = {"success_rate": ">= 0.95"}
DEFAULT_RANK = ("p95_latency_ms", "amplification")
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Cell:
    point: Point
    strategy: str
    seeds: tuple[int, ...]
    mean: dict[str, float | None]
    low: dict[str, float | None]
    high: dict[str, float | None]
    failures: tuple[str, ...]  # one line per threshold that failed on some seed

    @property
    def holds(self) -> bool:
        return not self.failures

    def value(self, path: str) -> Any:
        return dict(self.point)[path]


def judges_of(sc: Scenario) -> tuple[dict[str, list[Threshold]], list[str]]:
    """Per strategy, the thresholds its cells must hold, and the strategies held to the
    default floor because the scenario gives them none."""
    names = list(sc.strategies)
    given = parse_thresholds(sc.thresholds, names)
    out: dict[str, list[Threshold]] = {s: [t for t in given if t.strategy == s] for s in names}
    floored = [s for s in names if not out[s]]
    for s in floored:
        out[s] = parse_thresholds({s: floor_of(sc)}, [s])
    return out, floored


def floor_of(sc: Scenario) -> dict[str, str]:
    """What a strategy without thresholds of its own must hold."""
    return dict(sc.objective.floor) if sc.objective and sc.objective.floor else DEFAULT_FLOOR


def _stats(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return math.fsum(values) / len(values), min(values), max(values)


def cells_of(
    rows: Iterable[Row], axes: Sequence[Axis], judges: Mapping[str, list[Threshold]]
) -> list[Cell]:
    """One cell per point and strategy, in the rows' order (grid order, then strategy)."""
    paths = [a.path for a in axes]
    groups: dict[tuple[Point, str], list[Row]] = {}
    for row in rows:
        point = tuple((p, row[p]) for p in paths)
        groups.setdefault((point, row["strategy"]), []).append(row)
    out = []
    for (point, strategy), group in groups.items():
        mean, low, high = {}, {}, {}
        for metric in METRICS:
            values = [float(r[metric]) for r in group if r.get(metric) is not None]
            mean[metric], low[metric], high[metric] = _stats(values)
        failures: dict[str, str] = {}
        for row in group:
            summary = {"strategies": {strategy: row}}
            for v in evaluate(judges.get(strategy, []), summary):
                key = f"{v.metric} {v.expression}"
                if not v.passed and key not in failures:
                    actual = format_value(v.metric, v.actual)
                    failures[key] = f"{key} (actual {actual}, seed {row['seed']})"
        seeds = tuple(int(r["seed"]) for r in group)
        out.append(Cell(point, strategy, seeds, mean, low, high, tuple(failures.values())))
    return out


def _rank_key(cell: Cell, rank_by: Sequence[str]) -> tuple[tuple[bool, float], ...]:
    key = []
    for metric in rank_by:
        v = cell.mean.get(metric)
        sign = -1.0 if METRICS[metric].better == "higher" else 1.0
        key.append((v is None, 0.0 if v is None else sign * v))
    return tuple(key)


def best_cell(cells: Sequence[Cell], axes: Sequence[Axis], rank_by: Sequence[str]) -> Cell | None:
    """The best holding cell (see the module's rules); None if no setting holds."""
    load = load_axis(axes)
    if not load.path.startswith("workload."):
        holding = [c for c in cells if c.holds]
    else:
        heaviest = _load_order(load.values)[-1]
        settings: dict[tuple[str, Point], list[Cell]] = {}
        for c in cells:
            rest = tuple((p, v) for p, v in c.point if p != load.path)
            settings.setdefault((c.strategy, rest), []).append(c)
        holding = [
            next(c for c in group if c.value(load.path) == heaviest)
            for group in settings.values()
            if all(c.holds for c in group) and any(c.value(load.path) == heaviest for c in group)
        ]
    return min(holding, key=lambda c: _rank_key(c, rank_by)) if holding else None


@dataclass(frozen=True)
class BreakingPoint:
    strategy: str
    others: Point  # the other axes' values this breaking point is for
    load: str  # the load axis's path
    breaks_at: Any | None  # the first load value that fails; None: holds throughout
    last_held: Any | None  # the load value before it that held; None: fails from the start
    failures: tuple[str, ...]

    def describe(self) -> str:
        where = "".join(f" at {p.rsplit('.', 1)[-1]}={v}" for p, v in self.others)
        name = self.load.rsplit(".", 1)[-1]
        if self.breaks_at is None:
            return f"{self.strategy}{where}: holds throughout ({name} up to {self.last_held})"
        why = "; ".join(self.failures[:2])
        if self.last_held is None:
            return f"{self.strategy}{where}: fails from the first {name}={self.breaks_at}: {why}"
        return (
            f"{self.strategy}{where}: breaks at {name}={self.breaks_at} "
            f"(held at {self.last_held}): {why}"
        )


def _load_order(values: Sequence[Any]) -> list[Any]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(values) if numeric else list(values)


def breaking_points(cells: Sequence[Cell], axes: Sequence[Axis]) -> list[BreakingPoint]:
    """Per strategy and setting of the other axes, where it first fails along the load axis."""
    load = load_axis(axes)
    others = [a for a in axes if a.path != load.path]
    by_key = {(c.point, c.strategy): c for c in cells}
    strategies = list(dict.fromkeys(c.strategy for c in cells))
    order = [a.path for a in axes]
    out = []
    for strategy in strategies:
        # an axis under another strategy does not change this one: held at its first value
        mine = [a if a.applies_to(strategy) else Axis(a.path, a.values[:1]) for a in others]
        for combo in itertools.product(*(a.values for a in mine)):
            fixed = dict(zip((a.path for a in mine), combo, strict=True))
            last, broke = None, None
            for value in _load_order(load.values):
                values = {**fixed, load.path: value}
                cell = by_key.get((tuple((p, values[p]) for p in order), strategy))
                if cell is None:
                    continue
                if not cell.holds:
                    broke = cell
                    break
                last = value
            out.append(
                BreakingPoint(
                    strategy,
                    tuple(
                        (p, v)
                        for (p, v), a in zip(fixed.items(), mine, strict=True)
                        if a.applies_to(strategy)
                    ),
                    load.path,
                    None if broke is None else broke.value(load.path),
                    last,
                    () if broke is None else broke.failures,
                )
            )
    return out


@dataclass(frozen=True)
class OrderCheck:
    metric: str
    theirs: tuple[str, ...]  # strategies, lowest first
    ours: tuple[str, ...]

    @property
    def same(self) -> bool:
        return self.theirs == self.ours

    def describe(self) -> str:
        verdict = "reproduced" if self.same else "NOT reproduced"
        text = f"{self.metric}: {verdict}: theirs {' < '.join(self.theirs)}"
        return text if self.same else f"{text}; ours {' < '.join(self.ours)}"


def reference_cells(cells: Sequence[Cell], ref: SweepReference) -> dict[str, Cell]:
    """The cells at the reference's point (paths the grid does not vary are not matched)."""
    out: dict[str, Cell] = {}
    for c in cells:
        values = dict(c.point)
        if all(values[p] == v for p, v in ref.at.items() if p in values):
            out.setdefault(c.strategy, c)
    return out


def reference_check(cells: Sequence[Cell], ref: SweepReference) -> list[OrderCheck]:
    """Per metric the reference reports: its ordering of the strategies and ours (by mean)."""
    ours = reference_cells(cells, ref)
    metrics = list(dict.fromkeys(m for values in ref.strategies.values() for m in values))
    checks = []
    for metric in metrics:
        named = [s for s in ref.strategies if metric in ref.strategies[s] and s in ours]
        theirs = sorted(named, key=lambda s: ref.strategies[s][metric])
        mine = sorted(
            named, key=lambda s: (ours[s].mean.get(metric) is None, ours[s].mean.get(metric) or 0.0)
        )
        checks.append(OrderCheck(metric, tuple(theirs), tuple(mine)))
    return checks
