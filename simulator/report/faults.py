"""Two report tables for chaos runs: the faults the clients met, and success over time.

Why: a fault that breaks a response (a reset, a hang, a cut stream) is no HTTP status, so the
status counts do not show it; the first table counts each kind of break per strategy (the
trace's ``fault`` field). A metastable failure is a tail: the trouble outlives what set it
off. The second table shows it as the success rate of the logical requests that arrived in
each tenth of the run, so a strategy that never recovers reads as a row of zeros after the
spike, and one that recovers comes back to 100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd

__all__ = ["CLIENT_FAULT_KINDS", "fault_counts", "faults_section", "success_over_time"]

CLIENT_FAULT_KINDS = ("connection", "timeout", "stream_cut", "stream_error", "malformed")
WINDOWS = 10


def fault_counts(df: pd.DataFrame, strategies: Sequence[str]) -> dict[str, dict[str, int]]:
    """Attempts that broke, per strategy and kind (empty when no attempt broke)."""
    if "fault" not in df.columns:
        return {}
    broke = df[(df["kind"] == "attempt") & df["fault"].notna()]
    if broke.empty:
        return {}
    counts = broke.groupby(["strategy", "fault"], observed=True).size()
    return {s: {k: int(counts.get((s, k), 0)) for k in CLIENT_FAULT_KINDS} for s in strategies}


MIN_SPAN_S = 1.0  # scenario seconds of arrivals, at least, for a table over time


def success_over_time(
    df: pd.DataFrame, strategies: Sequence[str], windows: int = WINDOWS
) -> tuple[list[float], dict[str, list[float | None]]]:
    """Window starts (scenario seconds) and, per strategy, the success rate of the logical
    requests that arrived in each window (None where none arrived). Nothing when the
    arrivals span under :data:`MIN_SPAN_S`: a burst has no "over time" to show."""
    req = df[df["kind"] == "request"]
    if req.empty:
        return [], {}
    end = float(req["start_t"].max())
    if end - float(req["start_t"].min()) < MIN_SPAN_S:
        return [], {}
    width = max(end, 1e-9) / windows
    edges = [i * width for i in range(windows)]
    out: dict[str, list[float | None]] = {}
    for s in strategies:
        own = req[req["strategy"] == s]
        idx = np.minimum((own["start_t"].to_numpy() / width).astype(int), windows - 1)
        ok = own["success"].to_numpy(dtype=bool)
        rates: list[float | None] = []
        for i in range(windows):
            mask = idx == i
            rates.append(float(ok[mask].mean()) if mask.any() else None)
        out[s] = rates
    return edges, out


def faults_section(df: pd.DataFrame, strategies: Sequence[str]) -> str:
    """The two tables as HTML (the fault table only when some attempt broke)."""
    parts: list[str] = []
    counts = fault_counts(df, strategies)
    if counts:
        head = "".join(f'<th scope="col">{escape(k)}</th>' for k in CLIENT_FAULT_KINDS)
        rows = "".join(
            f'<tr><th scope="row">{escape(s)}</th>'
            + "".join(f"<td>{counts[s][k]:,}</td>" for k in CLIENT_FAULT_KINDS)
            + "</tr>"
            for s in strategies
        )
        parts.append(
            '<h2>Faults the clients met</h2><p class="muted">Attempts that broke rather than '
            "being answered or refused, by how the client saw it: a reset or a closed "
            "connection, a timeout, a stream that ended early or with an error event, a body "
            "that was not JSON.</p>"
            f'<table><thead><tr><th scope="col">strategy</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    edges, rates = success_over_time(df, strategies)
    if edges:
        head = "".join(f'<th scope="col">{e:,.0f} s</th>' for e in edges)
        rows = "".join(
            f'<tr><th scope="row">{escape(s)}</th>'
            + "".join("<td>–</td>" if r is None else f"<td>{r:.0%}</td>" for r in rates[s])
            + "</tr>"
            for s in strategies
        )
        parts.append(
            '<h2>Success over time</h2><p class="muted">The share of logical requests that '
            "succeeded, by when they arrived (each column a tenth of the run). A failure that "
            "outlives its cause shows as a tail of low columns.</p>"
            f'<table><thead><tr><th scope="col">strategy</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    return "".join(parts)
