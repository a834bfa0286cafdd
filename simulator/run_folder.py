"""What every run folder holds, however it was run: the effective scenario, and how a run
that cannot finish says so.

``scenario.yaml`` is the scenario with the command line's overrides applied: what the drivers
run, and what ``stampede report`` reads back (thresholds, objective, limits). Only the fields
the file gave are written: a full dump would set fields a kind ignores, which are errors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from simulator.config import Scenario

__all__ = ["OUTPUTS", "Interrupted", "RunError", "fresh_run_dir", "write_scenario"]


class RunError(Exception):
    """The run could not go on (mock did not start, Locust failed): exit status 3."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stopped, every record kept, a partial summary written (exit 130)."""


def write_scenario(sc: Scenario, run_dir: Path) -> None:
    data = sc.model_dump(mode="json", exclude_unset=True)  # re-validates: no ignored fields
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


# What a run writes into its folder: a run into a folder that holds an earlier one starts by
# removing these, so its traces are not appended to the earlier run's.
OUTPUTS = (
    "traces.jsonl", "requests.jsonl", "run.json", "scenario.yaml", "summary.json",
    "report.html", "mock.log", "plots", "locust",
)  # fmt: skip


def fresh_run_dir(run_dir: Path) -> None:
    """Create ``run_dir``, or empty it of an earlier run's outputs (nothing else)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
