"""What the live dashboard shows: a pure function of the run's files and the mock's metrics.

Theory of operation:

- Each strategy's counts (done, ok, attempts, 429s, 5xx, fallbacks) are the terminal progress
  line's: :class:`Board` feeds the trace records it is given to the orchestrator's own
  :class:`~simulator.live.orchestrate.Progress` (``Progress.count``), one per strategy. An app
  strategy has no trace records until it has run (they are joined from the mock's journal at
  its end), so until then its done and ok come from its calls file (``Progress.count_call``)
  and its attempts are unknown.
- Attempts are binned by their start (scenario seconds since their strategy's start) and by
  outcome class (:func:`simulator.report.metrics.outcome_class`), in bins of the width the
  report's herd-waves chart uses over the scenario's duration plus drain, so the waves that
  form on the page are the ones the report draws.
- The limiter is read from the mock's Prometheus text (``GET /metrics``,
  ``mock_provider/admin.py``): per key and model, each bucket's size and what is left, the
  requests in flight, and the mock's scenario clock. A short history of what is left in the
  requests and tokens buckets is kept per key and model, restarted when the clock goes back
  (the mock is reset before each strategy).
- :meth:`Board.snapshot` is the JSON the page draws. Nothing here reads a file, a socket or a
  clock: ``server.py`` reads them and feeds the bytes in.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from simulator.live.orchestrate import Progress
from simulator.report.chart_style import OUTCOME_COLORS, OUTCOME_LABELS, time_edges
from simulator.report.metrics import outcome_class

__all__ = ["HISTORY", "Board", "Limiter", "parse_limiter"]

OUTCOMES = tuple(OUTCOME_COLORS)  # "2xx", "429", "5xx", "other"
HISTORY = 120  # readings of each bucket kept for its sparkline (one a second while polled)
PHASES = ("starting", "running", "reporting", "done", "interrupted", "failed")


@dataclass
class Limiter:
    """The mock's limiter as one scrape of ``/metrics`` showed it."""

    t: float | None  # the mock's scenario clock
    rows: dict[tuple[str, str], dict[str, Any]]  # (key, model) -> buckets, in_flight


def parse_limiter(metrics_text: str) -> Limiter:
    """Each key and model's buckets (``remaining`` and ``limit``) and requests in flight."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    clock = None

    def row(labels: dict[str, str]) -> dict[str, Any]:
        return rows.setdefault(
            (labels.get("key", ""), labels.get("model", "")), {"buckets": {}, "in_flight": 0}
        )

    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "stampede_mock_scenario_seconds":
                clock = value
            elif name == "stampede_mock_in_flight":
                row(labels)["in_flight"] = int(value)
            elif name in ("stampede_mock_bucket_remaining", "stampede_mock_bucket_limit"):
                field_name = "remaining" if name.endswith("remaining") else "limit"
                row(labels)["buckets"].setdefault(labels["bucket"], {})[field_name] = value
    return Limiter(clock, rows)


@dataclass
class Board:
    """Everything the page shows, accumulated from the bytes and scrapes it is fed."""

    scenario: str
    strategies: list[str]
    expected: int  # logical requests per strategy
    span_s: float  # duration + drain, scenario seconds
    mode: str = "live"  # or "virtual"
    time_scale: float | str | None = None
    apps: frozenset[str] = frozenset()  # app strategies: progress from their calls file
    progress: dict[str, Progress] = field(init=False)
    calls: dict[str, Progress] = field(init=False)
    bin_s: float = field(init=False)
    bins: dict[str, dict[str, dict[int, int]]] = field(init=False)  # strategy, outcome, bin
    limiter: Limiter | None = field(default=None, init=False)
    limiter_note: str | None = field(default=None, init=False)
    history: dict[tuple[str, str], deque[tuple[float, float | None, float | None]]] = field(
        default_factory=dict, init=False
    )
    _partial: bytes = field(default=b"", init=False, repr=False)

    def __post_init__(self) -> None:
        self.progress = {s: Progress(s, self.expected) for s in self.strategies}
        self.calls = {s: Progress(s, self.expected) for s in self.strategies if s in self.apps}
        edges = time_edges(self.span_s)
        self.bin_s = float(edges[1] - edges[0])
        self.bins = {s: {k: {} for k in OUTCOMES} for s in self.strategies}

    @property
    def n_bins(self) -> int:
        return max(1, round(self.span_s / self.bin_s))

    def feed_traces(self, data: bytes) -> None:
        """New bytes of ``traces.jsonl``; a line cut short waits for the rest."""
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        attempts: list[tuple[str, float]] = []
        statuses: list[int] = []
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            progress = self.progress.get(rec.get("strategy"))
            if progress is None:
                continue
            progress.count(rec)
            if rec["kind"] == "attempt":
                attempts.append((rec["strategy"], float(rec.get("start_t") or 0.0)))
                statuses.append(int(rec["status"]))
        if not attempts:
            return
        classes = outcome_class(pd.Series(statuses, dtype="int64"))
        for (strategy, start), cls in zip(attempts, classes, strict=True):
            counts = self.bins[strategy][str(cls)]
            i = max(0, int(start // self.bin_s))
            counts[i] = counts.get(i, 0) + 1

    def feed_calls(self, strategy: str, data: bytes) -> None:
        """Whole new lines of an app strategy's calls file."""
        progress = self.calls.get(strategy)
        if progress is None:
            return
        for line in data.splitlines():
            try:
                progress.count_call(json.loads(line))
            except ValueError:
                continue

    def feed_metrics(self, metrics_text: str | None, note: str | None = None) -> None:
        """One scrape of the mock's ``/metrics`` (None: none could be read, and ``note`` why)."""
        self.limiter_note = note
        if metrics_text is None:
            return
        limiter = parse_limiter(metrics_text)
        if (
            self.limiter is not None
            and limiter.t is not None
            and self.limiter.t is not None
            and limiter.t < self.limiter.t
        ):
            self.history.clear()  # the mock was reset: a new strategy's clock
        self.limiter = limiter
        for key, row in limiter.rows.items():
            kept = self.history.setdefault(key, deque(maxlen=HISTORY))
            kept.append((limiter.t or 0.0, _left(row, "requests"), _left(row, "tokens")))

    def snapshot(
        self,
        *,
        phase: str,
        current: str | None = None,
        completed: tuple[str, ...] | list[str] = (),
        report: str | None = None,
        run_dir: str = "",
        message: str | None = None,
    ) -> dict[str, Any]:
        """The page's state (``GET /state.json``)."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        strategies = [self._strategy(s, current, completed, phase) for s in self.strategies]
        return {
            "scenario": self.scenario,
            "mode": self.mode,
            "time_scale": self.time_scale,
            "phase": phase,
            "message": message,
            "current": current,
            "t": self.limiter.t if self.limiter is not None and current is not None else None,
            "span_s": self.span_s,
            "bin_s": self.bin_s,
            "outcomes": [
                {"key": k, "label": OUTCOME_LABELS[k], "color": OUTCOME_COLORS[k]} for k in OUTCOMES
            ],
            "strategies": strategies,
            "limiter": self._limiter(),
            "report": report,
            "run_dir": run_dir,
        }

    def _strategy(
        self, name: str, current: str | None, completed: Any, phase: str
    ) -> dict[str, Any]:
        traced = self.progress[name]
        calls = self.calls.get(name)
        shown = calls if calls is not None and traced.requests == 0 else traced
        if name in completed or phase == "done":
            state = "done" if name in completed or traced.requests else "not run"
        elif name == current:
            state = "running"
        else:
            state = "waiting"
        n = self.n_bins
        series = {}
        for outcome, counts in self.bins[name].items():
            length = max(n, max(counts, default=-1) + 1)
            series[outcome] = [counts.get(i, 0) for i in range(length)]
        attempts_known = shown is traced
        return {
            "name": name,
            "state": state,
            "app": name in self.apps,
            "expected": shown.expected,
            "done": shown.requests,
            "ok": shown.successes,
            "attempts": shown.attempts if attempts_known else None,
            "rate_limited": shown.rate_limited if attempts_known else None,
            "server_errors": shown.server_errors if attempts_known else None,
            "fallbacks": shown.fallbacks if attempts_known else None,
            "series": series,
        }

    def _limiter(self) -> dict[str, Any]:
        if self.limiter is None:
            return {"t": None, "rows": [], "note": self.limiter_note}
        rows = []
        for (key, model), row in sorted(self.limiter.rows.items()):
            buckets = [
                {"name": b, "remaining": v.get("remaining"), "limit": v.get("limit")}
                for b, v in row["buckets"].items()
            ]
            kept = self.history.get((key, model), ())
            rows.append({
                "key": key,
                "model": model,
                "in_flight": row["in_flight"],
                "buckets": buckets,
                "history": [list(h) for h in kept],
            })  # fmt: skip
        return {"t": self.limiter.t, "rows": rows, "note": self.limiter_note}


def _left(row: dict[str, Any], bucket: str) -> float | None:
    """What is left in one bucket as a share of its size, or None if the mock did not say."""
    b = row["buckets"].get(bucket) or {}
    remaining, limit = b.get("remaining"), b.get("limit")
    if remaining is None or not limit:
        return None
    return round(max(0.0, remaining) / limit, 4)
