"""The report page: self-contained, strategies as row headers, verdicts, partial runs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from msgspec.structs import replace

from simulator.config import ConfigError
from simulator.report.compare import compare_runs
from simulator.report.html import ReportResult, build_report, format_table
from simulator.report.tables import TERMINAL_WIDTH, alerts
from simulator.traces import TraceRecord

from .test_report_metrics import BASE

STRATEGIES = ["naive", "jitter"]
SCENARIO = """\
name: burst-test
description: A burst <b>against</b> a tight RPM limit.
workload:
  arrivals: {kind: burst, n: 20}
strategies:
  naive: {}
  jitter: {}
thresholds:
  all:
    success_rate: ">= 0.9"
  jitter:
    p95_ttft_ms: "< 1000"
"""


def _records() -> list[TraceRecord]:
    """naive: 20 requests, each 429, 429, then 200 with retries in lockstep; 2 give up.
    jitter: 20 requests, one attempt each, all succeed, one via a fallback model."""
    out = []
    for i in range(20):
        ok = i >= 2
        for a in range(3):
            status = 200 if (a == 2 and ok) else 429
            out.append(
                replace(
                    BASE,
                    strategy="naive",
                    trace_id=f"n{i}",
                    attempt=a + 1,
                    start_t=float(a),
                    t=a + 0.05,
                    status=status,
                    error=None if status == 200 else "rate_limited",
                    remaining_requests=max(0, 10 - i),
                    remaining_tokens=1000,
                    slept_s=1.0 if a else 0.0,
                )
            )
        out.append(
            replace(
                BASE,
                kind="request",
                strategy="naive",
                trace_id=f"n{i}",
                attempt=3,
                start_t=0.0,
                t=2.05,
                success=ok,
                latency_ms=2050.0,
                status=200 if ok else 429,
                error=None if ok else "rate_limited",
                cost_usd=0.001 if ok else 0.0,
                finish_reason="stop" if ok else None,
            )
        )
    for i in range(20):
        start = i * 0.5
        model = "gpt-4o" if i == 0 else "gpt-4o-mini"
        out.append(
            replace(
                BASE, strategy="jitter", trace_id=f"j{i}", start_t=start, t=start + 0.4, model=model
            )
        )
        out.append(
            replace(
                BASE,
                kind="request",
                strategy="jitter",
                trace_id=f"j{i}",
                start_t=start,
                t=start + 0.4,
                success=True,
                latency_ms=400.0,
                ttft_ms=150.0,
                model=model,
                cost_usd=0.001,
                finish_reason="stop",
                fallback_used=model if i == 0 else None,
            )
        )
    return out


def make_run(
    tmp_path: Path, *, partial: bool = False, run_json: bool = True, tail: str = ""
) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    run.joinpath("traces.jsonl").write_text("".join(r.to_json() + "\n" for r in _records()) + tail)
    run.joinpath("scenario.yaml").write_text(SCENARIO)
    if run_json:
        info = {
            "scenario": "burst-test",
            "strategies": STRATEGIES,
            "partial": partial,
            "seed": 1,
            "time_scale": 1.0,
            "started": "2026-05-01T12:00:00Z",
            "duration_s": 10.0,
        }
        run.joinpath("run.json").write_text(json.dumps(info))
    return run


class PageParser(HTMLParser):
    """Collects img sources and, per table, the texts of its row headers."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.tables: list[list[str]] = []
        self.rows_per_table: list[int] = []
        self._in_row_header = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        elif tag == "table":
            self.tables.append([])
            self.rows_per_table.append(0)
        elif tag == "tr" and self.tables:
            self.rows_per_table[-1] += 1
        elif tag == "th" and a.get("scope") == "row":
            self._in_row_header = True
            self.tables[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_row_header = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_row_header:
            self.tables[-1][-1] += data


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """One report shared by the tests that only read it (drawing charts takes a second)."""
    return build_report(make_run(tmp_path_factory.mktemp("built")))


def parse(path: Path) -> PageParser:
    p = PageParser()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def test_report_is_self_contained_and_every_table_has_strategy_rows(built: ReportResult) -> None:
    result = built
    page = parse(result.html_path)
    assert len(page.imgs) >= 6
    assert all(src.startswith("data:image/png;base64,") for src in page.imgs)
    assert len(page.tables) >= 6
    for headers, n_rows in zip(page.tables, page.rows_per_table, strict=True):
        assert headers, "a table without strategy row headers"
        assert set(headers) <= set(STRATEGIES)
        assert len(headers) == n_rows - 1  # every body row is headed by a strategy
    html = result.html_path.read_text()
    assert "<script" not in html and 'src="http' not in html and "<link" not in html
    assert "A burst &lt;b&gt;against&lt;/b&gt;" in html  # the description is escaped
    assert "Partial run" not in html


def test_outputs_on_disk_and_summary_json(built: ReportResult) -> None:
    result = built
    assert set(result.plots) >= {"herd_waves", "latency_cdf", "retry_delays", "fallback_share"}
    assert all(p.exists() and p.parent.name == "plots" for p in result.plots.values())
    summary = json.loads(result.summary_path.read_text())
    assert summary["strategy_order"] == STRATEGIES
    assert summary["strategies"]["naive"]["amplification"] == 3.0
    assert summary["strategies"]["jitter"]["fallback_rate"] == pytest.approx(0.05)
    assert len(summary["verdicts"]) == 3


def test_verdicts_pass_fail_and_missing_ttft(built: ReportResult) -> None:
    result = built
    got = {(v.strategy, v.metric): v.passed for v in result.verdicts}
    assert got == {
        ("naive", "success_rate"): True,  # 18/20 = 0.9 >= 0.9
        ("jitter", "success_rate"): True,
        ("jitter", "p95_ttft_ms"): True,
    }
    assert result.passed
    html = result.html_path.read_text()
    assert html.count('class="pass"') == 3 and 'class="fail"' not in html


def test_bad_threshold_raises_config_error(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    run.joinpath("scenario.yaml").write_text(SCENARIO.replace("success_rate:", "sucess_rate:"))
    with pytest.raises(ConfigError, match="unknown metric 'sucess_rate'"):
        build_report(run)


def test_winner_and_alerts_from_the_data(built: ReportResult) -> None:
    result = built
    s = result.summary
    assert s["winner"]["strategy"] == "jitter" and s["winner"]["runner_up"] == "naive"
    assert s["winner"]["reason"].startswith("highest success rate: 100.0% against 90.0%")
    found = alerts(s, STRATEGIES)
    assert any(a.startswith("naive: error rate 10.0%") for a in found)
    assert not any(a.startswith("jitter") for a in found)
    html = result.html_path.read_text()
    assert "Winner: jitter" in html
    # the page and summary.json say the same thing
    assert json.loads(result.summary_path.read_text())["winner"] == s["winner"]


def test_cost_spike_alert_against_the_baseline() -> None:
    def m(cost: float) -> dict[str, float]:
        return {"error_rate": 0.0, "cost_per_success_usd": cost}

    summary = {"strategies": {"a": m(0.001), "b": m(0.0025), "c": m(0.0019)}}
    assert [x.split(":")[0] for x in alerts(summary, ["a", "b", "c"])] == ["b"]
    assert alerts(summary, ["a", "b", "c"], baseline="b") == []


def test_alert_when_the_fallback_carries_most_successes() -> None:
    def m(fallback: float) -> dict[str, float]:
        return {"error_rate": 0.0, "cost_per_success_usd": 0.001, "fallback_rate": fallback}

    summary = {"strategies": {"a": m(0.75), "b": m(0.4)}}
    (found,) = alerts(summary, ["a", "b"])
    assert found.startswith("a: 75.0% of the successes came from a fallback model")


@pytest.mark.parametrize("how", ["run_json", "torn"])
def test_partial_banner_and_torn_line(tmp_path: Path, how: str) -> None:
    if how == "run_json":
        run = make_run(tmp_path, partial=True)
    else:
        run = make_run(tmp_path, tail='{"kind":"request","trace_id":"j99","t":1')
    result = build_report(run)
    html = result.html_path.read_text()
    assert "Partial run" in html
    assert result.summary["partial"] is True
    assert result.summary["strategies"]["jitter"]["logical_requests"] == 20
    # a run cut short names no winner, in summary.json and on the page
    assert result.summary["winner"] is None
    assert "Winner:" not in html and "No clear winner: partial run" in html


def test_strategies_inferred_without_run_json(tmp_path: Path) -> None:
    result = build_report(make_run(tmp_path, run_json=False))
    assert result.summary["strategy_order"] == ["naive", "jitter"]


def test_format_table_has_one_row_per_strategy(built: ReportResult) -> None:
    result = built
    lines = format_table(result.summary, STRATEGIES, result.ranking).splitlines()
    assert lines[0].split()[0] == "strategy"
    assert [ln.split()[0] for ln in lines[2:4]] == STRATEGIES
    assert "300.00×" not in lines[2] and "3.00×" in lines[2]
    assert "90.0%" in lines[2] and "100.0%" in lines[3]
    # naive is below the floor, so nothing of it is starred (it cannot win by failing fast)
    assert "*" not in lines[2]
    assert any(line.startswith("Winner: jitter") for line in lines)
    assert max(len(line) for line in lines) <= TERMINAL_WIDTH


def test_compare_runs_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = build_report(make_run(tmp_path / "a"))
    two = build_report(make_run(tmp_path / "b"))
    out = tmp_path / "compare.html"
    text = compare_runs(one.run_dir, two.run_dir, out)
    rows = text.splitlines()
    assert "warning" not in text  # same scenario, seed and duration
    amp = next(r for r in rows if r.startswith("naive"))
    assert "success rate" in amp and "90.0% →         90.0%  same" in amp
    assert max(len(r) for r in rows) <= TERMINAL_WIDTH
    page = parse(out)
    assert page.tables == [STRATEGIES]


def test_compare_warns_when_settings_differ_and_marks_changes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = build_report(make_run(tmp_path / "a"))
    run_b = make_run(tmp_path / "b")
    info = json.loads((run_b / "run.json").read_text())
    (run_b / "run.json").write_text(json.dumps({**info, "seed": 2, "duration_s": 20.0}))
    # in B, naive loses 5 requests instead of 2: worse beyond noise
    lines = (run_b / "traces.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    for r in recs:
        if (
            r["kind"] == "request"
            and r["strategy"] == "naive"
            and r["trace_id"] in ("n2", "n3", "n4")
        ):
            r["success"] = False
    (run_b / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    two = build_report(run_b)
    text = compare_runs(one.run_dir, two.run_dir, tmp_path / "c.html")
    assert "warning: the runs differ in seed 1 → 2, duration_s 10.0 → 20.0" in text
    naive = next(r for r in text.splitlines() if r.startswith("naive"))
    assert naive.rstrip().endswith("worse")
    html = (tmp_path / "c.html").read_text()
    assert 'class="worse"' in html and "the runs differ" in html


def test_live_timing_and_run_warnings_are_on_the_page(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    info = json.loads((run / "run.json").read_text())
    spread = {"p50": 5.0, "p95": 9.0, "max": 12.0}
    slow = {"p50": 45.0, "p95": 90.0, "max": 120.0}
    info["timing"] = {
        "statistic": "p50",
        "bound_ms": 20.0,
        "strategies": {
            "naive": {"mock_ms": spread, "lag_ms": slow, "excess_ms": slow},
            "jitter": {"mock_ms": spread, "lag_ms": spread, "excess_ms": spread},
        },
    }
    info["warnings"] = [{"source": "timing", "message": "naive: live timing drifted"}]
    info["preflight"] = [{"level": "warning", "field": "provider.models.x", "message": "no rpm"}]
    (run / "run.json").write_text(json.dumps(info))
    html = build_report(run).html_path.read_text()
    assert "<h2>Live timing</h2>" in html
    assert html.count('class="worse"') == 2  # naive's lag and excess are past the 20 ms bound
    assert "naive: live timing drifted" in html and "provider.models.x: no rpm" in html
    # the warnings come before the verdict: the first screen
    assert html.index("Read before the numbers") < html.index('class="winner"')


def test_a_burst_run_shows_the_best_any_client_could_do(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    scenario = SCENARIO + "provider:\n  models:\n    gpt-4o-mini: {rpm: 12}\n"
    run.joinpath("scenario.yaml").write_text(scenario)
    result = build_report(run)
    optimum = result.summary["optimum"]
    # 20 at once on 12 RPM: 12 in, the other 8 at one every 5 s; p95: the 19th, 7 after
    assert (optimum["makespan_s"], optimum["p95_latency_ms"]) == (40.0, 35_000.0)
    eff = optimum["efficiency"]
    assert eff["naive"] == {"makespan": None, "p95": None}  # gave up on 2: not comparable
    assert eff["jitter"]["p95"] == pytest.approx(35_000.0 / 400.0)
    assert "The best any client could do" in result.html_path.read_text()
