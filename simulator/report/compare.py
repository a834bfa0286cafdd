"""Two runs side by side: ``stampede compare DIR_A DIR_B``.

Each strategy's headline metrics read ``A → B``, marked better or worse only when the change
is beyond noise (the same rule as the verdict: :func:`simulator.report.verdict.same`). Runs
that differ in scenario, seed, duration, time scale or mode (one live, the other virtual) are
not like for like; the comparison says so first rather than let a reader credit a strategy
with a changed setting. A run folder written before ``run.json`` had a ``mode`` compares as
before, without that check. When every metric ties, the comparison says that in one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from simulator.report.loading import REPORT_COLUMNS, load_traces
from simulator.report.metrics import METRICS, strategies_in_order, summarize
from simulator.report.page_parts import CSS, strategy_table
from simulator.report.tables import wrap
from simulator.report.units import format_value, label
from simulator.report.verdict import parse_objective, rank, same, verdict_lines

__all__ = ["COMPARED", "compare_runs", "setting_differences"]

COMPARED = (
    "success_rate",
    "amplification",
    "rate_limited",
    "herd_index",
    "p95_latency_ms",
    "p95_ttft_ms",
    "cost_per_success_usd",
)
# run.json fields that make two runs not like for like
_SETTINGS = ("scenario", "seed", "duration_s", "drain_s", "time_scale", "repeats")


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(summary, run.json, strategy order) of a run folder."""
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    path = run_dir / "summary.json"
    if path.exists():
        summary = json.loads(path.read_text())
    else:
        df = load_traces(run_dir / "traces.jsonl", REPORT_COLUMNS)
        summary = summarize(df, info.get("strategies") or strategies_in_order(df))
    return summary, info, list(summary.get("strategy_order") or summary["strategies"])


def setting_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """ "seed 7 → 8"-style notes for the run.json settings in which two runs differ; a
    setting one of them does not record (an older run folder) is not compared."""
    out = []
    for key in _SETTINGS:
        va, vb = a.get(key), b.get(key)
        if va != vb and not (va is None or vb is None):
            out.append(f"{key} {va} → {vb}")
    return out


def mode_warning(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The sentence for a live run compared with a virtual one ("" otherwise)."""
    modes = (a.get("mode"), b.get("mode"))
    if None in modes or modes[0] == modes[1]:
        return ""
    return (
        f"warning: A is a {modes[0]} run and B a {modes[1]} one: live latency includes the "
        "machine's scheduling and the network, so a change in it may come from the mode."
    )


def tie_note(changes: list[str]) -> str:
    """One line when no compared metric moved beyond noise ("" when one did)."""
    if any(c in ("better", "worse") for c in changes):
        return ""
    if "same" not in changes:
        return "No strategy has a value in both runs: nothing to compare."
    return "Every metric ties: no strategy is better or worse in B beyond noise."


def _change(metric: str, a: Mapping[str, Any], b: Mapping[str, Any], s: str) -> str:
    """ "better", "worse", "same" (within noise) or "" (no direction or no value)."""
    va, vb = a["strategies"].get(s, {}).get(metric), b["strategies"].get(s, {}).get(metric)
    better = METRICS[metric].better
    if va is None or vb is None or better is None:
        return ""
    pair = {
        "strategies": {"A": {metric: va}, "B": {metric: vb}},
        "spread": {
            "A": (a.get("spread") or {}).get(s, {}),
            "B": (b.get("spread") or {}).get(s, {}),
        },
    }
    if same(pair, metric, "A", "B"):
        return "same"
    return "better" if (vb > va) == (better == "higher") else "worse"


def _verdict(summary: Mapping[str, Any], order: list[str]) -> str:
    """The run's verdict line, judged again by the objective its summary recorded."""
    stored = summary.get("objective") or {}
    raw = (
        {"rank_by": stored["rank_by"], "floor": stored.get("floor") or {}}
        if stored.get("stated")
        else None
    )
    ranking = rank(summary, order, parse_objective(raw, "summary.json"))
    return verdict_lines(summary, ranking)[1]


def compare_runs(dir1: str | Path, dir2: str | Path, out_html: str | Path) -> str:
    """Writes the HTML comparison and returns the terminal text (100 columns)."""
    a_dir, b_dir = Path(dir1), Path(dir2)
    (a, a_info, a_order), (b, b_info, b_order) = _load(a_dir), _load(b_dir)
    strategies = a_order + [s for s in b_order if s not in a_order]
    differs = setting_differences(a_info, b_info)
    warning = (
        f"warning: the runs differ in {', '.join(differs)}; a change below may come from "
        "that, not from the strategy."
        if differs
        else ""
    )
    lines = [f"A = {a_dir}", f"B = {b_dir}"]
    mode = mode_warning(a_info, b_info)
    lines += [wrap(w) for w in (mode, warning) if w]
    lines.append(f"{'strategy':<22}{'metric':<26}{'A':>13}   {'B':>13}  change")
    rows = []
    changes: list[str] = []
    for s in strategies:
        cells: list[str | tuple[str, str]] = []
        for i, m in enumerate(COMPARED):
            va = format_value(m, a["strategies"].get(s, {}).get(m))
            vb = format_value(m, b["strategies"].get(s, {}).get(m))
            change = _change(m, a, b, s)
            changes.append(change)
            lines.append(f"{(s if i == 0 else ''):<22}{label(m):<26}{va:>13} → {vb:>13}  {change}")
            cells.append((f"{va} → {vb}", change if change in ("better", "worse") else ""))
        rows.append((s, cells))
    ties = tie_note(changes)
    if ties:
        lines.append(ties)
    lines.append(wrap(f"A: {_verdict(a, a_order)}"))
    lines.append(wrap(f"B: {_verdict(b, b_order)}"))
    head = ["strategy", *(label(m) for m in COMPARED)]
    banner = "".join(f'<p class="banner">{escape(w)}</p>' for w in (mode, warning) if w)
    tie_html = f'<p class="winner">{escape(ties)}</p>' if ties else ""
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>llm-stampede: '
        f"compare runs</title><style>{CSS}</style></head><body><h1>Compare runs</h1>"
        f"<p>A = <code>{escape(str(a_dir))}</code><br>B = <code>{escape(str(b_dir))}</code></p>"
        f"{banner}<p>Each cell reads A → B; green where B is better beyond noise, red where it "
        f'is worse.</p><div class="wide">{strategy_table(head, rows)}</div>{tie_html}'
        f'<p class="winner">A: {escape(_verdict(a, a_order))}<br>'
        f"B: {escape(_verdict(b, b_order))}</p></body></html>\n"
    )
    Path(out_html).write_text(page, encoding="utf-8")
    return "\n".join(lines)
