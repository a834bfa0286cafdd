"""The sweep's ETA is within 30% once a fifth of the points are done.

Durations are scripted: a pool of workers is played out by hand (each worker takes the next
job as it finishes one, as ``ProcessPoolExecutor`` does), each job taking its cost times a
seeded noise, and the estimator is asked at every finish with the elapsed time. No clock,
no sleep.
"""

from __future__ import annotations

import heapq
import io
import random
from pathlib import Path

import pytest

from simulator.config import Scenario
from simulator.sweep.eta import EtaEstimator
from simulator.sweep.executors import Job
from simulator.sweep.run import Progress, job_cost

# Grids whose points differ in size: a load axis slowest (small points first, or last),
# fastest, uniform, and two very different sizes alternating.
GRIDS = {
    "load rising": [1] * 5 + [2] * 5 + [4] * 5 + [8] * 5,
    "load falling": [8] * 5 + [4] * 5 + [2] * 5 + [1] * 5,
    "load fastest": [1, 2, 4, 8] * 6,
    "uniform": [1] * 30,
    "alternating": [1, 10] * 10,
}


def play(
    costs: list[float], workers: int, noise: float, seed: int
) -> tuple[list[tuple[float, int]], float]:
    """(finish time and job, in finish order; the makespan) of a pool taking jobs in order."""
    rng = random.Random(seed)
    free = [(0.0, w) for w in range(workers)]
    done = []
    for i, cost in enumerate(costs):
        t, w = heapq.heappop(free)
        end = t + cost * (1 + rng.uniform(-noise, noise))
        done.append((end, i))
        heapq.heappush(free, (end, w))
    done.sort()
    return done, done[-1][0]


def errors(costs: list[float], workers: int, noise: float, seed: int) -> list[float]:
    """Relative ETA error at every finish from a fifth of the jobs on, while at least
    ``workers`` jobs are left (after that, what is left is the last jobs' own noise)."""
    finishes, makespan = play(costs, workers, noise, seed)
    eta = EtaEstimator(costs, workers)
    out = []
    for k, (t, i) in enumerate(finishes, 1):
        eta.finished(i, t)
        if k >= len(costs) / 5 and len(costs) - k >= workers:
            estimate = eta.eta(t)
            assert estimate is not None
            out.append(abs(estimate - (makespan - t)) / (makespan - t))
    return out


@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_exact_when_each_job_takes_its_cost(grid: str, workers: int) -> None:
    assert max(errors(GRIDS[grid], workers, noise=0.0, seed=0)) < 1e-9


@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_within_30_percent_with_noisy_durations(grid: str, workers: int) -> None:
    """Each job takes its cost ±15%: the ETA stays within 30% of the time really left."""
    worst = max(max(errors(GRIDS[grid], workers, noise=0.15, seed=s)) for s in range(10))
    assert worst <= 0.30


def test_counting_jobs_would_miss_by_far_on_a_rising_load() -> None:
    """Why jobs are weighted: small points first, a per-job average promises the end early."""
    costs = GRIDS["load rising"]
    finishes, makespan = play(costs, 1, 0.0, 0)
    t, _ = finishes[3]  # a fifth done
    by_count = t / 4 * 16
    assert by_count < 0.5 * (makespan - t)
    eta = EtaEstimator(costs)
    for t_i, i in finishes[:4]:
        eta.finished(i, t_i)
    assert eta.eta(t) == pytest.approx(makespan - t)


def test_nothing_finished_has_no_eta_and_all_finished_is_zero() -> None:
    eta = EtaEstimator([1, 2])
    assert eta.eta(5.0) is None
    eta.finished(0, 1.0)
    eta.finished(1, 3.0)
    assert eta.eta(3.0) == 0.0


def _job(index: int, rate: float) -> Job:
    sc = Scenario.model_validate(
        {
            "name": "s",
            "duration": 10,
            "workload": {"arrivals": {"kind": "poisson", "rate": rate}},
            "strategies": {"a": {}, "b": {}},
        }
    )
    return Job(index, (("workload.arrivals.rate", rate),), 0, sc)


def test_a_job_costs_its_requests_times_its_strategies() -> None:
    assert job_cost(_job(0, 2.0)) == pytest.approx(2.0 * 10 * 2)
    assert job_cost(_job(0, 8.0)) == pytest.approx(4 * job_cost(_job(0, 2.0)))


def test_the_progress_line_prints_the_weighted_eta(tmp_path: Path) -> None:
    """A fake clock: a light point takes 1 s, so the heavy one (4x the requests) has 4 s left."""
    now = [0.0]
    out = io.StringIO()
    jobs = [_job(0, 1.0), _job(1, 4.0)]
    progress = Progress([job_cost(j) for j in jobs], out, every_s=0.0, clock=lambda: now[0])
    now[0] = 1.0
    progress(jobs[0], [])
    assert "[1/2]" in out.getvalue()
    assert "elapsed 1.0 s  ETA 4.0 s" in out.getvalue()
