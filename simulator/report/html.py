"""One self-contained ``report.html`` per run: verdicts, comparison, winner, charts, dashboards.

:func:`build_report` is the report pipeline: load traces, :func:`~metrics.summarize`, judge
thresholds, draw charts, write ``summary.json``, ``plots/*.png`` and ``report.html``. The page
embeds its images as data URIs and its CSS inline, so it can be mailed or opened offline; it
needs no JavaScript. Every table has one row per strategy, headed by the strategy's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import yaml

from simulator.report.ci_outputs import summary_csv
from simulator.report.faults import fault_counts, faults_section
from simulator.report.metrics import (
    REPORT_COLUMNS,
    load_traces,
    strategies_in_order,
    summarize,
)
from simulator.report.optimum import burst_optimum, efficiencies
from simulator.report.page_parts import (
    CSS,
    comparison_table,
    dashboards,
    embedded_png,
    metric_definitions,
    optimum_section,
    timing_section,
    verdict_table,
)
from simulator.report.plots import render_all
from simulator.report.tables import alerts, format_table
from simulator.report.thresholds import Verdict, evaluate, parse_thresholds
from simulator.report.verdict import Ranking, parse_objective, rank, verdict_lines, winner_record

__all__ = [
    "ReportResult",
    "build_report",
    "format_table",
    "read_run_info",
    "render_page",
    "run_warnings",
]

PLOT_TITLES = {
    "herd_waves": "Retry waves: attempts per second by outcome",
    "latency_cdf": "Latency distribution",
    "amplification_giveups": "Amplification and give-ups",
    "fallback_share": "Fallback: which model served the successes",
    "ttft_distribution": "Time to first token, from each request's start",
    "cost_per_success": "Cost per success, per 1,000 requests, and cache hits",
    "limiter_view": "Rate-limiter headroom",
    "retry_delays": "Retry delays",
}
NO_PLOT = {
    "fallback_share": "No fallback: every successful request was served by one model.",
    "ttft_distribution": "No TTFT recorded (no request succeeded).",
    "limiter_view": "No attempt carried rate-limit headers.",
    "retry_delays": "No retries happened.",
}


@dataclass(frozen=True, slots=True)
class ReportResult:
    run_dir: Path
    html_path: Path
    summary_path: Path
    plots: dict[str, Path]
    verdicts: list[Verdict]
    summary: dict[str, Any] = field(repr=False)
    ranking: Ranking | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def read_run_info(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(run.json, scenario mapping, scenario YAML text); missing files give empty values."""
    run_json = run_dir / "run.json"
    info = json.loads(run_json.read_text()) if run_json.exists() else {}
    scenario_file = run_dir / "scenario.yaml"
    text = scenario_file.read_text() if scenario_file.exists() else ""
    scenario = yaml.safe_load(text) if text else {}
    return info, scenario if isinstance(scenario, dict) else {}, text


def run_warnings(info: Mapping[str, Any]) -> list[str]:
    """What the run itself warned about (``run.json``): the pre-flight check and the timing."""
    out = [
        f"{w.get('field') or 'scenario'}: {w.get('message')}"
        for w in info.get("preflight") or []
        if w.get("level") in ("warning", "error")
    ]
    out += [str(w.get("message")) for w in info.get("warnings") or []]
    return out


def _torn(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


def build_report(run_dir: str | Path) -> ReportResult:
    """Write ``summary.json``, ``plots/*.png`` and ``report.html`` into ``run_dir``.

    Raises ``simulator.config.ConfigError`` when the scenario's thresholds or objective name
    an unknown metric or cannot be parsed.
    """
    run_dir = Path(run_dir)
    info, scenario, scenario_text = read_run_info(run_dir)
    traces = run_dir / "traces.jsonl"
    df = load_traces(traces, REPORT_COLUMNS)
    planned = list(info.get("strategies") or strategies_in_order(df))
    partial = bool(info.get("partial")) or _torn(traces)
    # An interrupted run reports the strategies that ran; the rest are listed, not judged.
    ran = set(strategies_in_order(df))
    strategies = [s for s in planned if s in ran] if partial else planned
    wanted = {
        k: v
        for k, v in (scenario.get("thresholds") or {}).items()
        if k == "all" or k in strategies or not partial
    }
    scenario_file = str(run_dir / "scenario.yaml")
    thresholds = parse_thresholds(wanted, strategies, scenario_file)
    objective = parse_objective(scenario.get("objective"), scenario_file)
    summary = summarize(df, strategies, partial=partial)
    summary["not_run"] = [s for s in planned if s not in strategies]
    summary["streaming"] = {
        s: bool(((scenario.get("strategies") or {}).get(s) or {}).get("stream")) for s in strategies
    }
    ranking = rank(summary, strategies, objective)
    summary["objective"] = objective.as_dict()
    summary["winner"] = winner_record(ranking)
    summary["verdict"] = verdict_lines(summary, ranking)
    optimum = burst_optimum(scenario)
    if optimum is not None:
        summary["optimum"] = {
            **optimum.as_dict(),
            "efficiency": efficiencies(optimum, summary, strategies),
        }
    verdicts = evaluate(thresholds, summary)
    plots = render_all(df, strategies, run_dir / "plots", summary, scenario)
    summary["faults"] = fault_counts(df, strategies)
    chaos = faults_section(df, strategies)
    del df
    summary_path = run_dir / "summary.json"
    summary_path.write_text(
        json.dumps({**summary, "verdicts": [asdict(v) for v in verdicts]}, indent=1)
    )
    (run_dir / "summary.csv").write_text(summary_csv(summary), encoding="utf-8")
    page = render_page(run_dir, info, scenario, scenario_text, strategies, summary, verdicts, plots,
                 ranking, extra=chaos)  # fmt: skip
    html_path = run_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportResult(
        run_dir,
        html_path,
        summary_path,
        {k: p for k, p in plots.items() if p is not None},
        verdicts,
        summary,
        ranking,
    )


def render_page(
    run_dir: Path,
    info: Mapping[str, Any],
    scenario: Mapping[str, Any],
    scenario_text: str,
    strategies: Sequence[str],
    summary: Mapping[str, Any],
    verdicts: Sequence[Verdict],
    plots: Mapping[str, Path | None],
    ranking: Ranking,
    extra: str = "",
    charts_note: str = "",
) -> str:
    """The whole page; ``extra`` (HTML) goes after the alerts, ``charts_note`` above the
    charts (a repeated run's top page uses both)."""
    name = str(scenario.get("name") or info.get("scenario") or run_dir.name)
    baseline = scenario.get("baseline") or (strategies[0] if strategies else None)
    facts = ", ".join(
        f"{k} {info[k]}"
        for k in ("mode", "seed", "seeds", "time_scale", "started", "duration_s")
        if info.get(k) is not None
    )
    body = [f"<h1>llm-stampede report: {escape(name)}</h1>"]
    if scenario.get("description"):
        body.append(f"<p>{escape(str(scenario['description']))}</p>")
    body.append(
        f'<p class="muted">Strategies: {escape(", ".join(strategies))}. {escape(facts)}</p>'
    )
    if summary.get("partial"):
        body.append(
            '<p class="banner">⚠ Partial run: it was interrupted, so these numbers cover '
            "only the records written before it stopped.</p>"
        )
    if warned := run_warnings(info):
        items = "".join(f"<li>{escape(w)}</li>" for w in warned)
        body.append(f'<div class="banner">Read before the numbers:<ul>{items}</ul></div>')
    if scenario_text:
        config = f"<pre>{escape(scenario_text)}</pre>"
        body.append(f"<details><summary>Scenario config</summary>{config}</details>")
    objective_line, headline, *rest = verdict_lines(summary, ranking)
    body.append(
        f'<p class="winner"><strong>{escape(headline)}</strong>'
        + "".join(f"<br>{escape(line)}" for line in rest)
        + f'<br><span class="muted">{escape(objective_line)}</span></p>'
    )
    body.append("<h2>Thresholds</h2>" + verdict_table(verdicts))
    body.append(
        "<h2>Comparison</h2>"
        + comparison_table(summary, strategies, ranking)
        + metric_definitions()
    )
    if (optimum := burst_optimum(scenario)) is not None:
        body.append(
            "<h2>The best any client could do</h2>" + optimum_section(optimum, summary, strategies)
        )
    if timing := timing_section(info, strategies):
        body.append("<h2>Live timing</h2>" + timing)
    found = alerts(summary, strategies, baseline)
    body.append("<h2>Alerts</h2>")
    body.append(
        "<ul>" + "".join(f'<li class="alert">{escape(a)}</li>' for a in found) + "</ul>"
        if found
        else '<p class="ok">No alerts: error rate ≤ 1%, cost per success ≤ 2× baseline, '
        "fallbacks serve at most half of the successes.</p>"
    )
    body.append(extra)
    body.append("<h2>Charts</h2>")
    if charts_note:
        body.append(f'<p class="note">{escape(charts_note)}</p>')
    for key, title in PLOT_TITLES.items():
        body.append(f"<h3>{escape(title)}</h3>")
        path = plots.get(key)
        body.append(
            embedded_png(path)
            if path
            else f'<p class="muted">{escape(NO_PLOT.get(key, "No data."))}</p>'
        )
    if summary.get("repeats", 1) > 1:
        body.append(
            '<h2>Dashboards</h2><p class="muted">Per repeat: see each repeat\'s report.</p>'
        )
    else:
        body.append("<h2>Dashboards</h2>" + dashboards(summary, strategies))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(name)} — llm-stampede</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
