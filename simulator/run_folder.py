"""What every run folder holds, however it was run: the effective scenario, and how a run
that cannot finish says so.

``scenario.yaml`` is the scenario with the command line's overrides applied: what the drivers
run, and what ``stampede report`` reads back (thresholds, objective, limits). Only the fields
the file gave are written: a full dump would set fields a kind ignores, which are errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from simulator.config import Scenario

__all__ = [
    "OUTPUTS",
    "Interrupted",
    "RunError",
    "folder_problems",
    "fresh_run_dir",
    "write_scenario",
]


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


def folder_problems(run_dir: Path) -> list[tuple[str, str]]:
    """What keeps ``stampede report`` or ``compare`` from reading ``run_dir``: (file, why).

    Each file a run writes is checked to be what it writes (``run.json`` and
    ``summary.json`` JSON objects, ``scenario.yaml`` a YAML mapping, ``traces.jsonl`` with
    at least one record), so a damaged or foreign folder is a config error, not a traceback
    from deep in the report. Reads each file's head only where it can.
    """
    if not run_dir.is_dir():
        return [("", "no such folder")]
    problems = []
    for name in ("run.json", "summary.json"):
        path = run_dir / name
        if path.exists() and not isinstance(_json(path), dict):
            problems.append((name, "not a JSON object; remove it, or run again"))
    scenario = run_dir / "scenario.yaml"
    if scenario.exists() and not isinstance(_yaml(scenario), dict | None):
        problems.append(("scenario.yaml", "not a YAML mapping; remove it, or run again"))
    traces = run_dir / "traces.jsonl"
    if traces.exists() and not _has_record(traces):
        problems.append(("traces.jsonl", "holds no trace record (a JSON line of kind attempt "
                         "or request, with its strategy)"))  # fmt: skip
    return problems


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError):
        return []  # not a mapping, nor None


def _has_record(path: Path) -> bool:
    """Whether some line is a trace record; stops at the first (a run's first line is one)."""
    try:
        with open(path, "rb") as fh:
            for line in fh:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if (
                    isinstance(obj, dict)
                    and obj.get("kind") in ("attempt", "request")
                    and isinstance(obj.get("strategy"), str)
                ):
                    return True
    except OSError:
        return False
    return False
