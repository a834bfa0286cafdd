"""What a CI system reads from a run: JUnit XML, ``summary.csv``, the summary as JSON.

**JUnit XML** (``stampede run --junit FILE``): one ``<testsuite>`` per strategy, one
``<testcase>`` per threshold on it, named ``<metric> <expression>``; a threshold that failed
is a ``<failure>`` whose message gives the measured value, so a CI page shows "success_rate
>= 0.99: actual 93.2%" without opening the report. A strategy with no threshold gets one
test case, ``ran``, so that every strategy shows up. The layout is the one Jenkins' JUnit
schema (``junit-10.xsd``, the schema GitLab, GitHub Actions' reporters and Azure Pipelines
read too) accepts; ``tests/test_ci_outputs.py`` validates against it. It is written with the
standard library's ``xml.etree``: a few elements, escaped for us, need no dependency.

**summary.csv**: one row per strategy, one column per metric of
:data:`simulator.report.metrics.METRICS`, in that order, empty where a metric has no value.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.report.metrics import METRICS
from simulator.report.thresholds import Verdict
from simulator.report.units import format_value

__all__ = ["junit_xml", "summary_csv", "summary_json"]


def junit_xml(
    summary: Mapping[str, Any], verdicts: Sequence[Verdict], run_name: str, elapsed_s: float = 0.0
) -> str:
    """The run's thresholds as JUnit XML (see the module docstring)."""
    strategies = list(summary.get("strategies", {}))
    root = ET.Element("testsuites", name=f"stampede {run_name}")
    total = failed = 0
    for strategy in strategies:
        mine = [v for v in verdicts if v.strategy == strategy]
        suite = ET.SubElement(root, "testsuite", name=f"{run_name}.{strategy}")
        suite.set("tests", str(max(len(mine), 1)))
        suite.set("failures", str(sum(not v.passed for v in mine)))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        suite.set("time", "0")
        if not mine:
            ET.SubElement(suite, "testcase", name="ran", classname=f"{run_name}.{strategy}")
        for v in mine:
            case = ET.SubElement(suite, "testcase", name=f"{v.metric} {v.expression}")
            case.set("classname", f"{run_name}.{strategy}")
            case.set("time", "0")
            if not v.passed:
                actual = "no value" if v.actual is None else format_value(v.metric, v.actual)
                note = f" ({v.note})" if v.note else ""
                failure = ET.SubElement(case, "failure", type="threshold")
                failure.set("message", f"{v.metric} {v.expression}: actual {actual}{note}")
                failure.text = failure.get("message")
        total += max(len(mine), 1)
        failed += sum(not v.passed for v in mine)
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("errors", "0")
    root.set("time", f"{elapsed_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def summary_csv(summary: Mapping[str, Any]) -> str:
    """One row per strategy, one column per metric (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["strategy", *METRICS])
    for strategy, values in summary.get("strategies", {}).items():
        row = [values.get(m) for m in METRICS]
        writer.writerow([strategy, *("" if v is None else v for v in row)])
    return buffer.getvalue()


def summary_json(summary: Mapping[str, Any], verdicts: Sequence[Verdict]) -> str:
    """The summary as ``summary.json`` holds it, verdicts included, for ``--summary-json``."""
    from dataclasses import asdict

    return json.dumps({**summary, "verdicts": [asdict(v) for v in verdicts]}, indent=1)
