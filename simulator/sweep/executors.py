"""Where a sweep's points run: this process, local worker processes, or a Dask cluster.

Every job is one scenario at one point and seed, run virtually by
:func:`simulator.virtual.measure.measure`: independent of every other job and deterministic, so
its rows are the same whichever executor ran it and in whatever order the jobs finished. The
rows come back in job order.

``--executor dask://HOST:PORT`` connects to a running Dask scheduler (the ``distributed``
package, an optional extra: ``pip install 'llm-stampede[dask]'``); its workers need this
project installed. Nothing else here reaches the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from simulator.config import Scenario
from simulator.sweep.grid import Point

__all__ = ["DASK_SCHEME", "Job", "Row", "execute", "run_job"]

Row = dict[str, Any]
DASK_SCHEME = "dask://"


@dataclass(frozen=True)
class Job:
    index: int
    point: Point
    seed: int
    scenario: Scenario


def run_job(job: Job) -> list[Row]:
    """One row per strategy: the point's values, the seed, the strategy, every metric."""
    from simulator.virtual.measure import measure

    metrics = measure(job.scenario)
    values = dict(job.point)
    return [  # in the scenario's order of strategies
        {**values, "seed": job.seed, "strategy": name, **metrics[name]}
        for name in job.scenario.strategies
    ]


Done = Callable[[Job, list[Row]], None]


def execute(jobs: Sequence[Job], workers: int, executor: str | None, done: Done) -> list[Row]:
    """Run every job; ``done(job, rows)`` as each finishes (progress, and what a Ctrl-C
    keeps). Rows in job order."""
    if executor is not None:
        results = _on_dask(jobs, executor, done)
    elif workers <= 1 or len(jobs) == 1:
        results = {}
        for job in jobs:
            results[job.index] = run_job(job)
            done(job, results[job.index])
    else:
        results = _on_processes(jobs, workers, done)
    return [row for job in jobs for row in results[job.index]]


def default_workers() -> int:
    return os.cpu_count() or 1


def _on_processes(jobs: Sequence[Job], workers: int, done: Done) -> dict[int, list[Row]]:
    results: dict[int, list[Row]] = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                job = futures[future]
                results[job.index] = future.result()
                done(job, results[job.index])
        except KeyboardInterrupt:  # no job that has not started will start
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results


def dask_address(url: str) -> str:
    """``dask://HOST:PORT`` -> the scheduler's ``tcp://HOST:PORT``; ValueError otherwise."""
    if not url.startswith(DASK_SCHEME) or ":" not in url[len(DASK_SCHEME) :]:
        raise ValueError(f"expected dask://HOST:PORT, got {url!r}")
    return "tcp://" + url[len(DASK_SCHEME) :]


def _on_dask(jobs: Sequence[Job], url: str, done: Done) -> dict[int, list[Row]]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as exc:  # an optional extra
        raise RuntimeError(
            "--executor dask:// needs the distributed package: pip install 'llm-stampede[dask]'"
        ) from exc
    results: dict[int, list[Row]] = {}
    with Client(dask_address(url), timeout="10s") as client:
        futures = client.map(run_job, list(jobs), pure=False)
        by_key = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        for future in dask_completed(futures):
            job = by_key[future.key]
            results[job.index] = future.result()
            done(job, results[job.index])
    return results
