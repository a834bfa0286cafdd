"""Pass/fail thresholds on summary metrics, written the k6 way: ``p95_latency_ms: "< 8000"``.

A scenario's ``thresholds`` maps ``"all"`` or a strategy name to ``{metric: expression}``;
``"all"`` applies to every strategy, and a strategy's own entry for the same metric replaces
the ``"all"`` one. Metric names are the keys of :data:`simulator.report.metrics.METRICS`, so a
threshold can only name a number the report defines. A metric with no value (no TTFT in a
non-streaming run, no successes for a percentile) fails, with a note saying why.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.config import ConfigError
from simulator.report.metrics import METRICS

__all__ = [
    "Threshold",
    "Verdict",
    "evaluate",
    "holds",
    "parse_expression",
    "parse_thresholds",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    strategy: str
    metric: str
    expression: str  # normalised, e.g. "< 8000"
    op: str
    limit: float


@dataclass(frozen=True, slots=True)
class Verdict:
    strategy: str
    metric: str
    expression: str
    actual: float | None
    passed: bool
    note: str = ""


def parse_expression(expr: object) -> tuple[str, float]:
    """``"<= 1.5"`` -> ``("<=", 1.5)``; a ValueError names the accepted forms."""
    m = _EXPR.match(expr) if isinstance(expr, str) else None
    if not m:
        raise ValueError(
            f"cannot read threshold {expr!r}; write an operator and a number, e.g. "
            f"'< 8000', '<= 1.5', '>= 0.99', '== 0' (operators: {', '.join(sorted(_OPS))})"
        )
    return m.group(1), float(m.group(2))


def holds(op: str, actual: float, limit: float) -> bool:
    """Whether ``actual <op> limit`` (``op`` as returned by :func:`parse_expression`)."""
    return _OPS[op](actual, limit)


def parse_thresholds(
    mapping: Mapping[str, Mapping[str, Any]] | None,
    strategies: Iterable[str],
    file: str = "scenario.yaml",
) -> list[Threshold]:
    """Expand ``"all"`` and check every name and expression; all problems reported at once."""
    order = list(strategies)
    problems: list[tuple[str, str]] = []
    parsed: dict[tuple[str, str], Threshold] = {}
    # "all" first, so a strategy's own entry overrides it
    keys = sorted((mapping or {}).keys(), key=lambda k: k != "all")
    for key in keys:
        entries = (mapping or {})[key]
        if key != "all" and key not in order:
            problems.append(
                (f"thresholds.{key}", f"no strategy named {key!r}; use 'all' or one of {order}")
            )
            continue
        if not isinstance(entries, Mapping):
            problems.append((f"thresholds.{key}", "expected a mapping of metric: expression"))
            continue
        for metric, expr in entries.items():
            path = f"thresholds.{key}.{metric}"
            if metric not in METRICS:
                problems.append(
                    (path, f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
                )
                continue
            try:
                op, limit = parse_expression(expr)
            except ValueError as exc:
                problems.append((path, str(exc)))
                continue
            text = f"{op} {expr.strip().lstrip('<>=!').strip()}"
            for strategy in order if key == "all" else [key]:
                parsed[(strategy, metric)] = Threshold(strategy, metric, text, op, limit)
    if problems:
        raise ConfigError(file, problems)
    rank = {s: i for i, s in enumerate(order)}
    return sorted(parsed.values(), key=lambda t: (rank[t.strategy], list(METRICS).index(t.metric)))


def evaluate(thresholds: Iterable[Threshold], summary: Mapping[str, Any]) -> list[Verdict]:
    """Judge each threshold against ``summary["strategies"]`` (the output of ``summarize``)."""
    per_strategy = summary.get("strategies", {})
    out = []
    for th in thresholds:
        metrics = per_strategy.get(th.strategy)
        actual = None if metrics is None else metrics.get(th.metric)
        if metrics is None:
            out.append(
                Verdict(
                    th.strategy, th.metric, th.expression, None, False, "strategy has no records"
                )
            )
        elif actual is None:
            note = f"{th.metric} has no value in this run (no data for it), so it cannot pass"
            out.append(Verdict(th.strategy, th.metric, th.expression, None, False, note))
        else:
            passed = holds(th.op, float(actual), th.limit)
            out.append(Verdict(th.strategy, th.metric, th.expression, float(actual), passed))
    return out
