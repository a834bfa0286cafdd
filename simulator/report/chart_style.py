"""The one look of every chart: rc settings, colours, figure size, time bins and saving.

Every chart module draws through :func:`styled`, :func:`figure` and :func:`save`, so fonts,
grid, width and DPI agree, and a strategy keeps its colour (by its position in the report
order) in every chart.
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

from simulator.report.metrics import summarize

__all__ = [
    "MODEL_PALETTE",
    "OUTCOME_COLORS",
    "OUTCOME_LABELS",
    "STYLE",
    "WIDTH",
    "figure",
    "panel_title",
    "rows_of",
    "rows_of_kind",
    "save",
    "strategy_colors",
    "styled",
    "summary_or_compute",
    "time_edges",
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
MODEL_PALETTE = ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494")
WIDTH = 11.0


def strategy_colors(strategies: Sequence[str]) -> dict[str, Any]:
    """Colour by position in the report order, so every chart agrees."""
    return {s: _STRATEGY_PALETTE[i % len(_STRATEGY_PALETTE)] for i, s in enumerate(strategies)}


def rows_of_kind(df: pd.DataFrame, kind: str, columns: Sequence[str] = ()) -> pd.DataFrame:
    """The attempt or the request rows of a trace frame, only ``columns`` when given: a chart
    reads a few fields, and copying the others of a million rows costs more than drawing."""
    mask = (df["kind"] == kind).to_numpy(dtype=bool)
    return df.loc[mask, list(columns)] if columns else df[mask]


def rows_of(frame: pd.DataFrame, strategy: str) -> pd.DataFrame:
    """The rows of one strategy."""
    return frame[(frame["strategy"] == strategy).to_numpy(dtype=bool)]


def _bin_width(span_s: float, max_bins: int) -> float:
    """1 s bins (the herd index window) unless that gives more than ``max_bins`` bins."""
    for width in (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span_s / width <= min(max_bins, 120 if width < 1 else max_bins):
            return float(width)
    return span_s / max_bins


def time_edges(span_s: float, max_bins: int = 600) -> np.ndarray:
    """Bin edges from 0 over ``span_s`` seconds of scenario time, at a round width."""
    width = _bin_width(max(span_s, 1.0), max_bins)
    return np.arange(0.0, span_s + width, width) if span_s > 0 else np.array([0.0, width])


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def figure(rows: int = 1, cols: int = 1, height: float = 3.6, **kw: Any) -> tuple[Figure, Any]:
    """A report-width figure with a 2-D array of axes."""
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    return fig, axes


def summary_or_compute(
    df: pd.DataFrame, strategies: Sequence[str], summary: dict[str, Any] | None
) -> dict[str, Any]:
    """The numbers printed on charts come from the summary, so they match the tables."""
    return summary if summary is not None else summarize(df, strategies)


def panel_title(ax: Axes, text: str, color: Any) -> None:
    """A strategy panel's heading, left-aligned above the axes so it never hides data."""
    ax.set_title(text, loc="left", color=color, fontsize=10, pad=3)


def styled(fn: Callable[..., Path | None]) -> Callable[..., Path | None]:
    """Run a chart function inside :data:`STYLE`."""

    def wrapper(*args: Any, **kwargs: Any) -> Path | None:
        with matplotlib.rc_context(cast(Any, STYLE)):
            return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
