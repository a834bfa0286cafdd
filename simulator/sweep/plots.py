"""A sweep's charts: line plots over the load axis, heatmaps over two axes.

The four metrics a team picks settings by (:data:`SWEEP_METRICS`), each from the cells'
means over seeds (:mod:`simulator.sweep.outcome`), so a chart and ``sweep.csv`` agree:

* ``lines.png``: one panel per metric, the load axis across, one line per strategy (and per
  value of a second axis, in its own line style), the band spanning the seeds' lowest to
  highest; a hollow marker is a cell that fails its thresholds.
* ``heatmap_<metric>.png`` (two axes or more): one panel per strategy, the first axis down,
  the second across, each cell written in; a cell that fails its thresholds is marked ✗ and
  framed. Further axes are held at their first value, and the title says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.report.chart_style import figure, panel_title, save, strategy_colors, styled
from simulator.report.metrics import METRICS
from simulator.report.units import format_value, label
from simulator.sweep.grid import Axis, load_axis
from simulator.sweep.outcome import Cell

__all__ = ["SWEEP_METRICS", "draw_sweep"]

SWEEP_METRICS = ("success_rate", "p95_latency_ms", "amplification", "cost_usd")
_STYLES = ("-", "--", ":", "-.")


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _short(path: str) -> str:
    return ".".join(path.split(".")[-2:])


def _scaled(metric: str, v: float | None) -> float:
    """Plot ratios in percent, as the report's tables print them."""
    if v is None:
        return float("nan")
    return 100 * v if METRICS[metric].unit == "ratio" else v


def _unit(metric: str) -> str:
    unit = METRICS[metric].unit
    return "%" if unit == "ratio" else unit


@styled
def draw_lines(
    cells: Sequence[Cell],
    axes: Sequence[Axis],
    strategies: Sequence[str],
    out: Path,
    metrics: Sequence[str] = SWEEP_METRICS,
) -> Path:
    load = load_axis(axes)
    second = next((a for a in axes if a.path != load.path), None)
    rest = {a.path: a.values[0] for a in axes if a not in (load, second)}
    xs = sorted(load.values) if _numeric(load.values) else list(load.values)
    colors = strategy_colors(strategies)
    rows = (len(metrics) + 1) // 2
    fig, grid = figure(rows, 2, height=3.4 * rows + 0.6)
    by = {(c.point, c.strategy): c for c in cells}
    order = [a.path for a in axes]
    seconds = list(second.values[: len(_STYLES)]) if second else [None]
    for ax in list(grid.flat)[len(metrics) :]:
        ax.set_visible(False)
    for ax, metric in zip(grid.flat, metrics, strict=False):
        for strategy in strategies:
            mine = seconds if second is None or second.applies_to(strategy) else seconds[:1]
            for style, sv in zip(_STYLES, mine, strict=False):
                line = []
                for x in xs:
                    values = {**rest, load.path: x}
                    if second is not None:
                        values[second.path] = sv
                    cell = by.get((tuple((p, values[p]) for p in order), strategy))
                    line.append(cell)
                pos = np.arange(len(xs)) if not _numeric(xs) else np.array(xs, dtype=float)
                mean = [_scaled(metric, c.mean[metric] if c else None) for c in line]
                lo = [_scaled(metric, c.low[metric] if c else None) for c in line]
                hi = [_scaled(metric, c.high[metric] if c else None) for c in line]
                name = strategy
                if second is not None and second.applies_to(strategy):
                    name = f"{strategy}, {_short(second.path)}={sv}"
                color = colors[strategy]
                ax.plot(pos, mean, style, color=color, label=name, linewidth=1.6)
                ax.fill_between(pos, lo, hi, color=color, alpha=0.12, linewidth=0)
                ok = [bool(c and c.holds) for c in line]
                ax.scatter(
                    pos,
                    mean,
                    s=22,
                    zorder=3,
                    facecolors=[color if k else "white" for k in ok],
                    edgecolors=color,
                )
        ax.set_title(f"{label(metric)} ({_unit(metric)})", loc="left", fontsize=10)
        ax.set_xlabel(_short(load.path))
        if not _numeric(xs):
            ax.set_xticks(np.arange(len(xs)), [str(x) for x in xs])
        if METRICS[metric].unit == "ratio":
            ax.set_ylim(top=100.5)
        elif _spans_decades(cells, metric):
            ax.set_yscale("log")
    handles, labels = grid.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 4),
        fontsize=8,
        frameon=False,
    )
    held = ", ".join(f"{_short(p)}={v}" for p, v in rest.items())
    fig.suptitle(
        "Sweep over "
        + _short(load.path)
        + (f" (held: {held})" if held else "")
        + "; band: lowest to highest seed; hollow marker: fails its thresholds",
        fontsize=10,
    )
    return save(fig, out)


def _spans_decades(cells: Sequence[Cell], metric: str) -> bool:
    values = [c.mean[metric] for c in cells if c.mean.get(metric)]
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) >= 30


@styled
def draw_heatmap(
    cells: Sequence[Cell], axes: Sequence[Axis], strategies: Sequence[str], metric: str, out: Path
) -> Path:
    rows_axis, cols_axis = axes[0], axes[1]
    rest = {a.path: a.values[0] for a in axes[2:]}
    by = {(c.point, c.strategy): c for c in cells}
    order = [a.path for a in axes]
    n = len(strategies)
    cols = min(n, 3)
    nrows = (n + cols - 1) // cols
    height = max(3.0, 0.5 * len(rows_axis.values) + 1.6) * nrows
    fig, grid = figure(nrows, cols, height=height)
    values = [_scaled(metric, c.mean[metric]) for c in cells if c.mean.get(metric) is not None]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    reverse = METRICS[metric].better == "higher"
    cmap = "RdYlGn" if reverse else "RdYlGn_r"
    image = None
    for ax, strategy in zip(grid.flat, strategies, strict=False):
        data = np.full((len(rows_axis.values), len(cols_axis.values)), np.nan)
        for i, rv in enumerate(rows_axis.values):
            for j, cv in enumerate(cols_axis.values):
                at = {**rest, rows_axis.path: rv, cols_axis.path: cv}
                cell = by.get((tuple((p, at[p]) for p in order), strategy))
                if cell is None:
                    continue
                data[i, j] = _scaled(metric, cell.mean[metric])
                text = format_value(metric, cell.mean[metric]) + ("" if cell.holds else " ✗")
                ink = _ink(data[i, j], vmin, vmax)
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=ink)
                if not cell.holds:
                    ax.add_patch(_frame(j, i))
        image = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cols_axis.values)), [str(v) for v in cols_axis.values])
        ax.set_yticks(range(len(rows_axis.values)), [str(v) for v in rows_axis.values])
        ax.set_xlabel(_short(cols_axis.path))
        ax.set_ylabel(_short(rows_axis.path))
        ax.grid(False)
        panel_title(ax, strategy, strategy_colors(strategies)[strategy])
    for ax in list(grid.flat)[n:]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=grid, shrink=0.8, label=f"{label(metric)} ({_unit(metric)})")
    held = ", ".join(f"{_short(p)}={v}" for p, v in rest.items())
    fig.suptitle(
        f"{label(metric)}, mean over seeds; ✗ and dashed frame: fails its thresholds"
        + (f" (held: {held})" if held else ""),
        fontsize=10,
    )
    return save(fig, out)


def _ink(value: float, vmin: float, vmax: float) -> str:
    """White on the colour map's dark ends (deep red, deep green), black in between."""
    if vmax <= vmin or np.isnan(value):
        return "black"
    at = (value - vmin) / (vmax - vmin)
    return "white" if at < 0.18 or at > 0.82 else "black"


def _frame(x: int, y: int) -> Any:
    """A failing cell's outline, inside the cell so neighbours keep theirs."""
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.46, y - 0.44), 0.92, 0.88, fill=False, edgecolor="#222",
                     linewidth=1.6, linestyle=(0, (3, 2)))  # fmt: skip


def draw_sweep(
    cells: Sequence[Cell],
    axes: Sequence[Axis],
    strategies: Sequence[str],
    out_dir: Path,
    also: Sequence[str] = (),
) -> list[Path]:
    """Every chart of the sweep into ``out_dir`` (``also``: metrics the scenario ranks by, as
    extra line panels); the files written."""
    metrics = [*SWEEP_METRICS, *(m for m in also if m not in SWEEP_METRICS)][:6]
    paths = [draw_lines(cells, axes, strategies, out_dir / "lines.png", metrics)]
    if len(axes) >= 2:
        for metric in SWEEP_METRICS:
            paths.append(
                draw_heatmap(cells, axes, strategies, metric, out_dir / f"heatmap_{metric}.png")
            )
    return [p for p in paths if p is not None]
