"""Reading a summary: value formatting, best-in-column, the winner, alerts, terminal tables.

Everything here works on the JSON summary from :func:`simulator.report.metrics.summarize`, so
the terminal, the HTML page and ``compare`` say the same thing about the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.report.metrics import METRICS

__all__ = [
    "COMPARISON_COLUMNS",
    "TERMINAL_COLUMNS",
    "alerts",
    "best_strategies",
    "contenders",
    "format_table",
    "format_value",
    "rank_strategies",
    "winner_lines",
    "winner_sentence",
]

# (metric, column heading) for the HTML comparison table
COMPARISON_COLUMNS: tuple[tuple[str, str], ...] = (
    # what decides the winner and its trade-off first, then the detail
    ("success_rate", "success"),
    ("give_up_rate", "give-ups"),
    ("amplification", "amplification"),
    ("retry_peak_rps", "retry peak"),
    ("p95_latency_ms", "p95 latency"),
    ("p50_latency_ms", "p50 latency"),
    ("p99_latency_ms", "p99 latency"),
    ("attempts", "attempts"),
    ("rate_limited", "429s"),
    ("server_errors", "5xx"),
    ("timeouts", "timeouts"),
    ("fallback_rate", "fallback"),
    ("herd_index", "herd index"),
    ("goodput_rps", "goodput"),
    ("p95_ttft_ms", "p95 TTFT"),
    ("cost_usd", "cost"),
    ("cost_per_success_usd", "cost / success"),
    ("cache_hit_rate", "cache hits"),
)
# (metric, heading, width) for the terminal table printed at the end of ``stampede run``
TERMINAL_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("success_rate", "success", 8),
    ("attempts", "attempts", 10),
    ("amplification", "amplif", 7),
    ("rate_limited", "429s", 8),
    ("server_errors", "5xx", 7),
    ("fallback_rate", "fallback", 8),
    ("herd_index", "herd", 6),
    ("retry_peak_rps", "retry pk", 8),
    ("p50_latency_ms", "p50 ms", 8),
    ("p95_latency_ms", "p95 ms", 8),
    ("p95_ttft_ms", "TTFT p95", 8),
    ("cost_usd", "cost", 9),
)


def format_value(metric: str, value: Any) -> str:
    """Human form of a metric value, by its unit in :data:`METRICS` ("–" for no value)."""
    if value is None:
        return "–"
    unit = METRICS[metric].unit if metric in METRICS else ""
    v = float(value)
    if unit == "ratio":
        return f"{100 * v:.1f}%" if v < 0.999 or v == 1 else f"{100 * v:.2f}%"
    if unit == "x":
        return f"{v:.2f}×"
    if unit == "ms":
        return f"{v:,.0f} ms"
    if unit == "s":
        return f"{v:,.1f} s"
    if unit == "req/s":
        return f"{v:,.1f}/s"
    if unit == "retries/s":
        return f"{v:,.0f}/s"
    if unit == "USD":
        return f"${v:,.2f}" if v >= 10 else f"${v:.3g}" if v < 0.1 else f"${v:.3f}"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.3g}"


def best_strategies(summary: Mapping[str, Any], strategies: Sequence[str], metric: str) -> set[str]:
    """Strategies holding the best value of ``metric`` (empty if no direction or all equal).

    Pass :func:`contenders` as ``strategies`` so a strategy that loses requests cannot be
    "best" at latency or cost by failing fast.
    """
    better = METRICS[metric].better
    values = {s: summary["strategies"][s].get(metric) for s in strategies}
    present = {s: v for s, v in values.items() if v is not None}
    if better is None or len(set(present.values())) < 2:
        return set()
    target = max(present.values()) if better == "higher" else min(present.values())
    return {s for s, v in present.items() if v == target}


def _rank_key(metrics: Mapping[str, Any]) -> tuple[float, float, float]:
    """Success first; then what users feel (p95 latency); then what the provider pays
    (attempts per request). Success rates within 0.1 point, and p95s within 1%, are ties."""
    inf = float("inf")
    success = metrics.get("success_rate")
    amp = metrics.get("amplification")
    p95 = metrics.get("p95_latency_ms")
    return (
        -round(success, 3) if success is not None else inf,
        float(f"{p95:.2g}") if p95 is not None else inf,
        round(amp, 2) if amp is not None else inf,
    )


def contenders(summary: Mapping[str, Any], strategies: Sequence[str]) -> list[str]:
    """The strategies tied with the winner on success rate (the winner rule's first key)."""
    if not strategies:
        return []
    keys = {s: _rank_key(summary["strategies"][s])[0] for s in strategies}
    top = min(keys.values())
    return [s for s in strategies if keys[s] == top]


def rank_strategies(summary: Mapping[str, Any], strategies: Sequence[str]) -> list[str]:
    """Best first: highest success rate, then lowest p95 latency, then lowest amplification."""
    return sorted(strategies, key=lambda s: _rank_key(summary["strategies"][s]))


def _facts(m: Mapping[str, Any]) -> str:
    return (
        f"{format_value('success_rate', m['success_rate'])} success, "
        f"{format_value('amplification', m['amplification'])} amplification, "
        f"p95 {format_value('p95_latency_ms', m['p95_latency_ms'])}"
    )


def _herd_tradeoff(per: Mapping[str, Any], w: str, r: str) -> str:
    """What the winner pays for its place against a runner-up with the same success, or ""."""
    mw, mr = per[w], per[r]
    peak_w, peak_r = mw.get("retry_peak_rps"), mr.get("retry_peak_rps")
    amp_w, amp_r = mw.get("amplification"), mr.get("amplification")
    parts = []
    if peak_r is not None and peak_w is not None and peak_r >= 1.5 * peak_w:
        parts.append(
            f"{r}'s retries bunch together (retry peak "
            f"{format_value('retry_peak_rps', peak_r)} vs "
            f"{format_value('retry_peak_rps', peak_w)} for {w}) and its p95 is "
            f"{format_value('p95_latency_ms', mr.get('p95_latency_ms'))}"
        )
    if amp_w is not None and amp_r is not None and amp_w >= 1.05 * amp_r:
        parts.append(
            f"{w} makes more attempts per request "
            f"({format_value('amplification', amp_w)} vs {format_value('amplification', amp_r)})"
        )
    return f"Why and at what cost: {'; '.join(parts)}." if parts else ""


def winner_lines(summary: Mapping[str, Any], strategies: Sequence[str]) -> list[str]:
    """The verdict in short lines: who wins and on which criterion, the trade-off, the worst.

    Each line carries the numbers that decide it. The trade-off line appears when the
    runner-up has the same success rate but a clearly lower retry peak (>= 1.5x) or p95
    latency (>= 1.2x): the rule ranks amplification before latency, and the page should say
    what that choice costs.
    """
    if not strategies:
        return ["No strategies in this run."]
    ranked = rank_strategies(summary, strategies)
    per = summary["strategies"]
    w = ranked[0]
    if len(ranked) == 1:
        return [f"Only one strategy: {w} — {_facts(per[w])}."]
    r = ranked[1]
    kw, kr = _rank_key(per[w]), _rank_key(per[r])
    if kw[0] != kr[0]:
        why = "highest success rate"
    elif kw[1] != kr[1]:
        why = "same success rate with the lowest p95 latency"
    elif kw[2] != kr[2]:
        why = "same success rate and p95 latency, fewest attempts per request"
    else:
        return [f"No clear winner: {w} and {r} tie ({_facts(per[w])})."]
    lines = [f"Winner: {w} — {why} ({_facts(per[w])}); runner-up {r} ({_facts(per[r])})."]
    if kw[0] == kr[0] and (tradeoff := _herd_tradeoff(per, w, r)):
        lines.append(tradeoff)
    worst = ranked[-1]
    if worst != r:
        lines.append(f"Worst: {worst} ({_facts(per[worst])}).")
    return lines


def winner_sentence(summary: Mapping[str, Any], strategies: Sequence[str]) -> str:
    """:func:`winner_lines` as one paragraph (terminal, ``compare``)."""
    return " ".join(winner_lines(summary, strategies))


def alerts(
    summary: Mapping[str, Any], strategies: Sequence[str], baseline: str | None = None
) -> list[str]:
    """The article's alerts: error rate above 1 %, cost per success above 2x the baseline's."""
    out = []
    per = summary["strategies"]
    base = baseline if baseline in per else (strategies[0] if strategies else None)
    base_cost = per[base]["cost_per_success_usd"] if base else None
    for s in strategies:
        rate = per[s]["error_rate"]
        if rate is not None and rate > 0.01:
            out.append(f"{s}: error rate {format_value('error_rate', rate)} is above 1%")
        cost = per[s]["cost_per_success_usd"]
        if s != base and cost is not None and base_cost and cost > 2 * base_cost:
            out.append(
                f"{s}: cost per success {format_value('cost_usd', cost)} is "
                f"{cost / base_cost:.1f}x the baseline {base} "
                f"({format_value('cost_usd', base_cost)}), above 2x"
            )
    return out


def format_table(summary: Mapping[str, Any], strategies: Sequence[str]) -> str:
    """Compact fixed-width comparison, one strategy per row; * marks the best in a column."""
    name_w = max([len("strategy"), *(len(s) for s in strategies)]) + 2
    header = "strategy".ljust(name_w) + "".join(h.rjust(w + 1) for _, h, w in TERMINAL_COLUMNS)
    lines = [header, "-" * len(header)]
    best = {m: best_strategies(summary, strategies, m) for m, _, _ in TERMINAL_COLUMNS}
    for s in strategies:
        metrics = summary["strategies"].get(s, {})
        cells = []
        for m, _, w in TERMINAL_COLUMNS:
            text = format_value(m, metrics.get(m)).replace(" ms", "")
            cells.append((text + ("*" if s in best[m] else " ")).rjust(w + 1))
        lines.append(s.ljust(name_w) + "".join(cells))
    lines.append("* best in column. " + winner_sentence(summary, strategies))
    return "\n".join(lines)
