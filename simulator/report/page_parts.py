"""The pieces of ``report.html``: inline CSS, strategy tables, dashboards, embedded charts.

Every table has one row per strategy, headed by the strategy's name (the winner's row is
tagged by CSS only, so the header text stays the name). Values are formatted by
:func:`simulator.report.tables.format_value`, so the page and the terminal agree.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from simulator.report.metrics import METRICS
from simulator.report.optimum import BurstOptimum, efficiencies
from simulator.report.tables import COMPARISON_COLUMNS, DETAIL_COLUMNS, shown_columns
from simulator.report.thresholds import Verdict
from simulator.report.units import format_value
from simulator.report.verdict import STAR_NOTE, Ranking, stars

__all__ = [
    "CSS",
    "comparison_table",
    "dashboards",
    "embedded_png",
    "group_grid",
    "metric_definitions",
    "optimum_section",
    "strategy_table",
    "timing_section",
    "verdict_table",
]

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1180px;padding:1.5rem;color:#1d1d1f}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #eee;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.3rem .45rem;text-align:right;white-space:nowrap}
th[scope=row]{text-align:left;background:#fafafa}
thead th{background:#f0f0f0;white-space:normal;vertical-align:bottom}.wide{overflow-x:auto}
th.win{background:#e3f2fd}th.win::after{content:" — winner";color:#1565c0}
td.best{font-weight:700;background:#e8f5e9}td.best::after{content:" ★";color:#2e7d32}
td.better{background:#e8f5e9;color:#1b5e20}td.worse{background:#ffebee;color:#b71c1c}
tr.pass td.res{background:#c8e6c9;color:#1b5e20;font-weight:700}
tr.fail td.res{background:#ffcdd2;color:#b71c1c;font-weight:700}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:.6rem 1rem;font-weight:600}
.winner{font-size:1.15rem;background:#e3f2fd;border-left:6px solid #1565c0;padding:.7rem 1rem}
.sub{color:#666;font-size:.8rem;font-weight:400}.alert{color:#b71c1c}.ok{color:#1b5e20}.muted{color:#666}.note{color:#666;font-size:.9rem}
img{max-width:100%;border:1px solid #eee}pre{background:#f6f8fa;padding:.8rem;overflow:auto}
"""


def strategy_table(
    head: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str | tuple[str, str]]]],
    cls: str = "",
    winner: str | None = None,
) -> str:
    """Rows are (strategy, cells); a cell may be (text, css class). First column is a row header.

    The ``winner`` row's header is tagged by CSS, so its text stays the strategy's name.
    """
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f'<th scope="col">{escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for name, cells in rows:
        tag = ' class="win"' if name == winner else ""
        out.append(f'<tr><th scope="row"{tag}>{escape(name)}</th>')
        for cell in cells:
            text, css = cell if isinstance(cell, tuple) else (cell, "")
            # a second line (after "\n") is a note under the value, e.g. a range
            value, _, sub = text.partition("\n")
            html = escape(value) + (f'<br><span class="sub">{escape(sub)}</span>' if sub else "")
            out.append(f'<td class="{css}">{html}</td>' if css else f"<td>{html}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
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


def _range_text(metric: str, lo: float, hi: float) -> str:
    """ "36,670–41,575 ms": a repeated run's range, the unit written once."""
    a, b = format_value(metric, lo), format_value(metric, hi)
    for unit in (" ms", " s", "×", "%", "/s"):
        if a.endswith(unit) and b.endswith(unit):
            a = a[: -len(unit)]
            break
    return f"{a}–{b}"


def _metric_table(
    summary: Mapping[str, Any],
    strategies: Sequence[str],
    ranking: Ranking,
    columns: Sequence[tuple[str, str]],
) -> tuple[str, list[str], bool]:
    """A strategy table of ``columns`` (those that differ) with stars; the same ones; whether
    it starred any cell."""
    per = summary["strategies"]
    shown, same = shown_columns(summary, strategies, columns)
    starred = False
    rows = []
    for s in strategies:
        cells: list[str | tuple[str, str]] = []
        for m, _ in shown:
            text = format_value(m, per[s].get(m))
            spread = (summary.get("spread") or {}).get(s, {}).get(m)
            if spread and None not in spread and spread[0] != spread[1]:
                text += "\n" + _range_text(m, spread[0], spread[1])
            best = s in stars(summary, ranking, m)
            starred |= best
            cells.append((text, "best" if best else ""))
        rows.append((s, cells))
    head = ["strategy", *(h for _, h in shown)]
    winner = ranking.winner if len(strategies) > 1 else None
    return strategy_table(head, rows, winner=winner), same, starred


def comparison_table(
    summary: Mapping[str, Any], strategies: Sequence[str], ranking: Ranking
) -> str:
    """The decision columns, then every other metric folded into a details element.

    A column equal for every strategy is named below its table, not drawn.
    """
    main, same, starred = _metric_table(summary, strategies, ranking, COMPARISON_COLUMNS)
    detail, same_detail, starred_detail = _metric_table(
        summary, strategies, ranking, DETAIL_COLUMNS
    )
    spread = (
        f" Each cell is the mean over {summary['repeats']} repeats, with its range."
        if summary.get("repeats", 1) > 1
        else ""
    )
    star = (
        f"★ {STAR_NOTE}; differences within noise are not starred. Direction from the metric "
        "definitions below."
        if starred or starred_detail
        else ""
    )
    parts = [
        escape(star) if star else "",
        spread.strip(),
        f"Same for every strategy: {escape(', '.join(same))}." if same else "",
    ]
    text = " ".join(p for p in parts if p)
    legend = f'<p class="note">{text}</p>' if text else ""
    more = (
        f'<details><summary>More metrics</summary><div class="wide">{detail}</div>'
        + (
            f'<p class="note">Same for every strategy: {escape(", ".join(same_detail))}.</p>'
            if same_detail
            else ""
        )
        + "</details>"
    )
    return f'<div class="wide">{main}</div>' + legend + more


def group_grid(
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
    return strategy_table(["strategy", *groups], rows)


def dashboards(summary: Mapping[str, Any], strategies: Sequence[str]) -> str:
    per_feature = summary["per_feature"]
    hourly = any(
        "cost_per_hour_usd" in g for s in strategies for g in per_feature.get(s, {}).values()
    )
    if hourly:
        parts = ["<h3>Cost per hour by feature</h3>"]
        parts.append(
            group_grid(strategies, per_feature, "cost_per_hour_usd", "cost_usd", "No requests.")
        )
    else:
        parts = [
            "<h3>Cost by feature</h3>",
            '<p class="note">The run is shorter than an hour, so no cost per hour is '
            "extrapolated from it: per 1,000 logical requests, then per success.</p>",
            group_grid(
                strategies, per_feature, "cost_per_1k_requests_usd", "cost_usd", "No requests."
            ),
            group_grid(
                strategies, per_feature, "cost_per_success_usd", "cost_usd", "No successes."
            ),
        ]
    parts.append("<h3>p95 latency by model (successful requests, by serving model)</h3>")
    parts.append(
        group_grid(
            strategies,
            summary["per_model"],
            "p95_latency_ms",
            "p95_latency_ms",
            "No successful requests.",
        )
    )
    parts.append("<h3>Error rate by error type (final error / logical requests)</h3>")
    parts.append(
        group_grid(
            strategies,
            summary["errors_by_type"],
            "rate",
            "error_rate",
            "No logical request failed.",
        )
    )
    parts.append("<h3>Attempt errors by type (errors / attempts, retried or not)</h3>")
    parts.append(
        group_grid(
            strategies,
            summary["attempt_errors_by_type"],
            "rate",
            "error_rate",
            "No attempt failed.",
        )
    )
    parts.append('<h3>finish_reason == "length" rate (max_tokens truncation)</h3>')
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
    parts.append(strategy_table(["strategy", "all features", *features], rows))
    return "".join(parts)


def embedded_png(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.stem)}" src="data:image/png;base64,{data}">'


def metric_definitions() -> str:
    items = "".join(
        f"<dt><code>{escape(n)}</code> ({escape(m.unit)}"
        f"{', ' + escape(m.better) + ' is better' if m.better else ''})</dt>"
        f"<dd>{escape(m.description)}</dd>"
        for n, m in METRICS.items()
    )
    return f"<details><summary>Metric definitions</summary><dl>{items}</dl></details>"


_TIMING_MEASURES = (
    ("mock_ms", "mock handling"),
    ("lag_ms", "client lag"),
    ("excess_ms", "attempt excess"),
)


def timing_section(info: Mapping[str, Any], strategies: Sequence[str]) -> str:
    """How far the live run's timing drifted (``run.json``'s ``timing``), against its bound.

    Empty for a run without timing figures (an old run folder, or one not run live).
    """
    timing = info.get("timing") or {}
    per = timing.get("strategies") or {}
    if not per:
        return ""
    bound = timing.get("bound_ms")
    stat = timing.get("statistic", "p50")
    rows = []
    for s in strategies:
        figures = per.get(s) or {}
        cells: list[str | tuple[str, str]] = []
        for key, _ in _TIMING_MEASURES:
            spread = figures.get(key)
            if not spread:
                cells.append("–")
                continue
            over = bound is not None and spread.get(stat, 0.0) > bound
            text = f"{spread['p50']:,.0f} / {spread['p95']:,.0f} ms"
            cells.append((text, "worse" if over else ""))
        rows.append((s, cells))
    head = ["strategy", *(f"{title} (p50 / p95)" for _, title in _TIMING_MEASURES)]
    scale = info.get("time_scale")
    auto = info.get("time_scale_auto") or {}
    chosen = f", chosen by calibration: {auto.get('reason')}" if auto.get("reason") else ""
    rule = (
        f"The host adds wall time of its own, which a run at time scale {scale} reads back "
        f"{scale} times larger. A strategy's timing is faithful when the {stat} of each "
        f"measure is within {bound:,.0f} ms, half the shortest latency of the models its "
        "clients call; red cells are past it, and their numbers may depend on the time scale."
        if bound is not None
        else "No model the clients call has a network latency, so no bound applies."
    )
    return (
        f'<p class="note">Time scale {escape(str(scale))}{escape(chosen)}. {escape(rule)}</p>'
        + strategy_table(head, rows)
    )


def optimum_section(
    optimum: BurstOptimum, summary: Mapping[str, Any], strategies: Sequence[str]
) -> str:
    """Each strategy's makespan and p95 beside the best any client could do (``optimum``)."""
    eff = efficiencies(optimum, summary, strategies)
    per = summary["strategies"]
    rows = []
    for s in strategies:
        m = per.get(s, {})
        e = eff[s]
        rows.append(
            (
                s,
                [
                    format_value("makespan_s", m.get("makespan_s")),
                    "–" if e["makespan"] is None else f"{e['makespan']:.2f}",
                    format_value("p95_latency_ms", m.get("p95_latency_ms")),
                    "–" if e["p95"] is None else f"{e['p95']:.2f}",
                ],
            )
        )
    head = ["strategy", "makespan", "efficiency", "p95 latency", "efficiency"]
    intro = (
        f"A burst of {optimum.n:,} on a limit of {optimum.capacity:,} requests a minute: "
        f"{optimum.capacity:,} get in at once and the rest at {optimum.refill_per_s:g} a "
        f"second, so no client finishes before "
        f"{format_value('makespan_s', optimum.makespan_s)}, or has a p95 below "
        f"{format_value('p95_latency_ms', optimum.p95_latency_ms)} (each answer's own time "
        "aside). Efficiency is that optimum over what the strategy took: 1.00 is the best any "
        "client could do; a strategy that gave up on part of the burst has none."
    )
    return f'<p class="note">{escape(intro)}</p>' + strategy_table(head, rows)
