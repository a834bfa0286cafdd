"""The report's charts: PNG files drawn with matplotlib's Agg canvas, one style for all.

Each function takes the trace DataFrame (``metrics.load_traces``), the strategies in report
order and an output path; it returns the path, or None when the run has no data for that
chart. Data are aggregated with numpy before drawing (bins, quantiles), so a chart costs the
same for a thousand records as for millions. A strategy keeps its colour in every chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from simulator.report.metrics import outcome_class, summarize

__all__ = [
    "OUTCOME_COLORS",
    "PLOTS",
    "STYLE",
    "amplification_giveups",
    "cost_per_1k",
    "fallback_share",
    "herd_waves",
    "latency_cdf",
    "limiter_view",
    "render_all",
    "retry_delays",
    "strategy_colors",
    "ttft_distribution",
]

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
}
OUTCOME_COLORS = {"2xx": "#2ca02c", "429": "#ff7f0e", "5xx": "#d62728", "other": "#8c8c8c"}
OUTCOME_LABELS = {
    "2xx": "2xx success",
    "429": "429 rate limited",
    "5xx": "5xx server error",
    "other": "timeout / other",
}
# matplotlib's tab10 (strategies) and Set2 (models), spelled out so colours never drift
_STRATEGY_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
_MODEL_PALETTE = ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494")
WIDTH = 11.0


def strategy_colors(strategies: Sequence[str]) -> dict[str, Any]:
    """Colour by position in the report order, so every chart agrees."""
    return {s: _STRATEGY_PALETTE[i % len(_STRATEGY_PALETTE)] for i, s in enumerate(strategies)}


def _kind(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    return df[(df["kind"] == kind).to_numpy(dtype=bool)]


def _of(frame: pd.DataFrame, strategy: str) -> pd.DataFrame:
    return frame[(frame["strategy"] == strategy).to_numpy(dtype=bool)]


def _bin_width(span_s: float) -> float:
    """1 s bins (the herd index window) unless that gives more than 600 bins."""
    for width in (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span_s / width <= (120 if width < 1 else 600):
            return float(width)
    return span_s / 600


def _edges(span_s: float) -> np.ndarray:
    width = _bin_width(max(span_s, 1.0))
    return np.arange(0.0, span_s + width, width) if span_s > 0 else np.array([0.0, width])


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _figure(rows: int = 1, cols: int = 1, height: float = 3.6, **kw: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    return fig, axes


def _summary(
    df: pd.DataFrame, strategies: Sequence[str], summary: dict[str, Any] | None
) -> dict[str, Any]:
    """The numbers printed on charts come from the summary, so they match the tables."""
    return summary if summary is not None else summarize(df, strategies)


def _panel_label(ax: Axes, text: str, color: Any) -> None:
    ax.text(
        0.005,
        0.97,
        text,
        transform=ax.transAxes,
        va="top",
        ha="left",
        color=color,
        fontweight="bold",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
    )


def _styled(fn: Callable[..., Path | None]) -> Callable[..., Path | None]:
    def wrapper(*args: Any, **kwargs: Any) -> Path | None:
        with matplotlib.rc_context(cast(Any, STYLE)):
            return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_styled
def herd_waves(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Attempt rate over time by outcome, one panel per strategy (the headline chart)."""
    att = _kind(df, "attempt")
    if att.empty:
        return None
    per = _summary(df, strategies, summary)["strategies"]
    span = float(att["t"].max())
    edges = _edges(span)
    width = edges[1] - edges[0]
    fig, axes = _figure(
        len(strategies), 1, height=1.2 + 1.9 * len(strategies), sharex=True, sharey=True
    )
    colors = strategy_colors(strategies)
    for ax, name in zip(axes[:, 0], strategies, strict=True):
        a = _of(att, name)
        starts = a["start_t"].to_numpy(dtype=float)
        cls = outcome_class(a["status"])
        bottom = np.zeros(edges.size - 1)
        for key, color in OUTCOME_COLORS.items():
            counts, _ = np.histogram(starts[cls == key], bins=edges)
            top = bottom + counts / width
            ax.fill_between(
                edges,
                np.append(bottom, bottom[-1]),
                np.append(top, top[-1]),
                step="post",
                color=color,
                linewidth=0,
                label=OUTCOME_LABELS[key],
            )
            bottom = top
        hi = per[name]["herd_index"]
        label = f"{name} — herd index {hi:.1f}" if hi is not None else f"{name} — no attempts"
        _panel_label(ax, label, colors[name])
        ax.set_ylabel("attempts / s")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    axes[-1, 0].set_xlabel(f"scenario time (s), {width:g} s bins by attempt start")
    axes[-1, 0].set_xlim(0, edges[-1])
    fig.suptitle("Attempt rate by outcome — synchronised retries show as repeating spikes of 429s")
    return _save(fig, path)


@_styled
def latency_cdf(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Share of successful logical requests finished within x ms, per strategy (log x)."""
    req = _kind(df, "request")
    ok = req[req["success"].to_numpy(dtype=bool)]
    if ok.empty:
        return None
    fig, axes = _figure(height=4.2)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    q = np.linspace(0, 100, 501)
    for name in strategies:
        lat = _of(ok, name)["latency_ms"].dropna().to_numpy(dtype=float)
        if lat.size == 0:
            continue
        x = np.maximum(np.percentile(lat, q), 0.1)  # quantiles: 501 points whatever the size
        p95 = float(np.percentile(lat, 95))
        ax.plot(x, q, color=colors[name], linewidth=2, label=f"{name} (p95 {p95:,.0f} ms)")
    ax.axhline(95, color="black", linestyle=":", linewidth=1)
    ax.text(ax.get_xlim()[0], 95.5, " p95", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("end-to-end latency incl. retries and waits (ms, log scale)")
    ax.set_ylabel("successful requests done (%)")
    ax.legend(loc="lower right")
    ax.set_title("Latency CDF of successful requests — further left is faster; watch the tail")
    return _save(fig, path)


@_styled
def amplification_giveups(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Two bar panels: attempts per logical request, and share of requests given up."""
    per = _summary(df, strategies, summary)["strategies"]
    if not any(per[s]["logical_requests"] for s in strategies):
        return None
    fig, axes = _figure(1, 2, height=3.6)
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
    axes[0, 0].axhline(1.0, color="black", linestyle=":", linewidth=1)
    fig.suptitle("Retry cost: how many calls each strategy makes, and how many requests it loses")
    return _save(fig, path)


@_styled
def fallback_share(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Share of successful requests by serving model over time, one panel per strategy.

    Returns None when no request succeeded or every success came from one model (no fallback).
    """
    req = _kind(df, "request")
    ok = req[req["success"].to_numpy(dtype=bool) & req["model"].notna().to_numpy(dtype=bool)]
    counts_by_model = ok["model"].value_counts()
    models = [str(m) for m, n in counts_by_model.items() if n > 0]
    if len(models) < 2:
        return None
    model_color = {m: _MODEL_PALETTE[i % len(_MODEL_PALETTE)] for i, m in enumerate(models)}
    edges = _edges(float(ok["t"].max()))
    fig, axes = _figure(
        len(strategies), 1, height=1.2 + 1.7 * len(strategies), sharex=True, sharey=True
    )
    colors = strategy_colors(strategies)
    for ax, name in zip(axes[:, 0], strategies, strict=True):
        s = _of(ok, name)
        t = s["t"].to_numpy(dtype=float)
        counts = np.array(
            [
                np.histogram(t[(s["model"] == m).to_numpy(dtype=bool)], bins=edges)[0]
                for m in models
            ],
            dtype=float,
        )
        total = counts.sum(axis=0)
        share = np.divide(100 * counts, total, out=np.full_like(counts, np.nan), where=total > 0)
        mids = (edges[:-1] + edges[1:]) / 2
        ax.stackplot(
            mids,
            share,
            colors=[model_color[m] for m in models],
            labels=[f"served by {m}" for m in models],
            linewidth=0,
        )
        _panel_label(ax, name, colors[name])
        ax.set_ylabel("successes (%)")
        ax.set_ylim(0, 100)
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(models)
    )
    axes[-1, 0].set_xlim(0, edges[-1])
    axes[-1, 0].set_xlabel(f"scenario time (s), {edges[1] - edges[0]:g} s bins by request end")
    fig.suptitle("Which model served each success — fallback models appear when the primary fails")
    return _save(fig, path)


@_styled
def ttft_distribution(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Box plot of time to first token per strategy; None when no request streamed."""
    req = _kind(df, "request")
    ok = req[req["success"].to_numpy(dtype=bool)]
    stats, names = [], []
    for name in strategies:
        v = _of(ok, name)["ttft_ms"].dropna().to_numpy(dtype=float)
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
    fig, axes = _figure(height=1.4 + 0.55 * len(names))
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
        "time to first token of successful requests (ms); box p25–p75, whiskers p5–p95, ◆ p99"
    )
    ax.set_ylabel("strategy")
    ax.set_title("Time to first token — what a streaming user waits before seeing anything")
    return _save(fig, path)


@_styled
def cost_per_1k(
    df: pd.DataFrame, strategies: Sequence[str], path: Path, summary: dict[str, Any] | None = None
) -> Path | None:
    """Cost per 1,000 logical requests per strategy, each bar annotated with its cache hit rate."""
    per = _summary(df, strategies, summary)["strategies"]
    values = [per[s]["cost_per_1k_requests_usd"] for s in strategies]
    if all(v is None for v in values):
        return None
    fig, axes = _figure(height=3.8)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    bars = ax.bar(
        list(strategies), [v or 0.0 for v in values], color=[colors[s] for s in strategies]
    )
    labels = []
    for s, v in zip(strategies, values, strict=True):
        hit = per[s]["cache_hit_rate"]
        cache = "no tokens" if hit is None else f"cache hits {100 * hit:.0f}%"
        labels.append(f"${v or 0:,.3f}\n{cache}")
    ax.bar_label(bars, labels=labels, padding=2, fontsize=9)
    ax.margins(y=0.25)
    ax.set_ylabel("cost per 1,000 logical requests (USD)")
    ax.set_xlabel("strategy")
    ax.set_title(
        "Cost per 1,000 requests — fallbacks to pricier models raise it, cache hits lower it"
    )
    return _save(fig, path)


@_styled
def limiter_view(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Lowest remaining-requests and remaining-tokens header per time bin, for the primary model.

    The primary model is the one most first attempts went to; limits differ per model, so
    mixing models in one line would be meaningless. None when no attempt carried the headers.
    """
    att = _kind(df, "attempt")
    att = att[
        att["remaining_requests"].notna().to_numpy(dtype=bool)
        | att["remaining_tokens"].notna().to_numpy(dtype=bool)
    ]
    if att.empty:
        return None
    firsts = att[(att["attempt"] == 1).to_numpy(dtype=bool)]
    primary = str((firsts if len(firsts) else att)["model"].value_counts().index[0])
    att = att[(att["model"] == primary).to_numpy(dtype=bool)]
    edges = _edges(float(att["t"].max()))
    mids = (edges[:-1] + edges[1:]) / 2
    fig, axes = _figure(2, 1, height=5.6, sharex=True)
    colors = strategy_colors(strategies)
    for ax, col, unit in (
        (axes[0, 0], "remaining_requests", "requests"),
        (axes[1, 0], "remaining_tokens", "tokens"),
    ):
        for name in strategies:
            a = _of(att, name)
            v = a[col].to_numpy(dtype=float)
            keep = ~np.isnan(v)
            if not keep.any():
                continue
            idx = np.clip(
                np.searchsorted(edges, a["start_t"].to_numpy()[keep], "right") - 1, 0, mids.size - 1
            )
            low = pd.Series(v[keep]).groupby(idx).min().reindex(range(mids.size))
            ax.plot(mids, low.to_numpy(), color=colors[name], linewidth=1.6, label=name)
        ax.set_ylabel(f"remaining {unit}\n(lowest in bin)")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(strategies)
    )
    axes[-1, 0].set_xlim(0, edges[-1])
    axes[1, 0].set_xlabel(f"scenario time (s), {edges[1] - edges[0]:g} s bins by attempt start")
    fig.suptitle(f"Limiter headroom on {primary} — lines at 0 mean the RPM/TPM window is exhausted")
    return _save(fig, path)


@_styled
def retry_delays(df: pd.DataFrame, strategies: Sequence[str], path: Path) -> Path | None:
    """Histogram of waits before retries (attempt > 1) per strategy, as shares of its retries."""
    att = _kind(df, "attempt")
    retries = att[(att["attempt"] > 1).to_numpy(dtype=bool)]
    if retries.empty:
        return None
    slept = retries["slept_s"].to_numpy(dtype=float)
    hi = max(float(np.percentile(slept, 99.5)), 0.1)
    edges = np.linspace(0, hi, 61)
    fig, axes = _figure(height=3.8)
    ax = axes[0, 0]
    colors = strategy_colors(strategies)
    for name in strategies:
        v = _of(retries, name)["slept_s"].to_numpy(dtype=float)
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
    return _save(fig, path)


PLOTS: dict[str, Callable[..., Path | None]] = {
    "herd_waves": herd_waves,
    "latency_cdf": latency_cdf,
    "amplification_giveups": amplification_giveups,
    "fallback_share": fallback_share,
    "ttft_distribution": ttft_distribution,
    "cost_per_1k": cost_per_1k,
    "limiter_view": limiter_view,
    "retry_delays": retry_delays,
}
_NEEDS_SUMMARY = {"herd_waves", "amplification_giveups", "cost_per_1k"}


def render_all(
    df: pd.DataFrame,
    strategies: Sequence[str],
    out_dir: Path,
    summary: dict[str, Any] | None = None,
) -> dict[str, Path | None]:
    """Draw every chart in :data:`PLOTS` into ``out_dir/<name>.png``."""
    out: dict[str, Path | None] = {}
    for name, fn in PLOTS.items():
        path = Path(out_dir) / f"{name}.png"
        if name in _NEEDS_SUMMARY:
            out[name] = fn(df, strategies, path, summary=summary)
        else:
            out[name] = fn(df, strategies, path)
    return out
