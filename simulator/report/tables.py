"""Reading a summary in text: the comparison table, the verdict and the alerts.

Everything here works on the JSON summary from :func:`simulator.report.metrics.summarize` and
the :class:`~simulator.report.verdict.Ranking` of it, so the terminal, the HTML page and
``compare`` say the same thing about the same numbers. Terminal output fits
:data:`TERMINAL_WIDTH` columns: the table drops its least important columns when it must,
and the verdict wraps.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.report.units import format_value
from simulator.report.verdict import STAR_NOTE, Ranking, rank, stars, verdict_lines

__all__ = [
    "COMPARISON_COLUMNS",
    "DETAIL_COLUMNS",
    "FALLBACK_ALERT",
    "TERMINAL_COLUMNS",
    "TERMINAL_WIDTH",
    "alerts",
    "format_table",
    "format_value",
    "shown_columns",
    "wrap",
]

TERMINAL_WIDTH = 100
FALLBACK_ALERT = 0.5  # share of successes served by a fallback model that deserves a warning

# (metric, column heading), in display order: the HTML page's main comparison table. What
# decides verdicts comes first; everything else is in DETAIL_COLUMNS, folded under it.
COMPARISON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("success_rate", "success"),
    ("served_rate", "served"),
    ("refused_by_guard", "refused by guard"),
    ("amplification", "amplification"),
    ("herd_index", "herd index"),
    ("p95_latency_ms", "p95 latency"),
    ("p95_ttft_ms", "p95 TTFT"),
    ("fallback_rate", "fallback"),
    ("cost_per_success_usd", "cost / success"),
    ("cost_usd", "cost"),
)
DETAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("logical_requests", "logical requests"),
    ("give_up_rate", "give-ups"),
    ("attempts", "attempts"),
    ("rate_limited", "429s"),
    ("server_errors", "5xx"),
    ("timeouts", "timeouts"),
    ("retry_peak_rps", "retry peak"),
    ("p50_latency_ms", "p50 latency"),
    ("p99_latency_ms", "p99 latency"),
    ("p50_ttft_ms", "p50 TTFT"),
    ("goodput_rps", "goodput"),
    ("makespan_s", "makespan"),
    ("cost_per_1k_requests_usd", "cost / 1k requests"),
    ("cost_per_hour_usd", "cost / hour"),
    ("cache_hit_rate", "cache hits"),
    ("length_rate", "length-truncated"),
)
# (metric, heading) for the terminal table, in display order ...
TERMINAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("success_rate", "success"),
    ("served_rate", "served"),
    ("refused_by_guard", "refused"),
    ("amplification", "amplif"),
    ("rate_limited", "429s"),
    ("server_errors", "5xx"),
    ("fallback_rate", "fallbk"),
    ("herd_index", "herd"),
    ("p50_latency_ms", "p50 ms"),
    ("p95_latency_ms", "p95 ms"),
    ("p95_ttft_ms", "TTFT p95"),
    ("cost_per_success_usd", "$/success"),
    ("cost_usd", "cost"),
)
# ... and the order in which they are kept when the table must narrow (the objective's own
# metrics are always kept first).
_KEEP_ORDER = (
    "success_rate",
    "served_rate",
    "amplification",
    "p95_latency_ms",
    "cost_per_success_usd",
    "herd_index",
    "p95_ttft_ms",
    "refused_by_guard",
    "rate_limited",
    "fallback_rate",
    "server_errors",
    "cost_usd",
    "p50_latency_ms",
)


def wrap(text: str, width: int = TERMINAL_WIDTH, indent: str = "  ") -> str:
    """A paragraph wrapped to the terminal width, later lines indented."""
    return textwrap.fill(text, width, subsequent_indent=indent, break_on_hyphens=False)


_TTFT = frozenset({"p50_ttft_ms", "p95_ttft_ms", "p99_ttft_ms"})


def shown_columns(
    summary: Mapping[str, Any], strategies: Sequence[str], columns: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(columns whose values differ between strategies, "heading value" of the others).

    A column equal for every strategy tells nothing about the comparison: it is named once
    below the table instead. Columns with no value at all are dropped, and so is the served
    share when no strategy refused a request (it is then the success rate again).
    """
    per = summary["strategies"]
    shown, same = [], []
    streams = summary.get("streaming")  # strategy -> streams; absent in older summaries
    refused = any((per.get(s, {}).get("refused_by_guard") or 0) > 0 for s in strategies)
    for m, title in columns:
        if m in _TTFT and streams is not None and not any(streams.values()):
            continue  # without streaming, time to first token is the whole answer again
        if m == "served_rate" and not refused:
            continue  # nothing refused: the served share is the success rate again
        texts = {format_value(m, per.get(s, {}).get(m)) for s in strategies}
        if len(texts) > 1 or (len(strategies) == 1 and texts != {"–"}):
            shown.append((m, title))
        elif texts != {"–"}:
            same.append(f"{title} {texts.pop()}")
    return shown, same


def alerts(
    summary: Mapping[str, Any], strategies: Sequence[str], baseline: str | None = None
) -> list[str]:
    """The article's alerts: error rate above 1 %, cost per success above 2x the baseline's;
    and a fallback that carries most of the successes (above :data:`FALLBACK_ALERT`): then a
    "survives" verdict rests on the fallback model, not on the primary.

    The error rate leaves out a guard's intended refusals (see the metrics module).
    """
    out = []
    per = summary["strategies"]
    base = baseline if baseline in per else (strategies[0] if strategies else None)
    base_cost = per[base]["cost_per_success_usd"] if base else None
    for s in strategies:
        rate = per[s]["error_rate"]
        if rate is not None and rate > 0.01:
            out.append(f"{s}: error rate {format_value('error_rate', rate)} is above 1%")
        fallback = per[s].get("fallback_rate")
        if fallback is not None and fallback > FALLBACK_ALERT:
            out.append(
                f"{s}: {format_value('fallback_rate', fallback)} of the successes came from a "
                "fallback model; the primary model is under-provisioned or failing"
            )
        cost = per[s]["cost_per_success_usd"]
        if s != base and cost is not None and base_cost and cost > 2 * base_cost:
            out.append(
                f"{s}: cost per success {format_value('cost_usd', cost)} is "
                f"{cost / base_cost:.1f}x the baseline {base} "
                f"({format_value('cost_usd', base_cost)}), above 2x"
            )
    return out


def _cell(metric: str, value: Any) -> str:
    return format_value(metric, value).replace(" ms", "")


def format_table(
    summary: Mapping[str, Any],
    strategies: Sequence[str],
    ranking: Ranking | None = None,
    width: int = TERMINAL_WIDTH,
) -> str:
    """The comparison, one strategy per row, then the verdict; fits ``width`` columns.

    ``*`` marks the best in a column among the strategies that meet the objective's floor
    (:func:`simulator.report.verdict.stars`).
    """
    ranking = ranking or rank(summary, strategies)
    per = summary["strategies"]
    columns, same = shown_columns(summary, strategies, TERMINAL_COLUMNS)
    keep = list(dict.fromkeys([*ranking.objective.rank_by, *_KEEP_ORDER]))
    starred = {m: stars(summary, ranking, m) for m, _ in columns}
    name_w = max([len("strategy"), *(len(s) for s in strategies)])

    def col_width(m: str, title: str) -> int:
        return max([len(title), *(len(_cell(m, per[s].get(m))) + 1 for s in strategies)])

    def total(cols: Sequence[tuple[str, str]]) -> int:
        return name_w + sum(col_width(m, t) + 2 for m, t in cols)

    dropped: list[str] = []
    while total(columns) > width and len(columns) > 1:
        victim = max(columns, key=lambda c: keep.index(c[0]) if c[0] in keep else len(keep))
        columns.remove(victim)
        dropped.append(victim[1])
    widths = [col_width(m, t) for m, t in columns]
    header = "strategy".ljust(name_w) + "".join(
        t.rjust(w + 2) for (_, t), w in zip(columns, widths, strict=True)
    )
    lines = [header, "-" * len(header)]
    for s in strategies:
        cells = [
            (_cell(m, per[s].get(m)) + ("*" if s in starred[m] else " ")).rjust(w + 2)
            for (m, _), w in zip(columns, widths, strict=True)
        ]
        lines.append(s.ljust(name_w) + "".join(cells))
    notes = []
    if any(s in starred[m] for m, _ in columns for s in strategies):
        notes.append(f"* {STAR_NOTE}.")
    if same:
        notes.append(f"Same for every strategy: {', '.join(same)}.")
    if dropped:
        notes.append(f"Not shown for width: {', '.join(dropped)} (see report.html).")
    lines += [wrap(n, width) for n in notes]
    lines.append("")
    lines += [wrap(line, width) for line in verdict_lines(summary, ranking)]
    return "\n".join(lines)
