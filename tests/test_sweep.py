"""``stampede sweep``: the grid, the runs on every executor, and what the rows say."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.cli import main
from simulator.config import load_scenario
from simulator.report.metrics import METRICS
from simulator.report.thresholds import parse_thresholds
from simulator.sweep.grid import Axis, parse_vary, point_scenario, points, set_path
from simulator.sweep.outcome import (
    best_cell,
    breaking_points,
    cells_of,
    judges_of,
    reference_check,
)
from simulator.virtual.measure import measure

ROOT = Path(__file__).resolve().parent.parent

# A burst against a 20 RPM limit: the naive client gives up as the burst grows, the jittered
# one holds longer; small enough that 18 runs take seconds.
HERD = {
    "name": "small_herd",
    "seed": 7,
    "duration": 5,
    "drain": 120,
    "provider": {
        "models": {"gpt-4o-mini": {"rpm": 20, "tpm": 2000000}},
        "output_tokens": {"median": 80, "spread": 0.3},
    },
    "workload": {
        "model": "gpt-4o-mini",
        "arrivals": {"kind": "burst", "n": 20, "at": 0},
        "prompts": {"input_tokens": {"median": 300, "spread": 0.3}, "max_tokens": 128},
    },
    "strategies": {
        "naive": {"retry": {"kind": "immediate", "max_attempts": 5}},
        "jitter": {"retry": {"kind": "full_jitter", "base_s": 1, "cap_s": 30, "max_attempts": 8}},
    },
    "thresholds": {"all": {"success_rate": ">= 0.95"}},
}
VARY = ["workload.arrivals.n=20,40,60", "strategies.jitter.retry.base_s=0.5,1,2"]


def write_scenario(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep(scenario: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(scenario), "--out", str(out), *extra])


def read_rows(out: Path) -> list[dict[str, str]]:
    with (out / "sweep.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def herd_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str]:
    """The 3 x 3 grid with 2 seeds, on two local processes."""
    tmp = tmp_path_factory.mktemp("sweep")
    scenario = write_scenario(tmp, HERD)
    out = tmp / "local"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = sweep(scenario, out, *(a for v in VARY for a in ("--vary", v)), "--seeds",
                       "2", "--jobs", "2")  # fmt: skip
    return scenario, out, status, printed.getvalue()


# --------------------------------------------------------------------------- the grid


def test_vary_reads_a_dotted_path_and_yaml_values() -> None:
    axis = parse_vary("strategies.jitter.retry.base_s=0.5, 1,2s")
    assert axis == Axis("strategies.jitter.retry.base_s", (0.5, 1, "2s"))
    assert axis.label == "retry.base_s"
    for bad in ("workload.arrivals.n", "=1,2", "workload.arrivals.n=", "a.b=1,1"):
        with pytest.raises(ValueError):
            parse_vary(bad)
    grid = points([Axis("a", (1, 2)), Axis("b", ("x", "y", "z"))])
    assert len(grid) == 6 and grid[0] == (("a", 1), ("b", "x")) and grid[3][0] == ("a", 2)
    data: dict[str, Any] = {"w": {"arrivals": [{"rate": 1}, {"rate": 2}]}}
    set_path(data, "w.arrivals.1.rate", 5)
    set_path(data, "w.new.leaf", 3)
    assert data["w"]["arrivals"][1]["rate"] == 5 and data["w"]["new"] == {"leaf": 3}
    with pytest.raises(KeyError, match=r"w\.arrivals\.2"):
        set_path(data, "w.arrivals.2.rate", 1)
    with pytest.raises(KeyError, match="is a value"):
        set_path(data, "w.new.leaf.deeper", 1)


def test_a_point_is_the_file_with_each_path_set_and_its_seed(tmp_path: Path) -> None:
    sc = point_scenario(HERD, (("workload.arrivals.n", 40),
                               ("strategies.jitter.retry.base_s", 2)), 9, "f.yaml")  # fmt: skip
    assert sc.workload.arrivals.n == 40  # type: ignore[union-attr]
    assert sc.strategies["jitter"].retry.base_s == 2
    assert sc.seed == 9 and sc.mock_config.seed == 9
    assert HERD["workload"]["arrivals"]["n"] == 20  # type: ignore[index]  # not changed


def test_bad_axes_are_config_errors_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path, HERD)
    cases = {
        "strategies.jittr.retry.base_s=1,2": "no strategy named 'jittr'",
        "strategies.jitter.retry.base_s=-1,1": "base_s=-1",
        "workload.arrivals.n.x=1,2": "is a value",
        "seed=1,2": "--seeds",
    }
    for vary, said in cases.items():
        out = tmp_path / "out"
        assert sweep(scenario, out, "--vary", vary) == 2, vary
        err = capsys.readouterr().err
        assert str(scenario) in err and said in err, (vary, err)
        assert not out.exists()
    assert sweep(scenario, tmp_path / "o", "--vary", "workload.arrivals.n=5",
                 "--executor", "tcp://x:1") == 2  # fmt: skip
    assert "dask://HOST:PORT" in capsys.readouterr().err
    assert sweep(scenario, tmp_path / "o") == 2  # nothing to vary
    assert "nothing to vary" in capsys.readouterr().err
    app = ROOT / "scenarios" / "my_app.yaml"  # the user's own code runs only live
    assert sweep(app, tmp_path / "o", "--vary", "workload.arrivals.rate=1,2") == 2
    assert "strategies.my_app: an app strategy runs only live" in capsys.readouterr().err


# --------------------------------------------------------------------------- a whole sweep


def test_a_3x3_sweep_with_2_seeds_writes_rows_charts_and_breaking_points(
    herd_sweep: tuple[Path, Path, int, str],
) -> None:
    scenario, out, status, printed = herd_sweep
    rows = read_rows(out)
    assert len(rows) == 3 * 3 * 2 * 2  # points x seeds x strategies
    assert list(rows[0])[:4] == ["workload.arrivals.n", "strategies.jitter.retry.base_s",
                                 "seed", "strategy"]  # fmt: skip
    assert set(METRICS) <= set(rows[0])
    assert {r["seed"] for r in rows} == {"7", "8"}
    # a row is the virtual run of its point, number for number
    sc = point_scenario(yaml.safe_load(scenario.read_text()),
                        (("workload.arrivals.n", 40), ("strategies.jitter.retry.base_s", 1)),
                        8, str(scenario))  # fmt: skip
    direct = measure(sc)["jitter"]
    row = next(r for r in rows if r["workload.arrivals.n"] == "40"
               and r["strategies.jitter.retry.base_s"] == "1" and r["seed"] == "8"
               and r["strategy"] == "jitter")  # fmt: skip
    assert int(row["attempts"]) == direct["attempts"]
    assert float(row["p95_latency_ms"]) == direct["p95_latency_ms"]
    for name in ["lines", *(f"heatmap_{m}" for m in ("success_rate", "p95_latency_ms",
                                                      "amplification", "cost_usd"))]:  # fmt: skip
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    found = json.loads((out / "sweep.json").read_text())
    breaks = {b["strategy"]: b for b in found["breaking_points"]}
    assert breaks["naive"]["breaks_at"] in (40, 60)  # 5 immediate tries cannot wait out 20 RPM
    assert breaks["naive"]["failures"][0].startswith("success_rate >= 0.95")
    assert "breaking points along workload.arrivals.n:" in printed
    assert re.search(r"\[18/18\] .* ETA 0\.0 s", printed)
    assert "sweep.csv" in (out / "sweep.html").read_text()
    # the best setting holds at every n; it is reported at the heaviest
    best = found["best"]
    if best is None:
        assert status == 1
    else:
        assert status == 0 and best["point"]["workload.arrivals.n"] == 60
        assert not best["failures"]


def test_the_same_sweep_on_a_dask_cluster_gives_identical_rows(
    herd_sweep: tuple[Path, Path, int, str], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    scenario, local, status, _ = herd_sweep
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        out = tmp_path / "dask"
        argv = [a for v in VARY for a in ("--vary", v)]
        assert sweep(scenario, out, *argv, "--seeds", "2", "--executor", address) == status
    assert (out / "sweep.csv").read_text() == (local / "sweep.csv").read_text()


def test_ctrl_c_keeps_the_finished_runs_rows_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.sweep import run as sweep_run

    original = sweep_run.Progress.__call__

    def stop_after_two(self: sweep_run.Progress, job: Any, rows: Any) -> None:
        original(self, job, rows)
        if self.done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_run.Progress, "__call__", stop_after_two)
    scenario = write_scenario(tmp_path, HERD)
    out = tmp_path / "out"
    assert sweep(scenario, out, "--vary", "workload.arrivals.n=20,40,60", "--jobs", "1") == 130
    assert "interrupted after 2 of 3 runs" in capsys.readouterr().out
    rows = read_rows(out)
    assert [(r["workload.arrivals.n"], r["strategy"]) for r in rows] == [
        ("20", "naive"), ("20", "jitter"), ("40", "naive"), ("40", "jitter")
    ]  # fmt: skip
    assert not (out / "sweep.json").exists() and not (out / "lines.png").exists()


# --------------------------------------------------------------------------- the rules


def _row(n: int, strategy: str, seed: int, success: float, p95: float) -> dict[str, Any]:
    return {"workload.arrivals.n": n, "seed": seed, "strategy": strategy,
            "success_rate": success, "p95_latency_ms": p95, "amplification": 1.0}  # fmt: skip


def test_a_setting_holds_on_every_seed_and_breaks_at_the_first_failing_load() -> None:
    axes = [Axis("workload.arrivals.n", (30, 10, 20))]  # out of order on purpose
    rows = [
        _row(10, "a", 1, 1.0, 100), _row(10, "a", 2, 1.0, 120),
        _row(20, "a", 1, 1.0, 200), _row(20, "a", 2, 0.9, 150),  # one seed fails
        _row(30, "a", 1, 1.0, 300), _row(30, "a", 2, 1.0, 300),
        _row(10, "b", 1, 1.0, 500), _row(10, "b", 2, 1.0, 500),
        _row(20, "b", 1, 1.0, 600), _row(20, "b", 2, 1.0, 600),
        _row(30, "b", 1, 0.5, 900), _row(30, "b", 2, 0.5, 900),
        _row(10, "c", 1, 1.0, 900), _row(10, "c", 2, 1.0, 900),
        _row(20, "c", 1, 1.0, 900), _row(20, "c", 2, 1.0, 900),
        _row(30, "c", 1, 1.0, 990), _row(30, "c", 2, 1.0, 990),
    ]  # fmt: skip
    judges = {s: parse_thresholds({"all": {"success_rate": ">= 0.95"}}, [s]) for s in "abc"}
    cells = cells_of(rows, axes, judges)
    a20 = next(c for c in cells if c.strategy == "a" and c.value("workload.arrivals.n") == 20)
    assert not a20.holds and "seed 2" in a20.failures[0]
    assert a20.mean["p95_latency_ms"] == 175 and a20.low["p95_latency_ms"] == 150
    breaks = {b.strategy: b for b in breaking_points(cells, axes)}
    assert (breaks["a"].breaks_at, breaks["a"].last_held) == (20, 10)
    assert (breaks["b"].breaks_at, breaks["b"].last_held) == (30, 20)
    assert breaks["c"].breaks_at is None and "holds throughout" in breaks["c"].describe()
    # the load is the condition: only c holds at every n, however fast a and b are at n=10
    best = best_cell(cells, axes, ["p95_latency_ms"])
    assert best is not None and (best.strategy, best.value("workload.arrivals.n")) == ("c", 30)
    # without a load axis, every cell is a setting to pick from
    settings = [Axis("strategies.a.retry.base_s", (1, 2))]
    rows2 = [{**r, "strategies.a.retry.base_s": r["workload.arrivals.n"] // 10}
             for r in rows if r["workload.arrivals.n"] in (10, 20)]  # fmt: skip
    best2 = best_cell(cells_of(rows2, settings, judges), settings, ["p95_latency_ms"])
    assert best2 is not None and best2.strategy == "a" and best2.mean["p95_latency_ms"] == 110


def test_a_strategy_without_thresholds_is_held_to_the_objectives_floor() -> None:
    herd = load_scenario(ROOT / "scenarios" / "thundering_herd.yaml")
    judges, floored = judges_of(herd)
    assert floored == ["naive", "exponential", "retry_after"]  # the file gates only two
    assert [(t.metric, t.expression) for t in judges["naive"]] == [("success_rate", ">= 0.95")]
    assert {t.metric for t in judges["full_jitter"]} == {"success_rate", "amplification",
                                                          "p95_latency_ms"}  # fmt: skip
    study = load_scenario(ROOT / "scenarios" / "backoff_study.yaml")
    bare = study.model_copy(update={"thresholds": {}})
    assert [t.metric for t in judges_of(bare)[0]["full"]] == ["amplification"]  # its floor
    no_objective = bare.model_copy(update={"objective": None})
    assert [t.expression for t in judges_of(no_objective)[0]["full"]] == [">= 0.95"]


def test_the_reference_check_compares_orderings_metric_by_metric() -> None:
    from simulator.config import SweepReference

    axes = [Axis("workload.arrivals.n", (100,))]
    runs = (("x", 10, 3.0), ("y", 20, 1.0), ("z", 30, 2.0))
    rows = [{"workload.arrivals.n": 100, "seed": 1, "strategy": s, "attempts": a,
             "makespan_s": m} for s, a, m in runs]  # fmt: skip
    cells = cells_of(rows, axes, {})
    ref = SweepReference(source="s", at={"workload.arrivals.n": 100},
                         strategies={"x": {"attempts": 1, "makespan_s": 1},
                                     "y": {"attempts": 2, "makespan_s": 2},
                                     "z": {"attempts": 3, "makespan_s": 3}})  # fmt: skip
    by = {c.metric: c for c in reference_check(cells, ref)}
    assert by["attempts"].same and by["attempts"].ours == ("x", "y", "z")
    assert not by["makespan_s"].same and by["makespan_s"].ours == ("y", "z", "x")
    assert "NOT reproduced" in by["makespan_s"].describe()


# --------------------------------------------------------------------------- Brooker's study


def test_backoff_study_reproduces_brookers_ordering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = ROOT / "scenarios" / "backoff_study.yaml"
    sc = load_scenario(study)
    assert sc.sweep is not None and sc.sweep.vary["workload.arrivals.n"][0] == 10
    # the reference point only (the file's 10 seeds), to keep the test short
    out = tmp_path / "study"
    sweep(study, out, "--vary", "workload.arrivals.n=100", "--jobs", "2")
    printed = capsys.readouterr().out
    found = json.loads((out / "sweep.json").read_text())
    checks = {c["metric"]: c for c in found["reference"]}
    assert checks["attempts"]["ours"] == ["full", "equal", "decorrelated", "exponential"]
    assert checks["makespan_s"]["ours"] == ["decorrelated", "full", "equal", "exponential"]
    assert all(c["same"] for c in checks.values())
    page = (out / "sweep.html").read_text()
    assert page.count("reproduced: theirs") == 2 and "NOT reproduced" not in page
    assert "attempts: reproduced" in printed and "makespan_s: reproduced" in printed
    rows = read_rows(out)
    calls = {s: sum(int(r["attempts"]) for r in rows if r["strategy"] == s) for s in sc.strategies}
    assert calls["none"] == max(calls.values())  # no backoff makes the most calls of all
