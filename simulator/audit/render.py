"""An audit's three outputs: the terminal table, ``audit.json`` and ``audit.html``.

The page uses the report's stylesheet and table conventions (``simulator/report/page_parts``),
so an audit reads like a run's report: the checklist first, then every finding with its
measurement and the sentence that explains it.
"""

from __future__ import annotations

import json
import textwrap
from html import escape
from pathlib import Path

from simulator.audit.findings import Audit
from simulator.report.page_parts import CSS

__all__ = ["audit_html", "audit_table", "write_audit"]

_MARK = {"pass": "pass", "fail": "FAIL", "warn": "warn", "info": "info", "not shown": "not shown"}
_CSS_EXTRA = """
td.pass{background:#c8e6c9;color:#1b5e20;font-weight:700}
td.fail{background:#ffcdd2;color:#b71c1c;font-weight:700}
td.warn{background:#fff3cd;color:#7a5b00}td.info,td.not-shown{color:#666}
td.text{text-align:left;white-space:normal}
"""


def audit_table(result: Audit, width: int = 100) -> str:
    """The findings as fixed-width lines (at most ``width`` columns)."""
    head = f"{'finding':<36} {'result':<9} measurement"
    lines = [head, "-" * len(head)]
    for f in result.findings:
        line = f"{f.title:<36} {_MARK[f.status]:<9} {f.value}"
        lines.append(line[:width])
    lines.append("")
    lines.append("checklist (the article's production checklist):")
    for c in result.checklist:
        lines.append(f"  {_MARK[c.status]:<9} {c.title}"[:width])
    failures = result.failures
    if failures:
        lines.append("")
        for f in failures:
            lines.append(textwrap.fill(f"FAIL {f.title}: {f.detail}", width,
                                       subsequent_indent="    "))  # fmt: skip
    verdict = "passes" if result.passed else f"fails {len(failures)} finding(s)"
    lines.append("")
    lines.append(
        f"{result.requests} logical requests, {result.attempts} attempts: the client {verdict}"
    )
    return "\n".join(lines)


def audit_html(result: Audit, journal: str) -> str:
    verdict = (
        '<p class="winner">The client passes every finding the journal could show.</p>'
        if result.passed
        else f'<p class="banner">The client fails {len(result.failures)} finding(s).</p>'
    )
    rows = []
    for c in result.checklist:
        css = c.status.replace(" ", "-")
        rows.append(
            f'<tr><th scope="row">{escape(c.title)}</th><td class="{css}">{_MARK[c.status]}</td>'
            f'<td class="text">{escape(", ".join(c.findings))}</td></tr>'
        )
    checklist = (
        '<table><thead><tr><th scope="col">checklist item</th><th scope="col">result</th>'
        f'<th scope="col">from findings</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    rows = []
    for f in result.findings:
        css = f.status.replace(" ", "-")
        rows.append(
            f'<tr><th scope="row">{escape(f.title)}<br><span class="sub">{escape(f.id)}'
            f'</span></th><td class="{css}">{_MARK[f.status]}</td><td>{escape(f.value)}</td>'
            f'<td class="text">{escape(f.detail)}</td></tr>'
        )
    findings = (
        '<table><thead><tr><th scope="col">finding</th><th scope="col">result</th>'
        '<th scope="col">measurement</th><th scope="col">what the journal shows</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>stampede audit</title>"
        f"<style>{CSS}{_CSS_EXTRA}</style></head><body>"
        f"<h1>Client audit</h1><p class='muted'>{escape(journal)}: {result.requests} logical "
        f"requests, {result.attempts} attempts, {result.runs} run(s)</p>{verdict}"
        f"<h2>The production checklist</h2>{checklist}"
        "<p class='note'>“not shown”: nothing in the journal could show it (no outage "
        "happened, so no fallback was needed); never a failure.</p>"
        f"<h2>Findings</h2>{findings}"
        "<p class='note'>Definitions: <code>simulator/audit/findings.py</code>; how attempts "
        "are grouped into logical requests: <code>simulator/audit/grouping.py</code>.</p>"
        "</body></html>"
    )


def write_audit(result: Audit, out: Path, journal: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    js, page = out / "audit.json", out / "audit.html"
    js.write_text(json.dumps({"journal": journal, **result.to_dict()}, indent=2) + "\n")
    page.write_text(audit_html(result, journal))
    return js, page
