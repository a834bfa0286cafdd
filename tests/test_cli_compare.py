"""``stampede compare``: a live run against a virtual one is flagged, a full tie is said."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.cli import main
from simulator.config import Scenario
from simulator.live.orchestrate import LiveRun
from simulator.report.compare import compare_runs
from simulator.report.html import build_report
from tests.test_report_html import make_run


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    return make_run(tmp_path / "a"), make_run(tmp_path / "b")


def _set_mode(run: Path, mode: str | None) -> None:
    info = json.loads((run / "run.json").read_text())
    info.pop("mode", None)
    if mode is not None:
        info["mode"] = mode
    (run / "run.json").write_text(json.dumps(info))


def test_a_live_run_against_a_virtual_one_is_flagged(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    _set_mode(a, "live")
    _set_mode(b, "virtual")
    text = compare_runs(a, b, tmp_path / "c.html")
    flat = " ".join(text.split())
    assert "warning: A is a live run and B a virtual one" in flat
    assert "A is a live run and B a virtual one" in (tmp_path / "c.html").read_text()


def test_same_mode_and_old_folders_without_mode_compare_without_the_warning(
    tmp_path: Path,
) -> None:
    a, b = _runs(tmp_path)
    _set_mode(a, "virtual")
    _set_mode(b, "virtual")
    assert "live run" not in compare_runs(a, b, tmp_path / "c.html")
    _set_mode(a, None)  # written before run.json had a mode
    _set_mode(b, "live")
    text = compare_runs(a, b, tmp_path / "d.html")
    assert "warning" not in text
    assert "naive" in text  # the table is there


def test_every_metric_tied_says_so(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    build_report(a)
    build_report(b)
    text = compare_runs(a, b, tmp_path / "c.html")
    assert "Every metric ties: no strategy is better or worse in B beyond noise." in text
    assert "Every metric ties" in (tmp_path / "c.html").read_text()


def test_a_change_beyond_noise_is_not_called_a_tie(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    recs = [json.loads(x) for x in (b / "traces.jsonl").read_text().splitlines()]
    for r in recs:  # naive loses five more requests in B
        if r["kind"] == "request" and r["strategy"] == "naive" and r["trace_id"] in (
            "n2", "n3", "n4", "n5", "n6",
        ):  # fmt: skip
            r["success"] = False
    (b / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    text = compare_runs(a, b, tmp_path / "c.html")
    assert "worse" in text
    assert "Every metric ties" not in text


def test_the_cli_compares_two_virtual_runs(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.html")]) == 0
    assert (tmp_path / "c.html").exists()


def test_a_live_run_json_says_live(tmp_path: Path) -> None:
    sc = Scenario.model_validate(
        {"name": "t", "workload": {"arrivals": {"kind": "burst", "n": 1}}, "strategies": {"a": {}}}
    )
    tmp_path.joinpath("run").mkdir()
    LiveRun(sc, tmp_path / "run", ["a"]).write_run_info("2026-01-01T00:00:00Z")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["mode"] == "live"


def test_a_virtual_run_json_says_virtual(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\nduration: 5\ndrain: 5\nworkload: {arrivals: {kind: burst, n: 2}}\n"
        "strategies: {a: {}}\n"
    )
    out = tmp_path / "run"
    assert main(["run", str(path), "--virtual", "--out", str(out)]) in (0, 1)
    assert json.loads((out / "run.json").read_text())["mode"] == "virtual"
