"""The scorecard of ``stampede check``: what a client got, in the terminal and in ``check.html``.

One card per client: the checklist's items (pass, warn or fail, the reason, the field to
change), then the battery as a table with a row per item and a column per key metric; a cell
with a threshold on it says whether it held. Under the table each row is explained: its
thresholds against the best any client could do in the item (:mod:`simulator.check.best`),
its level (pass, warn or fail: :mod:`simulator.check.diagnosis` gives the rule), the causes
of what it did not serve in the client's own settings, and the fix a re-run confirmed. The
verdict is one line: *ship* when no checklist item fails and no row fails (warnings allowed,
and named), else *do not ship* and why. Pure: it formats results it is given, and
:func:`render_html` returns the page as a string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from simulator.check.battery import BatteryItem
from simulator.check.best import ItemBest, against_best
from simulator.check.checklist import Item
from simulator.check.diagnosis import Diagnosis
from simulator.console import wrap
from simulator.report.page_parts import CSS
from simulator.report.thresholds import Verdict
from simulator.report.units import format_value

__all__ = ["KEY_METRICS", "ClientCard", "ItemResult", "format_card", "render_html", "verdict_line"]

# The columns every scorecard shows; a metric an item's threshold names is added after them.
KEY_METRICS = ("success_rate", "amplification", "p95_latency_ms", "cost_usd")
_HEADS = {"success_rate": "success", "amplification": "amplif", "p95_latency_ms": "p95 latency",
          "cost_usd": "cost", "refusal_rate": "refused",
          "p99_latency_ms": "p99 latency"}  # fmt: skip
_MARK = {True: "✓", False: "✗"}


@dataclass(frozen=True)
class ItemResult:
    item: BatteryItem
    metrics: dict[str, Any]  # metric -> value, as summarize() gives them
    verdicts: list[Verdict]
    run_dir: str = ""
    best: ItemBest | None = None
    diagnosis: Diagnosis | None = None

    @property
    def passed(self) -> bool:
        """Every threshold held."""
        return all(v.passed for v in self.verdicts)

    @property
    def level(self) -> str:
        """pass, warn (a deliberate trade-off failed a threshold) or fail."""
        if self.diagnosis is not None:
            return self.diagnosis.level
        return "pass" if self.passed else "fail"

    def rule(self, v: Verdict) -> str:
        """A threshold as the battery states it: ``>= best - 0.05 (0.95)`` or ``< 60000``."""
        given = self.item.thresholds.get(v.metric, v.expression)
        return f"{given} (= {v.expression.split()[-1]})" if against_best(given) else given

    def verdict_for(self, metric: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.metric == metric), None)


@dataclass
class ClientCard:
    name: str
    description: str
    checklist: list[Item]
    results: list[ItemResult] = field(default_factory=list)

    @property
    def failed_items(self) -> list[Item]:
        return [i for i in self.checklist if i.level == "fail"]

    @property
    def failed_results(self) -> list[ItemResult]:
        return [r for r in self.results if r.level == "fail"]

    @property
    def warned_results(self) -> list[ItemResult]:
        return [r for r in self.results if r.level == "warn"]

    @property
    def ships(self) -> bool:
        return not self.failed_items and not self.failed_results


def columns(cards: Sequence[ClientCard]) -> list[str]:
    extra = [
        v.metric
        for card in cards
        for r in card.results
        for v in r.verdicts
        if v.metric not in KEY_METRICS
    ]
    return [*KEY_METRICS, *dict.fromkeys(extra)]


def _cell(result: ItemResult, metric: str) -> tuple[str, bool | None]:
    v = result.verdict_for(metric)
    return format_value(metric, result.metrics.get(metric)), (None if v is None else v.passed)


def verdict_line(cards: Sequence[ClientCard]) -> str:
    """One line: ship, or do not ship and which clients fail on what."""
    if all(c.ships for c in cards):
        items = sum(len(c.results) for c in cards)
        who = "the client meets" if len(cards) == 1 else f"all {len(cards)} clients meet"
        warned = [(c, r) for c in cards for r in c.warned_results]
        if not warned:
            hold = "holds" if len(cards) == 1 else "hold"
            return (
                f"verdict: ship. {who} the checklist and {hold} every threshold of "
                f"{items} battery run{'s' if items != 1 else ''} (exit 0)"
            )
        shed = "; ".join(
            f"{c.name} sheds load on purpose in {r.item.key}"
            + (f": {r.diagnosis.cost}" if r.diagnosis and r.diagnosis.cost else "")
            for c, r in warned
        )
        n = len(warned)
        return f"verdict: ship, with {n} warning{'s' * (n > 1)}. {shed} (exit 0)"
    parts = []
    for c in cards:
        if c.ships:
            continue
        why = []
        if c.failed_items:
            why.append(f"{len(c.failed_items)} checklist item{'s' * (len(c.failed_items) > 1)}")
        if c.failed_results:
            why.append(f"{', '.join(r.item.key for r in c.failed_results)} in the battery")
        parts.append(f"{c.name} fails {' and '.join(why)}")
    return f"verdict: do not ship. {'; '.join(parts)} (exit 1)"


def format_card(card: ClientCard, metrics: Sequence[str], width: int = 100) -> str:
    """The card as terminal text, each line at most ``width`` columns."""
    lines = [wrap(f"{card.name}: {card.description}" if card.description else card.name)]
    lines.append("\n  checklist")
    for item in card.checklist:
        fix = f" -> change {item.field}" if item.level != "pass" and item.field else ""
        text = f"    {item.level.upper():<5} {item.title}: {item.reason}{fix}"
        lines.append(wrap(text, hanging=" " * 6))
    if card.results:
        lines.append("\n  battery")
        # as wide as the line allows, up to 14 columns a metric ("603,832 ms ✗" needs 13)
        w = max(13, min(14, (width - 22) // max(len(metrics), 1)))
        head = f"    {'item':<18}" + "".join(f"{_HEADS.get(m, m[: w - 2]):>{w}}" for m in metrics)
        lines.append(head[:width])
        for r in card.results:
            row = f"    {r.item.key:<18}"
            for m in metrics:
                text, passed = _cell(r, m)
                row += f"{text + ('' if passed is None else ' ' + _MARK[passed]):>{w}}"
            lines.append(row[:width])
        lines.append("    ✓/✗: the item's threshold on that metric held or failed")
        lines.append("\n  each row against the best any client could do, its causes and fix")
        for r in card.results:
            lines += _explain_lines(r)
    return "\n".join(lines)


def _explain_lines(r: ItemResult) -> list[str]:
    """A row's level, thresholds, best, causes, fix: terminal lines."""
    rules = ", ".join(f"{v.metric} {r.rule(v)}" for v in r.verdicts) or "no thresholds"
    pad = " " * 10
    out = [wrap(f"    {r.level.upper():<5} {r.item.key}: {rules}", hanging=pad)]
    if r.best is not None:
        out.append(wrap(f"{pad}{r.best.describe()}", hanging="  "))
    d = r.diagnosis
    if d is None:
        return out
    label = "not served" if d.level == "pass" else "cause"  # a passing row's give-ups
    for cause in d.causes:
        out.append(wrap(f"{pad}{label}: {cause}", hanging="  "))
    if d.note:
        out.append(wrap(f"{pad}{d.note}", hanging="  "))
    if d.fixes:
        out.append(wrap(f"{pad}fix: {d.fix_text()}", hanging="  "))
    elif d.level == "fail":
        out.append(wrap(f"{pad}fix: none found by re-running with the changes the causes "
                        "suggest; see the run folder", hanging="  "))  # fmt: skip
    return out


# --------------------------------------------------------------------------- HTML


def _explain_html(r: ItemResult) -> str:
    rules = ", ".join(f"{v.metric} {r.rule(v)}" for v in r.verdicts) or "no thresholds"
    parts = [f"<b>{escape(r.level)}</b>: {escape(rules)}"]
    if r.best is not None:
        parts.append(escape(r.best.describe()))
    d = r.diagnosis
    if d is not None:
        label = "not served" if d.level == "pass" else "cause"
        parts += [f"{label}: {escape(c)}" for c in d.causes]
        if d.note:
            parts.append(escape(d.note))
        if d.fixes:
            parts.append(f"<b>fix</b>: {escape(d.fix_text())}")
    if r.run_dir:
        parts.append(f"run folder: <code>{escape(r.run_dir)}</code>")
    return "<br>".join(parts)


# The report's CSS keeps every cell on one line; here the text cells wrap, so the page fits
# a 1280 px window (tests/test_check.py checks it has no fixed width past that).
CHECK_CSS = (
    ".pass{background:#e7f6ea}.fail{background:#fde8e8}.warn{background:#fff6dd}"
    "td.text{white-space:normal;text-align:left;max-width:34rem}th{text-align:left}"
    "tr.why td{white-space:normal;text-align:left;font-size:.85rem;color:#333}"
    "code{overflow-wrap:anywhere}table{max-width:100%}"
)


def render_html(cards: Sequence[ClientCard], title: str, mode: str) -> str:
    metrics = columns(cards)
    body = [f"<h1>{escape(title)}</h1>",
            f"<p class=verdict><b>{escape(verdict_line(cards))}</b></p>",
            f"<p>Battery run {escape(mode)}; each fix was checked by re-running its item in "
            "virtual time.</p>"]  # fmt: skip
    for card in cards:
        body.append(f"<h2>{escape(card.name)}</h2>")
        if card.description:
            body.append(f"<p>{escape(card.description)}</p>")
        body.append("<h3>Production checklist</h3><table><tr><th>item</th><th>result</th>"
                    "<th>why</th><th>field to change</th></tr>")  # fmt: skip
        for item in card.checklist:
            body.append(
                f"<tr><td class=text>{escape(item.title)}</td><td class={item.level}>"
                f"{item.level}</td><td class=text>{escape(item.reason)}</td>"
                f"<td class=text><code>{escape(item.field)}</code></td></tr>"
            )
        body.append("</table>")
        if card.results:
            body.append("<h3>Chaos battery</h3><table><tr><th>item</th><th>result</th>"
                        + "".join(f"<th>{escape(_HEADS.get(m, m))}</th>" for m in metrics)
                        + "</tr>")  # fmt: skip
            for r in card.results:
                cells = []
                for m in metrics:
                    text, passed = _cell(r, m)
                    v = r.verdict_for(m)
                    klass = "" if passed is None else (" class=pass" if passed else " class=fail")
                    tip = f' title="{escape(m)} {escape(v.expression)}"' if v else ""
                    mark = "" if passed is None else f" {_MARK[passed]}"
                    cells.append(f"<td{klass}{tip}>{escape(text + mark)}</td>")
                body.append(
                    f"<tr><td class=text>{escape(r.item.key)}<br>"
                    f"<small>{escape(r.item.title)}</small></td>"
                    f"<td class={r.level}>{r.level}</td>{''.join(cells)}</tr>"
                    f"<tr class=why><td colspan={len(metrics) + 2}>{_explain_html(r)}</td></tr>"
                )
            body.append("</table>")
            body.append(
                "<p><small>A ✓ or ✗ marks a cell with a threshold (hover for it). "
                "<code>stampede report FOLDER</code> builds the full report of one run."
                "</small></p>"
            )
    style = CSS + CHECK_CSS
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
