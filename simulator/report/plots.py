"""The report's charts: the registry :data:`PLOTS`, and the per-strategy comparisons.

Timelines over scenario time live in :mod:`simulator.report.timelines`, the shared look in
:mod:`simulator.report.chart_style`. Each function takes the trace DataFrame
(``metrics.load_traces``), the strategies in report order and an output path; it returns the
path, or None when the run has no data for that chart. Data are aggregated with numpy before
drawing (bins, quantiles), so a chart costs the same for a thousand records as for millions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator

from simulator.report.chart_style import (
    OUTCOME_COLORS,
    STYLE,
    figure,
    rows_of,
    rows_of_kind,
    save,
    strategy_colors,
    styled,
    summary_or_compute,
)
from simulator.report.timelines import fallback_share, herd_waves, limiter_view
from simulator.report.units import format_value

__all__ = [
    "OUTCOME_COLORS",
    "PLOTS",
    "STYLE",
    "amplification_giveups",
    "cost_per_success",
    "fallback_share",
    "herd_waves",
    "latency_cdf",
    "limiter_view",
    "render_all",
    "retry_delays",
    "strategy_colors",
    "ttft_distribution",
]


@styled
def latency_cdf(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Share of successful logical requests finished within x ms, per strategy (log x)."""
    req = rows_of_kind(df, "request", ("strategy", "success", "latency_ms"))
    ok = req[req["success"].to_numpy(dtype=bool)]
    if ok.empty:
        return None
    fig, axes = figure(height=4.2)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    q = np.linspace(0, 100, 501)
    for name in strategies:
        lat = rows_of(ok, name)["latency_ms"].dropna().to_numpy(dtype=float)
        if lat.size == 0:
            continue
        x = np.maximum(np.percentile(lat, q), 0.1)  # quantiles: 501 points whatever the size
        p95 = float(np.percentile(lat, 95))
        n_req = len(rows_of(req, name))
        label = f"{name} (p95 {p95:,.0f} ms; {100 * lat.size / n_req:.0f}% of requests succeeded)"
        ax.plot(x, q, color=colors[name], linewidth=2, label=label)
    ax.axhline(95, color="black", linestyle=":", linewidth=1)
    ax.annotate(" p95", (0, 95.5), xycoords=("axes fraction", "data"), va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylim(0, 100)
    ax.set_xlabel("end-to-end latency incl. retries and waits (ms, log scale)")
    ax.set_ylabel("successful requests done (%)")
    ax.legend(loc="lower right")
    ax.set_title(
        "Latency CDF of successful requests — further left is faster; give-ups are not in it"
    )
    return save(fig, path)


@styled
def amplification_giveups(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Two bar panels: attempts per logical request, and share of requests given up."""
    per = summary_or_compute(df, strategies, summary)["strategies"]
    if not any(per[s]["logical_requests"] for s in strategies):
        return None
    fig, axes = figure(1, 2, height=3.6)
    colors = [strategy_colors(strategies)[s] for s in strategies]
    amp = [per[s]["amplification"] or 0.0 for s in strategies]
    give = [100 * (per[s]["give_up_rate"] or 0.0) for s in strategies]
    for ax, values, fmt, ylabel, title in (
        (axes[0, 0], amp, "{:.2f}×", "attempts per logical request (×)", "Amplification"),
        (axes[0, 1], give, "{:.1f}%", "logical requests given up (%)", "Give-up rate"),
    ):
        bars = ax.bar(list(strategies), values, color=colors)
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("strategy")
        ax.set_title(title + " — lower is better")
        ax.margins(y=0.15)
        ax.tick_params(axis="x", rotation=15)
    axes[0, 0].axhline(1.0, color="black", linestyle=":", linewidth=1, label="1× = no retries")
    axes[0, 0].legend(loc="upper right")
    fig.suptitle("Retry cost: how many calls each strategy makes, and how many requests it loses")
    return save(fig, path)


@styled
def ttft_distribution(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Box plot of time to first token per strategy, from each request's start (retries and
    waits included); None when no request succeeded."""
    req = rows_of_kind(df, "request", ("strategy", "success", "ttft_ms"))
    ok = req[req["success"].to_numpy(dtype=bool)]
    stats, names = [], []
    for name in strategies:
        v = rows_of(ok, name)["ttft_ms"].dropna().to_numpy(dtype=float)
        if v.size == 0:
            continue
        p5, p25, p50, p75, p95 = np.percentile(v, [5, 25, 50, 75, 95])
        stats.append(
            {
                "med": p50,
                "q1": p25,
                "q3": p75,
                "whislo": p5,
                "whishi": p95,
                "fliers": [np.percentile(v, 99)],
                "label": name,
            }
        )
        names.append(name)
    if not stats:
        return None
    fig, axes = figure(height=1.4 + 0.55 * len(names))
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    art = ax.bxp(
        stats[::-1],
        orientation="horizontal",
        patch_artist=True,
        widths=0.6,
        flierprops={"marker": "D", "markersize": 5, "markerfacecolor": "black"},
    )
    for box, name in zip(art["boxes"], names[::-1], strict=True):
        box.set_facecolor(colors[name])
        box.set_alpha(0.75)
    ax.set_xlabel(
        "time to first token of successful requests (ms), from the request's start: retries, "
        "waits and fallback included; box p25–p75, whiskers p5–p95, ◆ p99",
        wrap=True,
    )
    ax.set_ylabel("strategy")
    ax.set_title("Time to first token — what a user waits before seeing anything")
    return save(fig, path)


@styled
def cost_per_success(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Cost per successful request per strategy, each bar annotated with its cost per 1,000
    logical requests and its cache hit rate.

    Per success, not per request: a strategy that gives up cheaply would look thrifty per
    request while it buys fewer answers.
    """
    per = summary_or_compute(df, strategies, summary)["strategies"]
    values = [per[s]["cost_per_success_usd"] for s in strategies]
    if all(v is None for v in values):
        return None
    fig, axes = figure(height=3.8)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    bars = ax.bar(
        list(strategies), [v or 0.0 for v in values], color=[colors[s] for s in strategies]
    )
    labels = []
    for s, v in zip(strategies, values, strict=True):
        hit = per[s]["cache_hit_rate"]
        cache = "no tokens" if hit is None else f"cache hits {100 * hit:.0f}%"
        per_1k = format_value("cost_per_1k_requests_usd", per[s]["cost_per_1k_requests_usd"])
        labels.append(f"{format_value('cost_per_success_usd', v)}\n{per_1k} / 1k req\n{cache}")
    ax.bar_label(bars, labels=labels, padding=2, fontsize=8.5)
    ax.margins(y=0.4)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("cost per successful request (USD)")
    ax.set_xlabel("strategy")
    ax.set_title(
        "Cost per success — retries and fallbacks to pricier models raise it, cache hits lower it"
    )
    return save(fig, path)


@styled
def retry_delays(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Histogram of waits before retries (attempt > 1) per strategy, as shares of its retries."""
    att = rows_of_kind(df, "attempt", ("strategy", "attempt", "slept_s"))
    retries = att[(att["attempt"] > 1).to_numpy(dtype=bool)]
    if retries.empty:
        return None
    slept = retries["slept_s"].to_numpy(dtype=float)
    hi = max(float(np.percentile(slept, 99.5)), 0.1)
    edges = np.linspace(0, hi, 61)
    fig, axes = figure(height=3.8)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    for name in strategies:
        v = rows_of(retries, name)["slept_s"].to_numpy(dtype=float)
        if v.size == 0:
            continue
        counts, _ = np.histogram(np.clip(v, 0, hi), bins=edges)
        share = 100 * counts / v.size
        ax.stairs(
            share, edges, color=colors[name], linewidth=1.8, label=f"{name} ({v.size:,} retries)"
        )
    ax.set_xlabel("wait before the retry (s, scenario time; last bin holds the longest 0.5%)")
    ax.set_ylabel("share of the strategy's retries (%)")
    ax.legend(loc="upper right")
    ax.set_title(
        "Retry delays — one tall spike means clients retry in lockstep; a spread means jitter"
    )
    return save(fig, path)


PLOTS: dict[str, Callable[..., Path | None]] = {
    "herd_waves": herd_waves,
    "latency_cdf": latency_cdf,
    "amplification_giveups": amplification_giveups,
    "fallback_share": fallback_share,
    "ttft_distribution": ttft_distribution,
    "cost_per_success": cost_per_success,
    "limiter_view": limiter_view,
    "retry_delays": retry_delays,
}
_NEEDS_SUMMARY = {"herd_waves", "amplification_giveups", "cost_per_success"}
_NEEDS_SCENARIO = {"limiter_view"}


def render_all(
    df: pd.DataFrame,
    strategies: Sequence[str],
    out_dir: Path,
    summary: dict[str, Any] | None = None,
    scenario: Mapping[str, Any] | None = None,
) -> dict[str, Path | None]:
    """Draw every chart in :data:`PLOTS` into ``out_dir/<name>.png``.

    ``scenario`` (the run's scenario mapping) supplies the provider limits some charts mark.
    """
    out: dict[str, Path | None] = {}
    for name, fn in PLOTS.items():
        path = Path(out_dir) / f"{name}.png"
        if name in _NEEDS_SUMMARY:
            out[name] = fn(df, strategies, path, summary=summary)
        elif name in _NEEDS_SCENARIO:
            out[name] = fn(df, strategies, path, scenario=scenario)
        else:
            out[name] = fn(df, strategies, path)
    return out
