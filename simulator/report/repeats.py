"""A run repeated over seeds (``stampede run --repeat N``): the spread, and a verdict inside it.

Why: one live run's numbers move from run to run (arrivals, prompts and fault draws change
with the seed; a shared machine adds its own noise). A difference smaller than that movement
is not a difference. So each repeat is a complete run in ``repeat-<i>/`` with seed
``seed + i - 1`` and its own report, and the top folder gets:

- ``summary.json`` whose ``strategies`` hold, per metric, the mean over the repeats, and whose
  ``spread`` holds [min, max]. :func:`simulator.report.verdict.same` reads the spread, so a
  winner is called only when it is better outside it.
- thresholds that hold only when they hold in every repeat (a launch gate should not pass on
  a lucky seed); the value shown is the mean, and the note says in how many repeats it failed.
- ``report.html``: the verdict, the thresholds, the comparison with ranges, a table of each
  repeat's own winner with a link to its report, and the charts of the first repeat.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from simulator.report.html import ReportResult, read_run_info, render_page
from simulator.report.metrics import METRICS
from simulator.report.thresholds import Verdict
from simulator.report.verdict import parse_objective, rank, verdict_lines, winner_record

__all__ = ["aggregate", "aggregate_verdicts", "build_repeat_report", "spread_note"]


def aggregate(summaries: Sequence[Mapping[str, Any]], strategies: Sequence[str]) -> dict[str, Any]:
    """Mean and [min, max] of every metric over the repeats' summaries."""
    per: dict[str, dict[str, Any]] = {}
    spread: dict[str, dict[str, list[float] | None]] = {}
    for s in strategies:
        per[s], spread[s] = {}, {}
        for m in METRICS:
            values = [
                float(v)
                for x in summaries
                if (v := x["strategies"].get(s, {}).get(m)) is not None and math.isfinite(v)
            ]
            per[s][m] = sum(values) / len(values) if values else None
            spread[s][m] = [min(values), max(values)] if values else None
    return {
        "strategy_order": list(strategies),
        "partial": any(x.get("partial") for x in summaries),
        "repeats": len(summaries),
        "strategies": per,
        "spread": spread,
        # breakdowns by model, feature and user are in each repeat's own summary
        "per_model": {},
        "per_feature": {},
        "per_user": {},
        "errors_by_type": {},
        "attempt_errors_by_type": {},
    }


def aggregate_verdicts(per_repeat: Sequence[Sequence[Verdict]]) -> list[Verdict]:
    """One verdict per threshold: passes only if it passed in every repeat; actual = mean."""
    by_key: dict[tuple[str, str, str], list[Verdict]] = {}
    for verdicts in per_repeat:
        for v in verdicts:
            by_key.setdefault((v.strategy, v.metric, v.expression), []).append(v)
    out = []
    for (strategy, metric, expression), vs in by_key.items():
        actuals = [v.actual for v in vs if v.actual is not None]
        failed = sum(not v.passed for v in vs) + (len(per_repeat) - len(vs))
        mean = sum(actuals) / len(actuals) if actuals else None
        note = f"mean of {len(actuals)} repeats"
        if failed:
            note = f"fails in {failed} of {len(per_repeat)} repeats; {note}"
        out.append(Verdict(strategy, metric, expression, mean, failed == 0, note))
    return out


def _repeats_table(results: Sequence[ReportResult], run_dir: Path) -> str:
    """One row per repeat: its seed, its own winner, its thresholds, a link to its report."""
    rows = []
    for i, r in enumerate(results, 1):
        info, _, _ = read_run_info(r.run_dir)
        winner = (r.summary.get("winner") or {}).get("strategy") or "none"
        result = "PASS" if r.passed else "FAIL"
        href = escape(r.html_path.relative_to(run_dir).as_posix())
        rows.append(
            f'<tr class="{result.lower()}"><th scope="row">repeat {i}</th>'
            f"<td>{escape(str(info.get('seed', '')))}</td><td>{escape(winner)}</td>"
            f'<td class="res">{result}</td><td><a href="{href}">report</a></td></tr>'
        )
    head = "".join(
        f'<th scope="col">{h}</th>' for h in ("repeat", "seed", "winner", "thresholds", "report")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def build_repeat_report(run_dir: str | Path, results: Sequence[ReportResult]) -> ReportResult:
    """Write the top folder's ``summary.json`` and ``report.html`` from the repeats' reports."""
    run_dir = Path(run_dir)
    info, _, _ = read_run_info(run_dir)
    first = results[0]
    _, scenario, scenario_text = read_run_info(first.run_dir)
    strategies = [
        s
        for s in first.summary["strategy_order"]
        if all(s in r.summary["strategies"] for r in results)
    ]
    summary = aggregate([r.summary for r in results], strategies)
    summary["partial"] = summary["partial"] or bool(info.get("partial"))
    objective = parse_objective(scenario.get("objective"), str(first.run_dir / "scenario.yaml"))
    ranking = rank(summary, strategies, objective)
    summary["objective"] = objective.as_dict()
    summary["winner"] = winner_record(ranking)
    summary["verdict"] = verdict_lines(summary, ranking)
    summary["seeds"] = [read_run_info(r.run_dir)[0].get("seed") for r in results]
    verdicts = aggregate_verdicts([r.verdicts for r in results])
    summary_path = run_dir / "summary.json"
    summary_path.write_text(
        json.dumps({**summary, "verdicts": [asdict(v) for v in verdicts]}, indent=1)
    )
    extra = (
        f"<h2>Repeats</h2><p>Each repeat is a full run with its own seed; its report has the "
        f"breakdowns by model, feature and user.</p>{_repeats_table(results, run_dir)}"
    )
    seed = summary["seeds"][0]
    page = render_page(
        run_dir,
        info,
        scenario,
        scenario_text,
        strategies,
        summary,
        verdicts,
        first.plots,
        ranking,
        extra=extra,
        charts_note=f"The charts of repeat 1 (seed {seed}); each repeat's report has its own.",
    )
    html_path = run_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportResult(
        run_dir, html_path, summary_path, dict(first.plots), verdicts, summary, ranking
    )


def spread_note(summary: Mapping[str, Any]) -> str:
    """One sentence for the terminal under a table of means."""
    seeds = summary.get("seeds") or []
    span = f" (seeds {seeds[0]}–{seeds[-1]})" if seeds else ""
    return (
        f"Means over {summary.get('repeats')} repeats{span}; the verdict treats metrics whose "
        "ranges over the repeats overlap as equal (report.html shows the ranges)."
    )
