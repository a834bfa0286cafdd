"""What every run folder holds, however it was run: the effective scenario, and how a run
that cannot finish says so.

``scenario.yaml`` is the scenario with the command line's overrides applied: what the drivers
run, and what ``stampede report`` reads back (thresholds, objective, limits). Only the fields
the file gave are written: a full dump would set fields a kind ignores, which are errors.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.config import Scenario

__all__ = ["Interrupted", "RunError", "write_scenario"]


class RunError(Exception):
    """The run could not go on (mock did not start, Locust failed): exit status 3."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stopped, every record kept, a partial summary written (exit 130)."""


def write_scenario(sc: Scenario, run_dir: Path) -> None:
    data = sc.model_dump(mode="json", exclude_unset=True)  # re-validates: no ignored fields
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
