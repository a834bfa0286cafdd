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

from simulator.report.metrics import (
    REPORT_COLUMNS,
    load_traces,
    strategies_in_order,
    summarize,
)
from simulator.report.page_parts import (
    CSS,
    comparison_table,
    dashboards,
    embedded_png,
    metric_definitions,
    strategy_table,
    verdict_table,
)
from simulator.report.plots import render_all
from simulator.report.tables import (
    alerts,
    format_table,
    format_value,
    winner_lines,
    winner_sentence,
)
from simulator.report.thresholds import Verdict, evaluate, parse_thresholds

__all__ = ["ReportResult", "build_report", "compare_runs", "format_table", "read_run_info"]

PLOT_TITLES = {
    "herd_waves": "Retry waves: attempts per second by outcome",
    "latency_cdf": "Latency distribution",
    "amplification_giveups": "Amplification and give-ups",
    "fallback_share": "Fallback: which model served the successes",
    "ttft_distribution": "Time to first token",
    "cost_per_1k": "Cost per 1,000 requests and cache hits",
    "limiter_view": "Rate-limiter headroom",
    "retry_delays": "Retry delays",
}
NO_PLOT = {
    "fallback_share": "No fallback: every successful request was served by one model.",
    "ttft_distribution": "No TTFT recorded (no streaming requests succeeded).",
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


def _torn(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


def build_report(run_dir: str | Path) -> ReportResult:
    """Write ``summary.json``, ``plots/*.png`` and ``report.html`` into ``run_dir``.

    Raises ``simulator.config.ConfigError`` when the scenario's thresholds name an unknown
    metric or cannot be parsed.
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
    thresholds = parse_thresholds(wanted, strategies, str(run_dir / "scenario.yaml"))
    summary = summarize(df, strategies, partial=partial)
    summary["not_run"] = [s for s in planned if s not in strategies]
    verdicts = evaluate(thresholds, summary)
    plots = render_all(df, strategies, run_dir / "plots", summary, scenario)
    del df
    summary_path = run_dir / "summary.json"
    summary_path.write_text(
        json.dumps({**summary, "verdicts": [asdict(v) for v in verdicts]}, indent=1)
    )
    page = _page(run_dir, info, scenario, scenario_text, strategies, summary, verdicts, plots)
    html_path = run_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportResult(
        run_dir,
        html_path,
        summary_path,
        {k: p for k, p in plots.items() if p is not None},
        verdicts,
        summary,
    )


def _page(
    run_dir: Path,
    info: Mapping[str, Any],
    scenario: Mapping[str, Any],
    scenario_text: str,
    strategies: Sequence[str],
    summary: Mapping[str, Any],
    verdicts: Sequence[Verdict],
    plots: Mapping[str, Path | None],
) -> str:
    name = str(scenario.get("name") or info.get("scenario") or run_dir.name)
    baseline = scenario.get("baseline") or (strategies[0] if strategies else None)
    facts = ", ".join(
        f"{k} {info[k]}" for k in ("seed", "time_scale", "started", "duration_s") if k in info
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
    if scenario_text:
        config = f"<pre>{escape(scenario_text)}</pre>"
        body.append(f"<details><summary>Scenario config</summary>{config}</details>")
    headline, *rest = winner_lines(summary, strategies)
    body.append(
        f'<p class="winner"><strong>{escape(headline)}</strong>'
        + "".join(f"<br>{escape(line)}" for line in rest)
        + "</p>"
    )
    body.append("<h2>Thresholds</h2>" + verdict_table(verdicts))
    body.append(
        "<h2>Comparison</h2>" + comparison_table(summary, strategies) + metric_definitions()
    )
    found = alerts(summary, strategies, baseline)
    body.append("<h2>Alerts</h2>")
    body.append(
        "<ul>" + "".join(f'<li class="alert">{escape(a)}</li>' for a in found) + "</ul>"
        if found
        else '<p class="ok">No alerts: error rate ≤ 1% and cost per success ≤ 2× baseline.</p>'
    )
    body.append("<h2>Charts</h2>")
    for key, title in PLOT_TITLES.items():
        body.append(f"<h3>{escape(title)}</h3>")
        path = plots.get(key)
        body.append(
            embedded_png(path)
            if path
            else f'<p class="muted">{escape(NO_PLOT.get(key, "No data."))}</p>'
        )
    body.append("<h2>Dashboards</h2>" + dashboards(summary, strategies))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(name)} — llm-stampede</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


# --------------------------------------------------------------------------- two runs

_COMPARE = (
    "success_rate",
    "amplification",
    "rate_limited",
    "herd_index",
    "p95_latency_ms",
    "cost_per_success_usd",
)


def _load_summary(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    path = run_dir / "summary.json"
    if path.exists():
        summary = json.loads(path.read_text())
    else:
        info, _, _ = read_run_info(run_dir)
        df = load_traces(run_dir / "traces.jsonl", REPORT_COLUMNS)
        summary = summarize(df, info.get("strategies") or strategies_in_order(df))
    return summary, list(summary.get("strategy_order") or summary["strategies"])


def compare_runs(dir1: str | Path, dir2: str | Path, out_html: str | Path) -> str:
    """Side-by-side table of two runs (``A → B`` per cell); writes HTML, returns the text."""
    a_dir, b_dir = Path(dir1), Path(dir2)
    (a, a_order), (b, b_order) = _load_summary(a_dir), _load_summary(b_dir)
    strategies = a_order + [s for s in b_order if s not in a_order]
    rows = []
    for s in strategies:
        cells: list[str | tuple[str, str]] = []
        for m in _COMPARE:
            va = a["strategies"].get(s, {}).get(m)
            vb = b["strategies"].get(s, {}).get(m)
            cells.append(f"{format_value(m, va)} → {format_value(m, vb)}")
        rows.append((s, cells))
    head = ["strategy", *_COMPARE]
    widths = [
        max(len(head[i]), *(len(r[1][i - 1]) if i else len(r[0]) for r in rows))
        for i in range(len(head))
    ]
    lines = [
        f"A = {a_dir}",
        f"B = {b_dir}",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
    ]
    for s, cells in rows:
        texts = [s, *(str(c) for c in cells)]
        lines.append("  ".join(t.ljust(w) for t, w in zip(texts, widths, strict=True)))
    text = "\n".join(lines)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>llm-stampede: '
        f"compare runs</title><style>{CSS}</style></head><body><h1>Compare runs</h1>"
        f"<p>A = <code>{escape(str(a_dir))}</code><br>B = <code>{escape(str(b_dir))}</code></p>"
        f"<p>Each cell reads A → B.</p>{strategy_table(head, rows)}"
        f'<p class="winner">A: {escape(winner_sentence(a, a_order))}<br>'
        f"B: {escape(winner_sentence(b, b_order))}</p></body></html>\n"
    )
    Path(out_html).write_text(page, encoding="utf-8")
    return text
