"""A sweep's plan: the command's arguments checked and laid out as jobs, before anything runs.

The axes come from ``--vary`` or, when it gives none, from the scenario's ``sweep.vary``; the
seeds from ``--seeds`` or ``sweep.seeds``. Every point's scenario is built and validated here
(:func:`simulator.sweep.grid.point_scenario`), so a bad value is a config error naming the file
and the ``--vary`` at fault (exit 2) before the first run starts, as for ``stampede run``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mock_provider.config import ConfigError, read_yaml
from simulator.config import Scenario, SweepReference, load_scenario
from simulator.report.metrics import METRICS
from simulator.sweep.executors import Job, dask_address
from simulator.sweep.grid import Axis, parse_vary, point_scenario, points

__all__ = ["Plan", "SweepRun", "prepare"]


@dataclass
class SweepRun:
    scenario: str
    vary: list[str] = field(default_factory=list)
    seeds: int | None = None
    jobs: int = 0  # 0: every core
    out_dir: Path = Path("sweep")
    executor: str | None = None
    out: IO[str] = field(default_factory=lambda: sys.stdout)


@dataclass(frozen=True)
class Plan:
    scenario: Scenario  # as the file gives it
    axes: list[Axis]
    seeds: list[int]
    jobs: list[Job]


def _axes(run: SweepRun, sc: Scenario) -> list[Axis]:
    problems = []
    if run.vary:
        axes = []
        for text in run.vary:
            try:
                axes.append(parse_vary(text))
            except ValueError as exc:
                problems.append(("--vary", str(exc)))
    else:
        given = sc.sweep.vary if sc.sweep else {}
        axes = [Axis(p, tuple(v)) for p, v in given.items()]
        problems += [
            (f"sweep.vary.{a.path}", "expected at least one value") for a in axes if not a.values
        ]
    for a in axes:
        if a.path.split(".")[0] in ("seed", "sweep", "name"):
            problems.append((f"--vary {a.path}", "not a setting to vary (seeds: --seeds N)"))
    if len({a.path for a in axes}) != len(axes):
        problems.append(("--vary", "a path is varied twice"))
    if not axes and not problems:
        problems.append(
            ("--vary", "nothing to vary: give --vary PATH=V1,V2,... or the scenario's sweep.vary")
        )
    if problems:
        raise ConfigError(run.scenario, problems)
    return axes


def _check_reference(ref: SweepReference, sc: Scenario, file: str) -> None:
    problems = []
    for name, values in ref.strategies.items():
        if name not in sc.strategies:
            problems.append(
                (
                    f"sweep.reference.strategies.{name}",
                    f"no strategy named {name!r}; one of {list(sc.strategies)}",
                )
            )
        for metric in values:
            if metric not in METRICS:
                problems.append(
                    (
                        f"sweep.reference.strategies.{name}.{metric}",
                        f"unknown metric; valid metrics: {', '.join(METRICS)}",
                    )
                )
    if problems:
        raise ConfigError(file, problems)


def prepare(run: SweepRun) -> Plan:
    """The grid's jobs, every one validated; ConfigError before anything runs."""
    sc = load_scenario(run.scenario)
    if sc.apps:  # the user's own code runs against the live mock only
        raise ConfigError(run.scenario, [
            (f"strategies.{name}", "an app strategy runs only live; a sweep runs virtually")
            for name in sc.apps
        ])  # fmt: skip
    data = read_yaml(Path(run.scenario))
    axes = _axes(run, sc)
    n = run.seeds if run.seeds is not None else (sc.sweep.seeds if sc.sweep else 1)
    if n < 1:
        raise ConfigError(run.scenario, [("--seeds", f"expected 1 or more, got {n}")])
    if sc.sweep and sc.sweep.reference:
        _check_reference(sc.sweep.reference, sc, run.scenario)
    if run.executor is not None:
        try:
            dask_address(run.executor)
        except ValueError as exc:
            raise ConfigError(run.scenario, [("--executor", str(exc))]) from None
    seeds = [sc.seed + i for i in range(n)]
    jobs: list[Job] = []
    problems: list[tuple[str, str]] = []
    for point in points(axes):
        for seed in seeds:
            try:
                jobs.append(
                    Job(len(jobs), point, seed, point_scenario(data, point, seed, run.scenario))
                )
            except ConfigError as exc:
                problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise ConfigError(run.scenario, problems)
    return Plan(sc, axes, seeds, jobs)
