"""How a metric value is written for people: by its unit in the metrics registry.

The terminal table, the HTML page, the verdict sentences and ``compare`` all format through
:func:`format_value` and name metrics through :func:`label`, so the same number reads the same
everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from simulator.report.metrics import METRICS

__all__ = ["LABELS", "format_value", "label"]

# Short names for the metrics a verdict talks about; others read as their name.
LABELS: dict[str, str] = {
    "success_rate": "success rate",
    "served_rate": "served share",
    "give_up_rate": "give-up rate",
    "error_rate": "error rate",
    "refused_by_guard": "requests refused by a guard",
    "amplification": "amplification",
    "herd_index": "herd index",
    "retry_peak_rps": "retry peak",
    "p50_latency_ms": "p50 latency",
    "p95_latency_ms": "p95 latency",
    "p99_latency_ms": "p99 latency",
    "p50_ttft_ms": "median time to first token",
    "p95_ttft_ms": "p95 time to first token",
    "cost_usd": "total cost",
    "cost_per_success_usd": "cost per success",
    "cost_per_1k_requests_usd": "cost per 1,000 requests",
    "goodput_rps": "goodput",
    "makespan_s": "makespan",
    "fallback_rate": "fallback rate",
    "rate_limited": "429s",
    "server_errors": "5xx",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def _usd(v: float) -> str:
    if v == 0:
        return "$0"
    if abs(v) >= 10:
        return f"${v:,.2f}"
    # three significant digits however small: $0.00937, $0.0000937
    decimals = min(8, max(3, 2 - math.floor(math.log10(abs(v)))))
    return f"${v:,.{decimals}f}"


def format_value(metric: str, value: Any) -> str:
    """Human form of a metric value, by its unit in :data:`METRICS` ("–" for no value)."""
    if value is None:
        return "–"
    unit = METRICS[metric].unit if metric in METRICS else ""
    v = float(value)
    if unit == "ratio":
        return f"{100 * v:.1f}%" if v < 0.999 or v == 1 else f"{100 * v:.2f}%"
    if unit == "x":
        return f"{v:.2f}×"
    if unit == "ms":
        return f"{v:,.0f} ms"
    if unit == "s":
        return f"{v:,.1f} s"
    if unit == "req/s":
        return f"{v:,.1f}/s"
    if unit == "retries/s":
        return f"{v:,.0f}/s"
    if unit == "USD":
        return _usd(v)
    return f"{v:,.0f}" if v == int(v) else f"{v:,.3g}"
