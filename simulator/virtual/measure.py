"""A scenario's summary metrics from a virtual run, with no run folder left behind.

For callers that want the numbers of many runs rather than the runs (a sweep's grid points):
the same :func:`~simulator.virtual.run.run_strategy` as ``stampede run --virtual``, its traces
written to a temporary file and read back by the report's own loader, so every number is the
one :func:`simulator.report.metrics.summarize` defines. Deterministic for a scenario and seed,
whichever process runs it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from simulator.config import Scenario
from simulator.report.metrics import REPORT_COLUMNS, load_traces, summarize
from simulator.traces import TraceWriter
from simulator.virtual.driver import VirtualDriver
from simulator.virtual.run import run_strategy

__all__ = ["measure"]


def measure(sc: Scenario) -> dict[str, dict[str, Any]]:
    """Run every strategy of ``sc`` virtually: strategy -> metric -> value (JSON-safe)."""
    drivers: list[VirtualDriver] = []
    with tempfile.TemporaryDirectory(prefix="stampede-") as tmp:
        path = Path(tmp) / "traces.jsonl"
        with TraceWriter(path) as writer:
            for name in sc.strategies:
                run_strategy(sc, name, writer, drivers)
        frame = load_traces(path, REPORT_COLUMNS)
    strategies: dict[str, dict[str, Any]] = summarize(frame, list(sc.strategies))["strategies"]
    return strategies
