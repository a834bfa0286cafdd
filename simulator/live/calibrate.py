"""``--time-scale auto``: measure the host's overhead against the mock, choose the scale.

Run by the orchestrator as ``python -m simulator.live.calibrate HOST RUN_DIR`` (its own
process: Locust's client patches the standard library with gevent, which the orchestrator
must not). It reads ``RUN_DIR/scenario.yaml``; for each scale :func:`choose_scale` asks about,
it resets the mock to that scale and replays the opening of the scenario's traffic: the
workload's first ``expected_concurrency`` requests, as its first strategy's first attempts,
sent together (as a burst arrives) and then back to back, through the live run's own
transport (Locust's FastHttpSession). Each answer's latency beyond the plan the mock states is
one sample. It prints one JSON line, the :class:`~simulator.live.timing.ScaleChoice`; the
mock is reset again before the run.

With ``--at K`` it makes one probe at K and prints it: the orchestrator's warm-up of a fresh
mock before the first strategy (a cold mock answered a 20-request burst at 8x with a median
excess of 37-60 ms of scenario time, one warmed by a calibration with 15-22 ms), so the
first strategy meets the mock in the state every later one does.

Bounded: at most four probes (the ladder's binary search) of :data:`PROBE_S` to
:data:`MAX_PROBE_S`, each plus up to :data:`SETTLE_S` for the last answers, and the process
start; the orchestrator kills it after 30 s.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import gevent
import yaml
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mock_provider.clock import WallClock
from mock_provider.model.catalog import build_catalog
from simulator.client.events import AttemptSpec
from simulator.config import ClientConfig, Scenario
from simulator.live.orchestrate import reset_target
from simulator.live.timing import (
    Probe,
    Spread,
    choose_scale,
    expected_concurrency,
    shortest_latency,
    typical_latency_s,
)
from simulator.live.transport import LocustTransport
from simulator.workload import build_workload

__all__ = ["PROBE_S", "main", "probe"]

PROBE_S = 1.2  # wall seconds of requests per scale, at least
MAX_PROBE_S = 3.0  # and at most
SETTLE_S = 2.0  # then the answers still in flight may arrive
WARM_UP_S = 0.3  # --at: the opening served once or twice is enough to warm the mock up


def attempt_specs(sc: Scenario, n: int) -> list[AttemptSpec]:
    """The workload's first ``n`` requests as its first client's first attempts."""
    workload = build_workload(sc.workload, sc.seed, sc.duration)
    reqs = list(workload.open_loop) or [r for user in workload.closed_loop for r in user]
    first = next(iter(sc.strategies.values()))
    # An app strategy's opening is the same traffic; its SDK's settings are its own.
    client = first if isinstance(first, ClientConfig) else ClientConfig(stream=first.stream)
    spec = build_catalog(sc.provider)[sc.workload.model]
    t = client.timeouts
    return [
        AttemptSpec(1, spec.name, spec.dialect, r.messages, r.max_tokens, client.stream,
                    r.input_tokens, t.connect_s, t.read_s, client.api_key)
        for r in reqs[: max(1, n)]
    ]  # fmt: skip


def probe(
    host: str,
    specs: list[AttemptSpec],
    concurrency: int,
    scale: float,
    typical_s: float,
    least_s: float = PROBE_S,
) -> Probe:
    """``concurrency`` back-to-back senders at ``scale``: their median excess over the plan,
    and how late each one's first send started (scenario ms).

    They start together, as a burst does, and send for ``least_s`` (:data:`PROBE_S`), or for
    two typical latencies if that is longer (at most :data:`MAX_PROBE_S`), so slow answers at
    a low scale still give samples.
    """
    if not reset_target(host, time.time(), scale):
        raise RuntimeError(f"{host} has no stampede reset endpoint: cannot calibrate")
    session = FastHttpSession(
        base_url=host, request_event=EventHook(), user=None, concurrency=concurrency,
        max_retries=0, network_timeout=30.0, connection_timeout=5.0,
    )  # fmt: skip
    clock = WallClock(scale)
    transport = LocustTransport(session, clock)
    transport.warm_up(concurrency, SETTLE_S)  # as the run's users do before t=0
    excess: list[float] = []
    lag: list[float] = []
    window = min(MAX_PROBE_S, max(least_s, clock.wall(2 * typical_s)))
    start = time.monotonic()
    deadline = start + window

    def sender(i: int) -> None:
        lag.append(clock.scenario(time.monotonic() - start) * 1000.0)  # the burst's lateness
        while time.monotonic() < deadline:
            out = transport.send(specs[i % len(specs)])
            if out.status and out.plan_s is not None:
                excess.append((out.latency_s - out.plan_s) * 1000.0)
            i += concurrency

    senders = [gevent.spawn(sender, i) for i in range(concurrency)]
    gevent.joinall(senders, timeout=window + SETTLE_S)
    gevent.killall(senders)
    spread, late = Spread.of(excess), Spread.of(lag)
    if spread is None or late is None:
        raise RuntimeError(f"no answer from {host} in {window + SETTLE_S:g} s at {scale:g}x")
    return Probe(scale, spread.p50, late.p50, spread.n)


def main(argv: list[str]) -> int:
    """``HOST RUN_DIR``: choose the scale; ``HOST RUN_DIR --at K``: one probe at K (a warm-up)."""
    host, run_dir = argv[0], Path(argv[1])
    sc = Scenario.model_validate(yaml.safe_load((run_dir / "scenario.yaml").read_text()))
    workload = build_workload(sc.workload, sc.seed, sc.duration)
    concurrency = expected_concurrency(sc, workload)
    typical = typical_latency_s(sc, workload)
    specs = attempt_specs(sc, concurrency)
    if argv[2:3] == ["--at"]:
        one = probe(host, specs, concurrency, float(argv[3]), typical, WARM_UP_S)
        print(json.dumps({"probe": asdict(one), "concurrency": concurrency}), flush=True)
        return 0
    shortest = shortest_latency(sc)
    if shortest is None:
        raise SystemExit("no model the clients call has a network latency to bound against")
    choice = choose_scale(lambda k: probe(host, specs, concurrency, k, typical),
                          shortest.bound_ms, concurrency)  # fmt: skip
    print(json.dumps(choice.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
