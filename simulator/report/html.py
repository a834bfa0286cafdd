"""One self-contained ``report.html`` per run: verdicts, comparison, winner, charts, dashboards.

:func:`build_report` is the report pipeline: load traces, :func:`~metrics.summarize`, judge
thresholds, draw charts, write ``summary.json``, ``plots/*.png`` and ``report.html``. The page
embeds its images as data URIs and its CSS inline, so it can be mailed or opened offline; it
needs no JavaScript. Every table has one row per strategy, headed by the strategy's name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import yaml

from simulator.report.metrics import (
    METRICS,
    REPORT_COLUMNS,
    load_traces,
    strategies_in_order,
    summarize,
)
from simulator.report.plots import render_all
from simulator.report.tables import (
    COMPARISON_COLUMNS,
    alerts,
    best_strategies,
    format_table,
    format_value,
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
    strategies = list(info.get("strategies") or strategies_in_order(df))
    partial = bool(info.get("partial")) or _torn(traces)
    thresholds = parse_thresholds(
        scenario.get("thresholds"), strategies, str(run_dir / "scenario.yaml")
    )
    summary = summarize(df, strategies, partial=partial)
    verdicts = evaluate(thresholds, summary)
    plots = render_all(df, strategies, run_dir / "plots", summary)
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


# --------------------------------------------------------------------------- HTML pieces

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1180px;padding:1.5rem;color:#1d1d1f}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #eee;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:right}
th[scope=row]{text-align:left;background:#fafafa}thead th{background:#f0f0f0}
td.best{font-weight:700;background:#e8f5e9}td.best::after{content:" ★";color:#2e7d32}
tr.pass td.res{background:#c8e6c9;color:#1b5e20;font-weight:700}
tr.fail td.res{background:#ffcdd2;color:#b71c1c;font-weight:700}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:.6rem 1rem;font-weight:600}
.winner{font-size:1.15rem;background:#e3f2fd;border-left:6px solid #1565c0;padding:.7rem 1rem}
.alert{color:#b71c1c}.ok{color:#1b5e20}.muted{color:#666}.note{color:#666;font-size:.9rem}
img{max-width:100%;border:1px solid #eee}pre{background:#f6f8fa;padding:.8rem;overflow:auto}
"""


def _table(
    head: Sequence[str], rows: Iterable[tuple[str, Sequence[str | tuple[str, str]]]], cls: str = ""
) -> str:
    """Rows are (strategy, cells); a cell may be (text, css class). First column is a row header."""
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f'<th scope="col">{escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for name, cells in rows:
        out.append(f'<tr><th scope="row">{escape(name)}</th>')
        for cell in cells:
            text, css = cell if isinstance(cell, tuple) else (cell, "")
            out.append(
                f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _verdict_table(verdicts: Sequence[Verdict]) -> str:
    if not verdicts:
        return '<p class="muted">This scenario sets no thresholds.</p>'
    out = [
        '<table><thead><tr><th scope="col">strategy</th><th scope="col">metric</th>'
        '<th scope="col">threshold</th><th scope="col">actual</th><th scope="col">result</th>'
        "</tr></thead><tbody>"
    ]
    for v in verdicts:
        result = "PASS" if v.passed else "FAIL"
        actual = format_value(v.metric, v.actual)
        note = f' <span class="note">({escape(v.note)})</span>' if v.note else ""
        out.append(
            f'<tr class="{result.lower()}"><th scope="row">{escape(v.strategy)}</th>'
            f"<td>{escape(v.metric)}</td><td>{escape(v.expression)}</td>"
            f'<td>{escape(actual)}{note}</td><td class="res">{result}</td></tr>'
        )
    out.append("</tbody></table>")
    n_fail = sum(not v.passed for v in verdicts)
    head = (
        f'<p class="ok">All {len(verdicts)} thresholds pass.</p>'
        if not n_fail
        else f'<p class="alert">{n_fail} of {len(verdicts)} thresholds fail.</p>'
    )
    return head + "".join(out)


def _comparison(summary: Mapping[str, Any], strategies: Sequence[str]) -> str:
    best = {m: best_strategies(summary, strategies, m) for m, _ in COMPARISON_COLUMNS}
    rows = []
    for s in strategies:
        per = summary["strategies"][s]
        cells: list[str | tuple[str, str]] = [
            (format_value(m, per.get(m)), "best" if s in best[m] else "")
            for m, _ in COMPARISON_COLUMNS
        ]
        rows.append((s, cells))
    head = ["strategy", *(h for _, h in COMPARISON_COLUMNS)]
    legend = '<p class="note">★ best in column (direction from the metric definitions below).</p>'
    return _table(head, rows) + legend


def _grid(
    strategies: Sequence[str],
    per: Mapping[str, Mapping[str, Mapping[str, Any]]],
    value: str,
    fmt_metric: str,
    empty: str,
) -> str:
    """A strategy x group table (groups are models, features or error types)."""
    groups: list[str] = []
    for s in strategies:
        groups += [g for g in per.get(s, {}) if g not in groups]
    if not groups:
        return f'<p class="muted">{escape(empty)}</p>'
    rows = []
    for s in strategies:
        cells: list[str | tuple[str, str]] = []
        for g in groups:
            v = per.get(s, {}).get(g, {}).get(value)
            cells.append(format_value(fmt_metric, v))
        rows.append((s, cells))
    return _table(["strategy", *groups], rows)


def _dashboards(summary: Mapping[str, Any], strategies: Sequence[str]) -> str:
    parts = ["<h3>Cost per hour by feature</h3>"]
    parts.append(
        _grid(strategies, summary["per_feature"], "cost_per_hour_usd", "cost_usd", "No requests.")
    )
    parts.append("<h3>p95 latency by model (successful requests, by serving model)</h3>")
    parts.append(
        _grid(
            strategies,
            summary["per_model"],
            "p95_latency_ms",
            "p95_latency_ms",
            "No successful requests.",
        )
    )
    parts.append("<h3>Error rate by error type (final error / logical requests)</h3>")
    parts.append(
        _grid(
            strategies,
            summary["errors_by_type"],
            "rate",
            "error_rate",
            "No logical request failed.",
        )
    )
    parts.append("<h3>Attempt errors by type (errors / attempts, retried or not)</h3>")
    parts.append(
        _grid(
            strategies,
            summary["attempt_errors_by_type"],
            "rate",
            "error_rate",
            "No attempt failed.",
        )
    )
    parts.append('<h3>finish_reason == "length" rate (max_tokens truncation)</h3>')
    per_feature = summary["per_feature"]
    features: list[str] = []
    for s in strategies:
        features += [f for f in per_feature.get(s, {}) if f not in features]
    rows = []
    for s in strategies:
        cells = [format_value("length_rate", summary["strategies"][s]["length_rate"])]
        cells += [
            format_value("length_rate", per_feature.get(s, {}).get(f, {}).get("length_rate"))
            for f in features
        ]
        rows.append((s, cells))
    parts.append(_table(["strategy", "all features", *features], rows))
    return "".join(parts)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.stem)}" src="data:image/png;base64,{data}">'


def _definitions() -> str:
    items = "".join(
        f"<dt><code>{escape(n)}</code> ({escape(m.unit)}"
        f"{', ' + escape(m.better) + ' is better' if m.better else ''})</dt>"
        f"<dd>{escape(m.description)}</dd>"
        for n, m in METRICS.items()
    )
    return f"<details><summary>Metric definitions</summary><dl>{items}</dl></details>"


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
    body.append(f'<p class="winner">{escape(winner_sentence(summary, strategies))}</p>')
    body.append("<h2>Thresholds</h2>" + _verdict_table(verdicts))
    body.append("<h2>Comparison</h2>" + _comparison(summary, strategies) + _definitions())
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
            _img(path) if path else f'<p class="muted">{escape(NO_PLOT.get(key, "No data."))}</p>'
        )
    body.append("<h2>Dashboards</h2>" + _dashboards(summary, strategies))
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
        f"<p>Each cell reads A → B.</p>{_table(head, rows)}"
        f'<p class="winner">A: {escape(winner_sentence(a, a_order))}<br>'
        f"B: {escape(winner_sentence(b, b_order))}</p></body></html>\n"
    )
    Path(out_html).write_text(page, encoding="utf-8")
    return text
