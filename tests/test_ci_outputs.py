"""What a CI job reads from a run: --junit, --summary-json and summary.csv."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
import yaml

from simulator.cli import main
from simulator.reference.starter import STARTER
from simulator.report.metrics import METRICS

JUNIT_XSD = Path(__file__).parent / "data" / "junit-jenkins.xsd"


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The starter, shortened, with one threshold that holds and one that cannot."""
    folder = tmp_path_factory.mktemp("ci")
    data = yaml.safe_load(STARTER)
    data["name"], data["duration"], data["drain"] = "gated", 40, 40
    data["thresholds"] = {
        "full_jitter": {"success_rate": ">= 0.5", "amplification": "< 0.5"},
    }
    scenario = folder / "gated.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = folder / "run"
    junit = folder / "junit" / "report.xml"
    args = ["run", str(scenario), "--virtual", "--out", str(out), "--junit", str(junit)]
    return {"status": main(args), "out": out, "junit": junit, "scenario": scenario}


def test_junit_validates_and_names_the_measured_value(gated_run: dict) -> None:
    assert gated_run["status"] == 1  # amplification < 0.5 cannot hold
    xml = gated_run["junit"].read_text()
    xmlschema.XMLSchema(JUNIT_XSD).validate(xml)
    root = ET.fromstring(xml)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"gated.naive", "gated.full_jitter"}
    cases = {c.get("name"): c for c in suites["gated.full_jitter"].iter("testcase")}
    assert set(cases) == {"success_rate >= 0.5", "amplification < 0.5"}
    assert cases["success_rate >= 0.5"].find("failure") is None
    failure = cases["amplification < 0.5"].find("failure")
    assert failure is not None
    summary = json.loads((gated_run["out"] / "summary.json").read_text())
    measured = summary["strategies"]["full_jitter"]["amplification"]
    assert f"actual {measured:.2f}×" in failure.get("message", "")
    assert root.get("failures") == "1" and suites["gated.full_jitter"].get("failures") == "1"
    # A strategy without thresholds still shows up, as one passing case.
    assert [c.get("name") for c in suites["gated.naive"].iter("testcase")] == ["ran"]


def test_summary_csv_has_one_row_per_strategy_and_every_metric(gated_run: dict) -> None:
    summary = json.loads((gated_run["out"] / "summary.json").read_text())
    with open(gated_run["out"] / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["strategy"] for r in rows] == list(summary["strategies"])
    assert list(rows[0]) == ["strategy", *METRICS]
    for row in rows:
        values = summary["strategies"][row["strategy"]]
        for metric in METRICS:
            expected = values[metric]
            if expected is None:
                assert row[metric] == ""
            else:
                assert float(row[metric]) == pytest.approx(expected)


def test_summary_json_on_stdout_is_the_only_stdout(
    gated_run: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status = main(["report", str(gated_run["out"]), "--summary-json", "-"])
    captured = capsys.readouterr()
    assert status == 1
    parsed = json.loads(captured.out)  # nothing else on stdout
    on_disk = json.loads((gated_run["out"] / "summary.json").read_text())
    assert parsed["strategies"] == on_disk["strategies"]
    assert [v["passed"] for v in parsed["verdicts"]] == [True, False]
    assert "Thresholds:" in captured.err  # the table a person reads went to stderr


def test_an_unwritable_junit_path_is_a_run_error(gated_run: dict, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", str(gated_run["out"]), "--junit", str(blocker / "x.xml")]) == 3
