"""Every metric of a run, defined once: the tables, thresholds, alerts and plots all read here.

Theory of operation
-------------------
``traces.jsonl`` is one flat table (``simulator.traces.TraceRecord``) with two kinds of rows:

* *attempt* rows: one HTTP call each. They carry the status, error, wait before the call
  (``slept_s``), the limiter headers and the attempt's own start/end (``start_t``/``t``).
* *request* rows: one logical request each, written when it ends. They carry the outcome
  (``success``), the end-to-end latency, the time to first token, the serving model,
  ``fallback_used`` and the totals of the request (tokens, ``cost_usd``). A local refusal
  (budget, token guard, throttle, open circuit) is a request row with ``attempt == 0`` and no
  attempt row.

Choices a reader may rely on:

* Counts of calls (attempts, 429s, 5xx, timeouts, herd index) come from attempt rows only.
  The herd index judges the retries on the run's own time scale (the median retry period;
  see :func:`simulator.report.herd.herd_index`), so it reads the same at any time scale.
* A guard's refusal (``input_too_long``, ``budget_exceeded``: see
  :data:`simulator.client.guards.GUARD_REFUSALS`) is an outcome the strategy *intended*: it is
  counted in ``refused_by_guard`` and left out of the denominator of ``success_rate``,
  ``give_up_rate``, ``error_rate`` and ``amplification``, which are over the logical requests
  the client tried to serve. A throttle's or an open circuit's refusal is not intended: it is
  a give-up. ``served_rate`` is over every logical request offered, refusals counted as not
  served: the share of users who got an answer, which a guard cannot raise by refusing.
* Both latency and TTFT are what the user waits, measured from the logical request's start
  (its first attempt's send): every failed attempt, backoff wait and fallback before the
  answer is in them. TTFT ends at the first token of the answering attempt (for a
  non-streamed answer, the whole answer); the attempt's own TTFT, from its own send, is kept
  as ``attempt_ttft_ms``, which no metric reads.
* Outcomes, latency, TTFT, tokens and cost come from request rows only, so nothing is counted
  twice. Latency and TTFT percentiles are over *successful* logical requests: a give-up's
  latency measures the retry policy's patience, not the service, and is reported through the
  give-up rate instead. Percentiles are exact (numpy ``method="linear"``).
* The makespan runs from the first logical request's start to the last record's end; rates
  per second (goodput, mean attempt rate) divide by ``max(makespan_s, 1)``.
* Each strategy runs on its own clock from 0, so every metric is per strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from simulator.client.guards import GUARD_REFUSALS
from simulator.report.herd import (
    HERD_AROUND,
    HERD_NEAR,
    RETRY_PEAK_WINDOW_S,
    busiest_window,
    herd_index,
    retry_peak_rps,
    retry_schedule,
    retry_starts,
)
from simulator.report.loading import REPORT_COLUMNS, TRACE_SCHEMA, load_traces

__all__ = [
    "HERD_AROUND",
    "HERD_NEAR",
    "HOUR_S",
    "METRICS",
    "REPORT_COLUMNS",
    "RETRY_PEAK_WINDOW_S",
    "TRACE_SCHEMA",
    "Better",
    "Metric",
    "StrategyTraces",
    "busiest_window",
    "cost_per_hour",
    "herd_index",
    "json_safe",
    "load_traces",
    "outcome_class",
    "retry_peak_rps",
    "retry_schedule",
    "retry_starts",
    "split_strategies",
    "strategies_in_order",
    "summarize",
]

Better = Literal["lower", "higher"] | None
Number = float | int | None


def strategies_in_order(df: pd.DataFrame) -> list[str]:
    """Strategy names in order of first appearance (for run dirs without ``run.json``)."""
    if df.empty:
        return []
    return [str(s) for s in pd.unique(df["strategy"]) if not pd.isna(s)]


# --------------------------------------------------------------------------- per strategy


@dataclass(frozen=True, slots=True)
class StrategyTraces:
    """The rows of one strategy, split by kind; ``makespan_s`` and the successful requests
    are computed once."""

    name: str
    attempts: pd.DataFrame
    requests: pd.DataFrame
    makespan_s: float
    t0: float  # scenario time of the first logical request start
    successful: pd.DataFrame  # the request rows that succeeded


def split_strategies(df: pd.DataFrame, strategies: Iterable[str]) -> dict[str, StrategyTraces]:
    """One :class:`StrategyTraces` per name; a strategy without rows gets empty frames.

    Each strategy's rows are taken straight from ``df`` by one mask per kind, in file order,
    so every row is copied once (a filter and then a group-by would copy each row twice).
    """
    is_attempt = (df["kind"] == "attempt").to_numpy(dtype=bool)
    is_request = (df["kind"] == "request").to_numpy(dtype=bool)
    out = {}
    for name in strategies:
        own = (df["strategy"] == name).to_numpy(dtype=bool)
        att = df[own & is_attempt]
        req = df[own & is_request]
        starts = [x for x in (_min(req["start_t"]), _min(att["start_t"])) if x is not None]
        ends = [x for x in (_max(req["t"]), _max(att["t"])) if x is not None]
        t0 = min(starts) if starts else 0.0
        makespan = max(ends) - t0 if ends else 0.0
        ok = req[req["success"].to_numpy(dtype=bool)]
        out[name] = StrategyTraces(name, att, req, max(makespan, 0.0), t0, ok)
    return out


def _min(s: pd.Series) -> float | None:
    return None if s.empty else float(s.min())


def _max(s: pd.Series) -> float | None:
    return None if s.empty else float(s.max())


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _pct(values: pd.Series, q: float) -> float | None:
    arr = values.dropna().to_numpy(dtype=float)
    return None if arr.size == 0 else float(np.percentile(arr, q, method="linear"))


def outcome_class(status: pd.Series) -> np.ndarray:
    """Attempt outcome for plots: "2xx", "429", "5xx" or "other" (timeouts, 4xx, dropped)."""
    st = status.to_numpy()
    return np.select(
        [(st >= 200) & (st < 300), st == 429, (st >= 500) & (st < 600)],
        ["2xx", "429", "5xx"],
        "other",
    )


# --------------------------------------------------------------------------- the registry


# What "the same" means when no repeats measured the spread: two values closer than this are
# within one run's noise (absolute for ratios, relative otherwise). Measured by re-running the
# shipped scenarios live with other seeds and time scales; see ``Metric.noise``.
_NOISE_BY_UNIT: dict[str, tuple[float, float]] = {
    "ratio": (0.01, 0.0),  # one percentage point
    "ms": (0.0, 0.05),
    "s": (0.0, 0.05),
    "x": (0.0, 0.03),
    "USD": (0.0, 0.03),
    "req/s": (0.0, 0.05),
    "retries/s": (0.0, 0.10),
    "requests": (0.0, 0.03),
    "attempts": (0.0, 0.03),
    "tokens": (0.0, 0.03),
}


@dataclass(frozen=True, slots=True)
class Metric:
    """One number of the report. ``better`` gives the direction ("lower", "higher" or None for
    a number that is context, not a goal); ``noise`` overrides the unit's single-run noise."""

    description: str
    unit: str
    better: Better
    fn: Callable[[StrategyTraces], Number]
    noise_override: tuple[float, float] | None = None

    @property
    def noise(self) -> tuple[float, float]:
        """(absolute, relative) tolerance under which two single-run values are the same."""
        return self.noise_override or _NOISE_BY_UNIT.get(self.unit, (0.0, 0.03))


def _n_req(x: StrategyTraces) -> int:
    return len(x.requests)


def _n_ok(x: StrategyTraces) -> int:
    return int(x.requests["success"].sum())


def _n_refused(x: StrategyTraces) -> int:
    return int(x.requests["error"].isin(GUARD_REFUSALS).sum())


def _n_tried(x: StrategyTraces) -> int:
    """Logical requests the client tried to serve: all but the guards' intended refusals."""
    return _n_req(x) - _n_refused(x)


def _failed(x: StrategyTraces) -> int:
    return _n_tried(x) - _n_ok(x)


def _status_count(lo: int, hi: int) -> Callable[[StrategyTraces], int]:
    def count(x: StrategyTraces) -> int:
        st = x.attempts["status"]
        return int(((st >= lo) & (st <= hi)).sum())

    return count


def _sum(col: str) -> Callable[[StrategyTraces], float]:
    return lambda x: float(x.requests[col].sum())


def _latency(q: float) -> Callable[[StrategyTraces], float | None]:
    return lambda x: _pct(x.successful["latency_ms"], q)


def _ttft(q: float) -> Callable[[StrategyTraces], float | None]:
    return lambda x: _pct(x.successful["ttft_ms"], q)


def _fallback_rate(x: StrategyTraces) -> float | None:
    ok = x.successful
    return _ratio(float(ok["fallback_used"].notna().sum()), len(ok))


def _length_rate(x: StrategyTraces) -> float | None:
    ok = x.successful
    return _ratio(float((ok["finish_reason"] == "length").sum()), len(ok))


def _cost(x: StrategyTraces) -> float:
    return float(x.requests["cost_usd"].sum())


HOUR_S = 3600.0


def cost_per_hour(cost_usd: float, makespan_s: float) -> float | None:
    """Cost over the makespan scaled to an hour, only for runs at least an hour long: a
    burst of seconds says nothing about an hour of traffic."""
    return cost_usd * HOUR_S / makespan_s if makespan_s >= HOUR_S else None


M = Metric
METRICS: dict[str, Metric] = {
    "logical_requests": M("logical requests that ended", "requests", None, _n_req),
    "refused_by_guard": M("logical requests a guard refused on purpose (input too long, budget "
                          "reached): intended, so not failures", "requests", None, _n_refused),
    "successes": M("logical requests that succeeded", "requests", "higher", _n_ok),
    "success_rate": M("successes / logical requests not refused by a guard", "ratio", "higher",
                      lambda x: _ratio(_n_ok(x), _n_tried(x))),
    "served_rate": M("successes / every logical request offered: a guard's refusal counts as "
                     "not served (the share of users who got an answer)", "ratio", "higher",
                     lambda x: _ratio(_n_ok(x), _n_req(x))),
    "give_ups": M("logical requests not refused by a guard that ended without success",
                  "requests", "lower", _failed),
    "give_up_rate": M("give-ups / logical requests not refused by a guard", "ratio", "lower",
                      lambda x: _ratio(_failed(x), _n_tried(x))),
    "error_rate": M("failed logical requests / logical requests not refused by a guard (the "
                    "article's alert; same as give_up_rate)", "ratio", "lower",
                    lambda x: _ratio(_failed(x), _n_tried(x))),
    "refusal_rate": M("refused_by_guard / logical requests", "ratio", None,
                      lambda x: _ratio(_n_refused(x), _n_req(x))),
    "local_refusals": M("logical requests refused before any HTTP call (guards, throttle, "
                        "open circuit)", "requests", None,
                        lambda x: int((x.requests["attempt"] == 0).sum())),
    "attempts": M("HTTP attempts (attempt records)", "attempts", "lower",
                  lambda x: len(x.attempts)),
    "amplification": M("attempts / logical requests not refused by a guard", "x", "lower",
                       lambda x: _ratio(len(x.attempts), _n_tried(x))),
    "rate_limited": M("attempts answered 429", "attempts", "lower", _status_count(429, 429)),
    "server_errors": M("attempts answered 5xx", "attempts", "lower", _status_count(500, 599)),
    "timeouts": M("attempts that timed out", "attempts", "lower",
                  lambda x: int((x.attempts["error"] == "timeout").sum())),
    "fallback_rate": M("successful requests served by a model other than the first in the "
                       "chain", "ratio", None, _fallback_rate),
    "goodput_rps": M("successful logical requests per second over the makespan", "req/s",
                     "higher", lambda x: _n_ok(x) / max(x.makespan_s, 1.0)),
    "herd_index": M("how bunched the retries are, on the run's own time scale (the median "
                    "retry period: round trip plus wait): retries starting within 1/40 of it "
                    "of a retry, over what the retries within 1/2 of it predict if spread "
                    "evenly; 1 = at random (or more even), up to 20 = synchronised waves",
                    "x", "lower", lambda x: herd_index(*retry_schedule(x.attempts)),
                    (0.0, 0.15)),
    "retry_peak_rps": M("most retries (attempt > 1) starting in any 250 ms window, per second: "
                        "the retries' worst moment for the provider", "retries/s", "lower",
                        lambda x: retry_peak_rps(retry_starts(x.attempts))),
    "makespan_s": M("first logical request start to last record end", "s", "lower",
                    lambda x: x.makespan_s),
    "p50_latency_ms": M("median end-to-end latency of successful requests", "ms", "lower",
                        _latency(50)),
    "p90_latency_ms": M("p90 end-to-end latency of successful requests", "ms", "lower",
                        _latency(90)),
    "p95_latency_ms": M("p95 end-to-end latency of successful requests", "ms", "lower",
                        _latency(95)),
    "p99_latency_ms": M("p99 end-to-end latency of successful requests", "ms", "lower",
                        _latency(99)),
    "max_latency_ms": M("slowest successful request", "ms", "lower", _latency(100)),
    "p50_ttft_ms": M("median time to first token of successful requests, from the request's "
                     "start through every retry, wait and fallback (non-streamed: the whole "
                     "response)", "ms", "lower", _ttft(50)),
    "p95_ttft_ms": M("p95 time to first token of successful requests, from the request's start "
                     "through every retry, wait and fallback (non-streamed: the whole "
                     "response)", "ms", "lower", _ttft(95)),
    "p99_ttft_ms": M("p99 time to first token of successful requests, from the request's start "
                     "through every retry, wait and fallback (non-streamed: the whole "
                     "response)", "ms", "lower", _ttft(99)),
    "input_tokens": M("input tokens of all logical requests", "tokens", None,
                      _sum("input_tokens")),
    "output_tokens": M("output tokens of all logical requests", "tokens", None,
                       _sum("output_tokens")),
    "cached_tokens": M("input tokens served from the prompt cache", "tokens", None,
                       _sum("cached_tokens")),
    "cache_hit_rate": M("cached tokens / input tokens", "ratio", "higher",
                        lambda x: _ratio(_sum("cached_tokens")(x), _sum("input_tokens")(x))),
    "cost_usd": M("total cost of all logical requests", "USD", "lower", _cost),
    "cost_per_success_usd": M("total cost / successful requests", "USD", "lower",
                              lambda x: _ratio(_cost(x), _n_ok(x))),
    "cost_per_1k_requests_usd": M("total cost per 1,000 logical requests", "USD", "lower",
                                  lambda x: _ratio(1000 * _cost(x), _n_req(x))),
    "cost_per_hour_usd": M("total cost per hour of makespan; only for runs at least an hour "
                           "long", "USD", "lower", lambda x: cost_per_hour(_cost(x), x.makespan_s)),
    "length_rate": M('successful requests with finish_reason == "length" (max_tokens '
                     "truncation)", "ratio", "lower", _length_rate),
}  # fmt: skip
del M


# --------------------------------------------------------------------------- summary


def json_safe(value: Any) -> Any:
    """Numpy scalars to Python, NaN/inf to None, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _present(col: pd.Series) -> set[str]:
    """Distinct non-null values of a categorical column, without copying it to strings."""
    counts = col.value_counts()
    return {str(k) for k, n in counts.items() if n > 0}


def _per_model(x: StrategyTraces) -> dict[str, dict[str, Number]]:
    ok = x.successful
    out: dict[str, dict[str, Number]] = {}
    models = _present(x.attempts["model"]) | _present(ok["model"])
    for model in sorted(models):
        att = x.attempts[x.attempts["model"] == model]
        served = ok[ok["model"] == model]
        st = att["status"]
        out[model] = {
            "attempts": len(att),
            "rate_limited": int((st == 429).sum()),
            "server_errors": int(((st >= 500) & (st <= 599)).sum()),
            "served": len(served),
            "share": _ratio(len(served), len(ok)),
            "p95_latency_ms": _pct(served["latency_ms"], 95),
            "p95_ttft_ms": _pct(served["ttft_ms"], 95),
            "cost_usd": float(served["cost_usd"].sum()),
        }
    return out


def _per_group(x: StrategyTraces, col: str) -> dict[str, dict[str, Number]]:
    """Outcome and cost per user or feature; rates exclude guard refusals as the strategy's do.

    ``cost_per_hour_usd`` is there only when the run is at least an hour long.
    """
    req = x.requests
    if req.empty:
        return {}
    refused = req["error"].isin(GUARD_REFUSALS).rename("refused")
    grouped = req.groupby(col, observed=True)
    frame = pd.DataFrame(
        {
            "logical_requests": grouped.size(),
            "refused_by_guard": refused.groupby(req[col], observed=True).sum(),
            "successes": grouped["success"].sum(),
            "cost_usd": grouped["cost_usd"].sum(),
        }
    )
    tried = (frame["logical_requests"] - frame["refused_by_guard"]).replace(0, np.nan)
    frame["success_rate"] = frame["successes"] / tried
    frame["cost_per_1k_requests_usd"] = 1000 * frame["cost_usd"] / frame["logical_requests"]
    frame["cost_per_success_usd"] = frame["cost_usd"] / frame["successes"].replace(0, np.nan)
    if x.makespan_s >= HOUR_S:
        frame["cost_per_hour_usd"] = frame["cost_usd"] * HOUR_S / x.makespan_s
    if col == "feature":
        ok = req[req["success"]]
        g_ok = ok.groupby(col, observed=True)
        frame["p95_latency_ms"] = g_ok["latency_ms"].quantile(0.95)
        length = (ok["finish_reason"] == "length").rename("length")
        frame["length_rate"] = length.groupby(ok[col], observed=True).mean()
    return {
        str(k): {str(c): val for c, val in row.items()}
        for k, row in frame.to_dict(orient="index").items()
    }


def _errors_by_type(frame: pd.DataFrame, denominator: int) -> dict[str, dict[str, Number]]:
    counts = frame["error"].value_counts()  # categorical: counts only, no string copies
    return {
        str(k): {"count": int(v), "rate": _ratio(int(v), denominator)}
        for k, v in counts.items()
        if v > 0
    }


def summarize(df: pd.DataFrame, strategies: Iterable[str], partial: bool = False) -> dict[str, Any]:
    """Every :data:`METRICS` value per strategy plus the article's dashboard breakdowns.

    Keys: ``strategies`` (name -> metric -> value), ``per_model``, ``per_feature``,
    ``per_user`` (name -> group -> values), ``errors_by_type`` (final error of failed logical
    requests, rate over logical requests), ``attempt_errors_by_type`` (rate over attempts),
    ``strategy_order`` and ``partial``. JSON-safe: no NaN, no numpy types.
    """
    order = list(strategies)
    split = split_strategies(df, order)
    out: dict[str, Any] = {
        "strategy_order": order,
        "partial": bool(partial),
        "strategies": {},
        "per_model": {},
        "per_feature": {},
        "per_user": {},
        "errors_by_type": {},
        "attempt_errors_by_type": {},
    }
    for name, x in split.items():
        out["strategies"][name] = {m: metric.fn(x) for m, metric in METRICS.items()}
        out["per_model"][name] = _per_model(x)
        out["per_feature"][name] = _per_group(x, "feature")
        out["per_user"][name] = _per_group(x, "user_id")
        failed = x.requests[~x.requests["success"]]
        out["errors_by_type"][name] = _errors_by_type(failed, len(x.requests))
        out["attempt_errors_by_type"][name] = _errors_by_type(x.attempts, len(x.attempts))
    return json_safe(out)
