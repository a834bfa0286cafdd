"""The mock's control and observation routes: faults at run time, the request journal, metrics.

- ``GET /_stampede/faults``: the fault rules, each with its ``id``, config fields, ``struck``
  (requests it struck) and ``left`` (of its ``times``, or null);
- ``POST /_stampede/faults``: add one rule, in the schema of a scenario's ``provider.faults``
  entries (``mock_provider.config.FaultWindowConfig``); answers ``{"id": ..., "fault": ...}``.
  A bad rule is a 400 listing each problem as ``[field path, what was expected]``. Windows
  (``start``, ``end``) are scenario seconds since the last reset;
- ``DELETE /_stampede/faults`` clears every rule, ``DELETE /_stampede/faults/{id}`` one
  (404 if there is none); both answer ``{"removed": [ids]}``;
- ``GET /_stampede/requests?key=&model=&status=&since=``: the journal entries since the last
  reset (``mock_provider/journal.py``), oldest first; ``key`` is the full key or its redacted
  form, ``since`` scenario seconds (entries that ended at or after it);
- ``GET /metrics``: Prometheus text, through ``prometheus-client`` (see :class:`MockCollector`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from pydantic import ValidationError

from .body import BodyTooLarge
from .config import FaultWindowConfig, format_errors
from .journal import RESET_PATH, read_journal, redact_key

if TYPE_CHECKING:
    from .server import MockState

__all__ = ["Observations", "setup_admin_routes"]

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Latency buckets in scenario seconds: from a cached instant answer to a hung request.
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def _state(request: web.Request) -> MockState:
    from .server import APP_STATE  # the server module imports this one

    return request.app[APP_STATE]


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=msgspec.json.encode(body),
                        content_type="application/json")  # fmt: skip


# --------------------------------------------------------------------------- faults


async def list_faults(request: web.Request) -> web.StreamResponse:
    return _json(200, {"faults": _state(request).provider.faults.listing()})


async def add_fault(request: web.Request) -> web.StreamResponse:
    from .dialects import BadRequest
    from .server import read_json

    state = _state(request)
    try:
        data = await read_json(request)
    except (BadRequest, web.HTTPRequestEntityTooLarge, BodyTooLarge):
        return _json(400, {"error": {"message": "the body must be one fault rule, as JSON",
                                     "problems": []}})  # fmt: skip
    try:
        cfg = FaultWindowConfig.model_validate(data)
    except ValidationError as exc:
        problems = format_errors(exc)
        msg = "; ".join(f"{path or '<top>'}: {m}" for path, m in problems)
        return _json(400, {"error": {"message": f"invalid fault: {msg}",
                                     "problems": [list(p) for p in problems]}})  # fmt: skip
    fid = state.provider.add_fault(cfg)
    row = next(r for r in state.provider.faults.listing() if r["id"] == fid)
    return _json(200, {"id": fid, "fault": row})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    fid = request.match_info.get("fault_id")
    provider = _state(request).provider
    if fid is None:
        return _json(200, {"removed": provider.remove_faults(None)})
    removed = provider.remove_faults([fid])
    if not removed:
        return _json(404, {"error": {"message": f"no fault with id {fid!r}"}})
    return _json(200, {"removed": removed})


# --------------------------------------------------------------------------- journal


async def list_requests(request: web.Request) -> web.StreamResponse:
    """The journal since the last reset, filtered by the query (see the module docstring)."""
    q = request.query
    state = _state(request)
    entries: Any = state.recent
    if entries is None:
        if state.log is None or state.log_path is None:
            return _json(404, {"error": {"message": "this mock keeps no journal: serve it with "
                                         "--request-log FILE or --journal-size N"}})  # fmt: skip
        state.log.flush()
        entries = [e for e in read_journal(state.log_path, state.log_offset)
                   if e.path != RESET_PATH]  # fmt: skip
    try:
        status = int(q["status"]) if "status" in q else None
        since = float(q["since"]) if "since" in q else None
    except ValueError:
        return _json(400, {"error": {"message": "status must be an integer, since a number"}})
    key = q.get("key")
    keys = {key, redact_key(key)} if key else None
    model = q.get("model")
    out = [
        e
        for e in entries
        if (keys is None or e.key in keys)
        and (model is None or e.model == model)
        and (status is None or e.status == status)
        and (since is None or e.t >= since)
    ]
    return web.Response(body=msgspec.json.encode({"requests": out}),
                        content_type="application/json")  # fmt: skip


# --------------------------------------------------------------------------- metrics


class Tally:
    """A histogram's counts, kept by the request path at the cost of a bisect; rendered by
    prometheus-client (:class:`MockCollector`) when scraped. ``prometheus_client.Histogram``
    takes a lock per observation, a measurable share of the mock's hot path."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            cumulative.append(("+Inf" if bound == math.inf else repr(bound), running))
        return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=self.sum)


class Observations:
    """The histograms the handlers feed (scenario seconds)."""

    def __init__(self) -> None:
        self.latency = Tally(_BUCKETS)
        self.ttft = Tally(_BUCKETS)


class MockCollector(Collector):
    """Counters and gauges read from the mock's state when scraped, so the request path
    pays nothing for them: responses by dialect, model, status and fault; each key and
    model's bucket sizes, what is left in them, and requests in flight; the scenario clock."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        responses = CounterMetricFamily(
            "stampede_mock_responses", "Responses sent by the mock provider.",
            labels=["dialect", "model", "status", "fault"],
        )  # fmt: skip
        dialect_of = state.dialect_of_path
        faulted: dict[tuple[str, str, int], int] = {}
        for (dialect, model, status, fault), n in sorted(state.fault_counts.items()):
            responses.add_metric([dialect, model, str(status), fault], n)
            seen = (dialect, model, status)
            faulted[seen] = faulted.get(seen, 0) + n
        for (path, model, status), n in sorted(state.counts.items()):
            dialect = dialect_of(path)
            left = n - faulted.get((dialect, model, status), 0)
            if left > 0:
                responses.add_metric([dialect, model, str(status), "none"], left)
        yield responses
        now = state.clock.now()
        in_flight = GaugeMetricFamily(
            "stampede_mock_in_flight", "Requests in flight, by key and model.",
            labels=["key", "model"],
        )  # fmt: skip
        remaining = GaugeMetricFamily(
            "stampede_mock_bucket_remaining",
            "What is left in each rate-limit bucket, by key, model and bucket.",
            labels=["key", "model", "bucket"],
        )  # fmt: skip
        size = GaugeMetricFamily(
            "stampede_mock_bucket_limit",
            "The size of each rate-limit bucket, by key, model and bucket.",
            labels=["key", "model", "bucket"],
        )  # fmt: skip
        provider = state.provider
        for (key, model), limits in sorted(provider._limits.items()):
            shown = redact_key(key) or ""
            in_flight.add_metric([shown, model], limits.in_flight)
            view = limits.view(now)
            for name, bucket in _buckets(view):
                remaining.add_metric([shown, model, name], float(bucket.remaining))
                size.add_metric([shown, model, name], float(bucket.limit))
        yield in_flight
        yield remaining
        yield size
        model_load = GaugeMetricFamily(
            "stampede_mock_model_in_flight",
            "Requests in flight per model with a load curve (its latency and capacity follow it).",
            labels=["model"],
        )  # fmt: skip
        for model, load in sorted(provider._loads.items()):
            model_load.add_metric([model], load.in_flight)
        yield model_load
        observed = state.observed
        if observed is not None:
            yield observed.latency.family(
                "stampede_mock_latency_seconds",
                "Planned latency of answered chat requests (scenario seconds).",
            )
            yield observed.ttft.family(
                "stampede_mock_ttft_seconds",
                "Planned time to first token of streamed chat requests (scenario seconds).",
            )
        clock = GaugeMetricFamily("stampede_mock_scenario_seconds", "Scenario time now.")
        clock.add_metric([], now)
        yield clock


def _buckets(view: Any) -> Iterator[tuple[str, Any]]:
    """(bucket name, Bucket) for each bucket a RateLimitView shows."""
    for name in ("requests", "tokens", "input_tokens", "output_tokens"):
        bucket = getattr(view, name, None)
        if bucket is not None:
            yield name, bucket


async def metrics(request: web.Request) -> web.StreamResponse:
    registry = _state(request).registry
    return web.Response(body=generate_latest(registry), headers={"content-type": _CONTENT_TYPE})


def setup_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_stampede/faults", list_faults)
    app.router.add_post("/_stampede/faults", add_fault)
    app.router.add_delete("/_stampede/faults", clear_faults)
    app.router.add_delete("/_stampede/faults/{fault_id}", clear_faults)
    app.router.add_get("/_stampede/requests", list_requests)
    app.router.add_get("/metrics", metrics)
