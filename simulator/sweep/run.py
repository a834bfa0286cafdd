"""``stampede sweep``: a grid of virtual runs, and what it says about the settings.

Everything is validated before anything runs (:mod:`simulator.sweep.plan`; exit 2 naming the
file and field or the ``--vary`` at fault). Then the points run
(every seed of every point a job; :mod:`simulator.sweep.executors`) with a progress line and
an ETA, and the output folder gets ``sweep.csv`` (one row per point, seed and strategy, every
summary metric), ``sweep.json`` (the best setting, the breaking points, the reference check),
the charts and ``sweep.html``. Exit 0 when some setting holds the thresholds, 1 when none
does.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import IO, Any

from mock_provider.config import ConfigError
from simulator.console import wrap
from simulator.report.metrics import METRICS
from simulator.report.page_parts import CSS
from simulator.report.units import format_value, label
from simulator.sweep.eta import EtaEstimator
from simulator.sweep.executors import Job, Row, default_workers, execute
from simulator.sweep.grid import Axis, load_axis
from simulator.sweep.outcome import (
    DEFAULT_RANK,
    BreakingPoint,
    Cell,
    OrderCheck,
    best_cell,
    breaking_points,
    cells_of,
    floor_of,
    judges_of,
    reference_cells,
    reference_check,
)
from simulator.sweep.plan import Plan, SweepRun, prepare

__all__ = ["SweepRun", "run_sweep", "write_csv"]


def job_cost(job: Job) -> float:
    """What a job is expected to cost: the requests its workload draws, per strategy."""
    from simulator.workload import requests_drawn

    sc = job.scenario
    return max(1.0, requests_drawn(sc.workload, sc.duration)) * len(sc.strategies)


class Progress:
    """``[k/N]`` with the elapsed time and an ETA (:class:`EtaEstimator`: jobs weighted by
    their expected cost); at most one line a second, and the last. It keeps the finished
    jobs' rows, which an interrupted sweep writes."""

    def __init__(
        self,
        costs: Sequence[float],
        out: IO[str],
        workers: int = 1,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.out, self.every_s, self.clock = len(costs), out, every_s, clock
        self.estimate = EtaEstimator(costs, workers)
        self.done = 0
        self.began = self.last = clock()
        self.finished: dict[int, list[Row]] = {}

    def rows(self) -> list[Row]:
        """The finished jobs' rows, in job order."""
        return [row for index in sorted(self.finished) for row in self.finished[index]]

    def __call__(self, job: Job, rows: list[Row]) -> None:
        self.finished[job.index] = rows
        self.done += 1
        now = self.clock()
        elapsed = now - self.began
        self.estimate.finished(job.index, elapsed)
        if self.done < self.total and now - self.last < self.every_s:
            return
        self.last = now
        eta = self.estimate.eta(elapsed)
        at = ", ".join(f"{p.rsplit('.', 1)[-1]}={v}" for p, v in job.point)
        print(
            f"  [{self.done:>{len(str(self.total))}}/{self.total}] {at} seed {job.seed}"
            f"  elapsed {elapsed:.1f} s  ETA {'?' if eta is None else f'{eta:.1f}'} s",
            file=self.out,
            flush=True,
        )


def write_csv(rows: Sequence[Row], axes: Sequence[Axis], path: Path) -> None:
    """One row per point, seed and strategy: the varied values, then every metric."""
    head = [a.path for a in axes] + ["seed", "strategy", *METRICS]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row[k] for k in head])


@dataclass(frozen=True)
class Findings:
    cells: list[Cell]
    best: Cell | None
    rank_by: list[str]
    floored: list[str]
    breaks: list[BreakingPoint]
    checks: list[OrderCheck]


def analyse(plan: Plan, rows: Sequence[Row]) -> Findings:
    sc = plan.scenario
    judges, floored = judges_of(sc)
    cells = cells_of(rows, plan.axes, judges)
    rank_by = list(sc.objective.rank_by if sc.objective else DEFAULT_RANK)
    ref = sc.sweep.reference if sc.sweep else None
    checks = reference_check(cells, ref) if ref else []
    return Findings(
        cells,
        best_cell(cells, plan.axes, rank_by),
        rank_by,
        floored,
        breaking_points(cells, plan.axes),
        checks,
    )


def _at(cell: Cell) -> str:
    """The cell's point, without the axes that do not change its strategy."""
    return ", ".join(f"{p}={v}" for p, v in cell.point if Axis(p, ()).applies_to(cell.strategy))


def summary_lines(plan: Plan, found: Findings) -> list[str]:
    """What the terminal and the page say, line by line."""
    sc, best = plan.scenario, found.best
    lines = []
    if found.floored:
        lines.append(
            f"no thresholds for {', '.join(found.floored)}: held to "
            + ", ".join(f"{m} {e}" for m, e in floor_of(sc).items())
        )
    load = load_axis(plan.axes)
    by_load = load.path.startswith("workload.")
    if best is None:
        where = "at every load of the grid" if by_load else "at any point"
        lines.append(f"best setting: none holds the thresholds {where}")
    else:
        ranked = ", ".join(f"{label_of(m)} {figure_of(m, best.mean[m])}" for m in found.rank_by)
        held = f"holds at every {load.label}; at the heaviest, " if by_load else ""
        lines.append(
            f"best setting under the thresholds (by {', '.join(found.rank_by)}): "
            f"{best.strategy} at {_at(best)}: {held}{ranked} (mean of {len(best.seeds)} "
            f"seed{'s' * (len(best.seeds) > 1)})"
        )
    lines.append(f"breaking points along {load.path}:")
    lines += [f"  {b.describe()}" for b in found.breaks]
    if found.checks and sc.sweep and sc.sweep.reference:
        lines.append(f"reference: {sc.sweep.reference.source}")
        lines += [f"  {c.describe()}" for c in found.checks]
    return lines


def label_of(metric: str) -> str:
    return label(metric)


def figure_of(metric: str, value: float | None) -> str:
    """A cell's mean as the report prints it, but counts whole and times in ms (a mean over
    seeds is rarely whole; a study's makespans are seconds or less)."""
    if value is not None and METRICS[metric].unit in ("attempts", "requests", "tokens"):
        return f"{value:,.0f}"
    if value is not None and METRICS[metric].unit == "s":
        return f"{1000 * value:,.0f} ms"
    return format_value(metric, value)


def reference_table(plan: Plan, found: Findings) -> list[list[str]]:
    """Rows of strategy, then theirs and ours (mean, lowest-highest) per reference metric."""
    ref = plan.scenario.sweep.reference if plan.scenario.sweep else None
    if ref is None:
        return []
    ours = reference_cells(found.cells, ref)
    metrics = [c.metric for c in found.checks]
    head = ["strategy"] + [f"{who} {label_of(m)}" for m in metrics for who in ("theirs", "ours")]
    table = [head]
    for name, values in ref.strategies.items():
        row = [name]
        for m in metrics:
            row.append(figure_of(m, values.get(m)))
            c = ours.get(name)
            if c is None:
                row.append("–")
                continue
            spread = (
                ""
                if len(c.seeds) < 2
                else (f" ({_bare(figure_of(m, c.low[m]))}–{_bare(figure_of(m, c.high[m]))})")
            )
            row.append(figure_of(m, c.mean[m]) + spread)
        table.append(row)
    return table


def _bare(text: str) -> str:
    """A range's ends without the unit the mean beside them already gives."""
    return text.removesuffix(" ms").removesuffix(" s")


def _text_table(table: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]


READING = (
    "How to read this: each figure is the mean over the seeds (lowest–highest beside it). A "
    "setting holds when every threshold on its strategy holds on every seed. When an axis "
    "varies the load, the best setting is one that holds at every load, ranked by the "
    "objective at the heaviest; a breaking point is the first load at which a strategy stops "
    "holding, with the threshold that failed. The rules: simulator/sweep/outcome.py."
)


def render_html(plan: Plan, found: Findings, charts: Sequence[Path], title: str) -> str:
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(plan.scenario.description)}</p>",
        f"<p>{len(plan.jobs)} virtual runs: "
        + escape(" × ".join(f"{a.path} ({len(a.values)})" for a in plan.axes))
        + f", {len(plan.seeds)} seed{'s' * (len(plan.seeds) > 1)} each. Every row is in "
        "<a href='sweep.csv'>sweep.csv</a>.</p>",
    ]
    body.append(
        "<ul>"
        + "".join(f"<li>{escape(x.strip())}</li>" for x in summary_lines(plan, found))
        + "</ul>"
    )
    body.append(f"<p class=note>{escape(READING)}</p>")
    table = reference_table(plan, found)
    if table:
        body.append("<h2>Against the reference</h2><table>")
        body.append("<tr>" + "".join(f"<th>{escape(c)}</th>" for c in table[0]) + "</tr>")
        body += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in table[1:]]
        body.append("</table>")
    body += [
        f"<h2>{escape(p.stem.replace('_', ' '))}</h2><img src='{escape(p.name)}' "
        f"alt='{escape(p.stem)}' style='max-width:100%'>"
        for p in charts
    ]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _write_json(plan: Plan, found: Findings, path: Path) -> None:
    def cell(c: Cell | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {
            "strategy": c.strategy,
            "point": dict(c.point),
            "seeds": list(c.seeds),
            "mean": c.mean,
            "failures": list(c.failures),
        }

    data = {
        "scenario": plan.scenario.name,
        "axes": {a.path: list(a.values) for a in plan.axes},
        "seeds": plan.seeds,
        "rank_by": found.rank_by,
        "floored": found.floored,
        "best": cell(found.best),
        "breaking_points": [
            {
                "strategy": b.strategy,
                "others": dict(b.others),
                "load": b.load,
                "breaks_at": b.breaks_at,
                "last_held": b.last_held,
                "failures": list(b.failures),
            }
            for b in found.breaks
        ],
        "reference": [
            {"metric": c.metric, "theirs": list(c.theirs), "ours": list(c.ours), "same": c.same}
            for c in found.checks
        ],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def _interrupted(run: SweepRun, plan: Plan, progress: Progress) -> int:
    """Ctrl-C: keep the finished runs' rows in ``sweep.csv``; no verdict from part of a grid."""
    rows = progress.rows()
    if rows:
        run.out_dir.mkdir(parents=True, exist_ok=True)
        write_csv(rows, plan.axes, run.out_dir / "sweep.csv")
    kept = f"; their rows: {run.out_dir / 'sweep.csv'}" if rows else ""
    print(
        wrap(
            f"\ninterrupted after {progress.done} of {len(plan.jobs)} runs{kept}; no "
            "charts or verdict from part of a grid (exit 130)"
        ),
        file=run.out,
    )
    return 130


def run_sweep(run: SweepRun) -> int:
    """The whole command; its exit status (0 a setting holds, 1 none does, 2 config error,
    3 the executor failed, 130 interrupted)."""
    try:
        plan = prepare(run)
    except ConfigError as exc:
        print(wrap(f"error: {exc}"), file=sys.stderr)
        return 2
    workers = 1 if run.executor else (run.jobs or default_workers())
    where = run.executor or f"{min(workers, len(plan.jobs))} local process(es)"
    grid = " × ".join(f"{a.path} {list(a.values)}" for a in plan.axes)
    print(
        wrap(
            f"stampede sweep {run.scenario}: {grid}; {len(plan.seeds)} seed(s), "
            f"{len(plan.jobs)} virtual runs on {where}\n  output: {run.out_dir}"
        ),
        file=run.out,
    )
    parallel = 1 if run.executor or workers <= 1 else min(workers, len(plan.jobs))
    progress = Progress([job_cost(j) for j in plan.jobs], run.out, parallel)
    try:
        rows = execute(plan.jobs, workers, run.executor, progress)
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(wrap(f"error: the executor failed: {exc}"), file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return _interrupted(run, plan, progress)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, plan.axes, run.out_dir / "sweep.csv")
    found = analyse(plan, rows)
    _write_json(plan, found, run.out_dir / "sweep.json")
    from simulator.sweep.plots import draw_sweep

    strategies = list(plan.scenario.strategies)
    charts = draw_sweep(found.cells, plan.axes, strategies, run.out_dir, found.rank_by)
    title = f"stampede sweep {plan.scenario.name}"
    (run.out_dir / "sweep.html").write_text(render_html(plan, found, charts, title))
    print("", file=run.out)
    for line in summary_lines(plan, found):
        print(wrap(line, hanging="      "), file=run.out)
    table = reference_table(plan, found)
    if table:
        print("", file=run.out)
        for line in _text_table(table):
            print(line, file=run.out)
    print(f"\nsweep.csv, charts and sweep.html: {run.out_dir}", file=run.out)
    return 0 if found.best is not None else 1
