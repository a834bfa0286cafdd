"""Charts over scenario time, one row per strategy where strategies would hide each other.

Each function takes the trace DataFrame (``metrics.load_traces``), the strategies in report
order and an output path, and returns the path, or None when the run has no data for it.
Counts are binned with numpy before drawing, so a chart costs the same for a thousand
records as for millions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from simulator.report.chart_style import (
    MODEL_PALETTE,
    OUTCOME_COLORS,
    OUTCOME_LABELS,
    figure,
    panel_title,
    rows_of,
    rows_of_kind,
    save,
    strategy_colors,
    styled,
    summary_or_compute,
    time_edges,
)
from simulator.report.metrics import (
    RETRY_PEAK_WINDOW_S,
    busiest_window,
    outcome_class,
    retry_starts,
)
from simulator.report.units import format_value

__all__ = ["fallback_share", "herd_waves", "limiter_view", "model_limits"]

_NO_DATA = "#e6e6e6"


def _stack_band(
    ax: Axes,
    edges: np.ndarray,
    bottom: np.ndarray,
    height: np.ndarray,
    color: str,
    label: str | None = None,
) -> np.ndarray:
    """One band of a stacked per-bin area (bins between ``edges``); returns its top."""
    top = bottom + height
    ax.fill_between(
        edges,
        np.append(bottom, bottom[-1]),
        np.append(top, top[-1]),
        step="post",
        color=color,
        linewidth=0,
        label=label,
    )
    return top


@styled
def herd_waves(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Attempt rate over time by outcome, one panel per strategy (the headline chart).

    A ▼ marks each strategy's busiest 250 ms of retries, the window behind ``retry_peak_rps``.
    """
    att = rows_of_kind(df, "attempt", ("strategy", "attempt", "status", "start_t", "t"))
    if att.empty:
        return None
    per = summary_or_compute(df, strategies, summary)["strategies"]
    edges = time_edges(float(att["t"].max()))
    width = edges[1] - edges[0]
    # Each panel its own y scale: a flood of immediate retries would flatten the others'
    # waves, and the shape of each strategy's retries is the point.
    fig, axes = figure(len(strategies), 1, height=1.2 + 1.9 * len(strategies), sharex=True)
    colors = strategy_colors(strategies)
    cls_all = outcome_class(att["status"])
    present = [k for k in OUTCOME_COLORS if (cls_all == k).any()]
    for ax, name in zip(axes[:, 0], strategies, strict=True):
        a = rows_of(att, name)
        starts = a["start_t"].to_numpy(dtype=float)
        cls = outcome_class(a["status"])
        bottom = np.zeros(edges.size - 1)
        for key in present:
            counts, _ = np.histogram(starts[cls == key], bins=edges)
            bottom = _stack_band(
                ax, edges, bottom, counts / width, OUTCOME_COLORS[key], OUTCOME_LABELS[key]
            )
        m = per[name]
        label = f"{name} — herd index {format_value('herd_index', m['herd_index'])}"
        retries = retry_starts(a)
        if retries.size:
            _, t_peak = busiest_window(retries, RETRY_PEAK_WINDOW_S)
            i = min(int(np.searchsorted(edges, t_peak, "right")) - 1, bottom.size - 1)
            ax.plot(
                [t_peak + RETRY_PEAK_WINDOW_S / 2],
                [bottom[i]],
                marker="v",
                markersize=9,
                color="black",
                linestyle="none",
                clip_on=False,
            )
            peak = format_value("retry_peak_rps", m["retry_peak_rps"])
            label += f", retry peak {peak} (▼), {len(retries):,} retries"
        elif a.empty:
            label += " (no attempts)"
        else:
            label += ", no retries"
        panel_title(ax, label, colors[name])
        ax.set_ylabel("attempts / s")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if (att["attempt"] > 1).any():
        handles.append(Line2D([], [], marker="v", color="black", linestyle="none", markersize=8))
        labels.append("busiest 250 ms of retries")
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    axes[-1, 0].set_xlabel(f"scenario time (s), {width:g} s bins by attempt start")
    axes[-1, 0].set_xlim(0, edges[-1])
    for ax in axes[:, 0]:
        ax.set_ylim(bottom=0)
    fig.suptitle(
        "Attempts per second by outcome — retries without jitter return in synchronised waves, "
        "jitter flattens them"
    )
    return save(fig, path)


@styled
def fallback_share(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Share of successful requests by serving model over time, one panel per strategy.

    Bins are wide enough to hold about five successes each on average, so a share is not a
    coin flip; a bin with no success at all is drawn grey. None when no request succeeded or
    every success came from one model (no fallback).
    """
    req = rows_of_kind(df, "request", ("strategy", "success", "model", "t"))
    ok = req[req["success"].to_numpy(dtype=bool) & req["model"].notna().to_numpy(dtype=bool)]
    counts_by_model = ok["model"].value_counts()
    models = [str(m) for m, n in counts_by_model.items() if n > 0]
    if len(models) < 2:
        return None
    model_color = {m: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, m in enumerate(models)}
    per_strategy = len(ok) / max(len(strategies), 1)
    edges = time_edges(float(req["t"].max()), max_bins=int(min(120, max(10, per_strategy / 5))))
    fig, axes = figure(
        len(strategies), 1, height=1.2 + 1.7 * len(strategies), sharex=True, sharey=True
    )
    colors = strategy_colors(strategies)
    for ax, name in zip(axes[:, 0], strategies, strict=True):
        s = rows_of(ok, name)
        t = s["t"].to_numpy(dtype=float)
        counts = np.array(
            [
                np.histogram(t[(s["model"] == m).to_numpy(dtype=bool)], bins=edges)[0]
                for m in models
            ],
            dtype=float,
        )
        total = counts.sum(axis=0)
        share = np.divide(100 * counts, total, out=np.zeros_like(counts), where=total > 0)
        empty = np.where(total == 0, 100.0, 0.0)
        ax.fill_between(
            edges, 0, np.append(empty, empty[-1]), step="post", color=_NO_DATA, linewidth=0
        )
        bottom = np.zeros(edges.size - 1)
        for m, row in zip(models, share, strict=True):
            bottom = _stack_band(ax, edges, bottom, row, model_color[m])
        panel_title(ax, f"{name} — {len(s):,} successes", colors[name])
        ax.set_ylabel("successes (%)")
        ax.set_ylim(0, 100)
    handles = [Patch(color=model_color[m], label=f"served by {m}") for m in models]
    handles.append(Patch(color=_NO_DATA, label="no success in this bin"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    axes[-1, 0].set_xlim(0, edges[-1])
    axes[-1, 0].set_xlabel(f"scenario time (s), {edges[1] - edges[0]:g} s bins by request end")
    fig.suptitle(
        "Which model served the successes — fallback models fill in while the primary fails"
    )
    return save(fig, path)


def model_limits(scenario: Mapping[str, Any] | None, model: str) -> tuple[float | None, ...]:
    """(requests per minute, tokens per minute) the scenario's mock provider gives ``model``."""
    provider = (scenario or {}).get("provider") or {}
    if provider.get("catalog_limits"):  # the catalogue's tier limits: the mock's own rule
        from simulator.demand import catalog_limits

        return catalog_limits(provider, model)
    own = (provider.get("models") or {}).get(model) or {}
    rpm = own.get("rpm") or provider.get("default_rpm")
    tpm = own.get("tpm") or provider.get("default_tpm")
    return (float(rpm) if rpm else None, float(tpm) if tpm else None)


def _carried_forward(starts: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Lowest value seen per bin, carried forward through bins without attempts.

    The header is only observed when an attempt returns, so an empty bin repeats the last
    observation; after the strategy's last attempt the line stops (NaN).
    """
    n = edges.size - 1
    idx = np.clip(np.searchsorted(edges, starts, "right") - 1, 0, n - 1)
    low = pd.Series(values).groupby(idx).min().reindex(range(n))
    filled = low.ffill().to_numpy(dtype=float, copy=True)
    filled[int(idx.max()) + 1 :] = np.nan
    return filled


@styled
def limiter_view(
    df: pd.DataFrame,
    strategies: Sequence[str],
    path: Path,
    scenario: Mapping[str, Any] | None = None,
) -> Path | None:
    """Remaining-requests and remaining-tokens headers over time, for the primary model.

    The primary model is the one most first attempts went to; limits differ per model, so
    mixing models in one line would be meaningless. The scenario, when given, supplies the
    RPM/TPM limits drawn as dashed lines. None when no attempt carried the headers.
    """
    att = rows_of_kind(
        df,
        "attempt",
        ("strategy", "attempt", "model", "start_t", "t", "remaining_requests", "remaining_tokens"),
    )
    att = att[
        att["remaining_requests"].notna().to_numpy(dtype=bool)
        | att["remaining_tokens"].notna().to_numpy(dtype=bool)
    ]
    if att.empty:
        return None
    firsts = att["model"][(att["attempt"] == 1).to_numpy(dtype=bool)]
    primary = str((firsts if len(firsts) else att["model"]).value_counts().index[0])
    att = att[(att["model"] == primary).to_numpy(dtype=bool)]
    own = {name: rows_of(att, name) for name in strategies}
    edges = time_edges(float(att["t"].max()))
    fig, axes = figure(2, 1, height=5.6, sharex=True)
    colors = strategy_colors(strategies)
    limits = model_limits(scenario, primary)
    for ax, col, unit, limit in (
        (axes[0, 0], "remaining_requests", "requests", limits[0]),
        (axes[1, 0], "remaining_tokens", "tokens", limits[1]),
    ):
        lo, hi = np.inf, -np.inf
        for name, a in own.items():
            v = a[col].to_numpy(dtype=float)
            keep = ~np.isnan(v)
            if not keep.any():
                continue
            line = _carried_forward(a["start_t"].to_numpy(dtype=float)[keep], v[keep], edges)
            # steps drawn as a polyline so a NaN ends the line instead of dropping it to 0
            x, y = np.repeat(edges, 2)[1:-1], np.repeat(line, 2)
            ax.plot(x, y, color=colors[name], linewidth=1.8, label=name)
            lo, hi = min(lo, float(v[keep].min())), max(hi, float(v[keep].max()))
        if limit:
            ax.axhline(limit, color="black", linestyle="--", linewidth=1)
            per_min = "RPM" if unit == "requests" else "TPM"
            ax.annotate(
                f"limit {limit:,.0f} {per_min}",
                (1, limit),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=8,
            )
            hi = max(hi, limit)
            if np.isfinite(lo):
                # say how close it came in numbers too: a thin dip is hard to read at scale
                ax.annotate(
                    f"lowest seen: {lo:,.0f} = {100 * lo / limit:.1f}% of the limit",
                    (0.005, 0.04),
                    xycoords="axes fraction",
                    fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"},
                )
        if np.isfinite(lo):
            # from 0 (exhausted) always: a zoomed axis turns a dip from 500 to 497 into a cliff
            ax.set_ylim(0, hi + 0.08 * max(hi, 1.0))
        ax.set_ylabel(f"remaining {unit}\n(lowest seen per bin)")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1))
    labels.append("provider limit")
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    axes[-1, 0].set_xlim(0, edges[-1])
    axes[1, 0].set_xlabel(
        f"scenario time (s), {edges[1] - edges[0]:g} s bins by attempt start; "
        "a flat step repeats the last header seen"
    )
    fig.suptitle(
        f"Limiter headroom on {primary} — at 0 the RPM/TPM window is exhausted and retries get 429s"
    )
    return save(fig, path)
