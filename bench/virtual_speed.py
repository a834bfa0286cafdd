"""How fast the virtual driver runs, against the limit set by the brains themselves.

    python bench/virtual_speed.py [--requests 100000] [--million]

Three ways to run the same herd (a burst of ``--requests`` logical requests against an RPM
limit, full jitter, the provider brain as the transport), in one process, one after another:

- **bare loop**: the same steps as the driver takes, in the order it takes them (recorded once,
  untimed), as a plain loop over a list: each client generator stepped, the provider brain
  called for each attempt; no event queue, no traces. What the brains themselves cost: the
  limit for any driver.
- **virtual driver**: ``simulator.virtual.driver.VirtualDriver``, every request interleaved
  in virtual time, trace rows written to a file as a run writes them.
- **SimPy**: the same brains and runner, each request a SimPy process.

It prints attempts per second for each, and the ratios the targets are set on (issue 13):
driver >= 0.7 of the bare loop, driver >= 1.5x SimPy. ``--million`` then runs one million
logical requests through the driver and prints the wall time and the peak memory.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import simpy

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.catalog import build_catalog
from mock_provider.model.provider import Provider
from simulator.client.engine import ClientBrain
from simulator.client.events import Send
from simulator.config import ArrivalConfig, ClientConfig, PromptConfig, RetryConfig, WorkloadConfig
from simulator.runner import RequestRunner, TraceRecorder, virtual_stamp
from simulator.traces import TraceRecord, TraceWriter
from simulator.virtual.driver import VirtualDriver
from simulator.virtual.transport import ProviderTransport
from simulator.workload import LogicalRequest, build_workload

MODEL = "gpt-4o-mini"
SEED = 1


def provider_config(n: int) -> ProviderConfig:
    """Room for about a third of the burst at once, the rest over a few minutes."""
    latency = LatencyConfig(
        network_ms=DistConfig(median=40, spread=0.3),
        prefill_ms_per_token=DistConfig(median=0.03),
        first_token_ms=DistConfig(median=200, spread=0.4),
        decode_ms_per_token=DistConfig(median=8, spread=0.25),
    )
    rpm = max(60, n // 3)
    return ProviderConfig(
        models={MODEL: ModelConfig(rpm=rpm, tpm=10**9, latency=latency)},
        output_tokens=DistConfig(median=60, spread=0.4),
        seed=SEED,
    )


CLIENT = ClientConfig(
    retry=RetryConfig(kind="full_jitter", base_s=1.0, cap_s=60.0, max_attempts=10)
)


def workload(n: int) -> list[LogicalRequest]:
    cfg = WorkloadConfig(
        arrivals=ArrivalConfig(kind="burst", n=n),
        prompts=PromptConfig(input_tokens=DistConfig(median=60, spread=0.3), max_tokens=100),
        model=MODEL,
    )
    return list(build_workload(cfg, SEED, 10.0).open_loop)


class NullSink:
    def write(self, record: TraceRecord) -> None:
        pass


def world(n: int) -> tuple[ClientBrain, ProviderTransport]:
    cfg = provider_config(n)
    brain = ClientBrain(CLIENT, build_catalog(cfg), random.Random(SEED))
    return brain, ProviderTransport(Provider(cfg, 0.0))


Step = tuple[int, int, float, float]  # (kind, request index, time, seconds slept)


def schedule(reqs: list[LogicalRequest]) -> list[Step]:
    """The order in which the driver steps requests, recorded once (not timed): a copy of
    ``VirtualDriver.run_schedule``'s loop that writes down each step instead of keeping a
    heap for the replay."""
    brain, transport = world(len(reqs))
    rec = TraceRecorder("order", brain.catalog, NullSink(), virtual_stamp)
    heap: list[tuple[float, int, int, int, float]] = [
        (r.at, i, 0, i, 0.0) for i, r in enumerate(reqs)
    ]
    heapq.heapify(heap)
    runners: dict[int, RequestRunner] = {}
    pending: dict[int, tuple[Any, float]] = {}
    order: list[Step] = []
    seq = len(reqs)
    while heap:
        t, _, kind, i, seconds = heapq.heappop(heap)
        order.append((kind, i, t, seconds))
        if kind == 0:
            runners[i] = RequestRunner(brain, reqs[i], rec, t, reqs[i].at)
            event = runners[i].begin()
        elif kind == 1:
            outcome, t0 = pending.pop(i)
            event = runners[i].answered(outcome, t0)
        else:
            event = runners[i].woke(t, seconds)
        if event is None:
            continue
        if isinstance(event, Send):
            outcome = transport.send(event.attempt, t)
            pending[i] = (outcome, t)
            heapq.heappush(heap, (outcome.now, seq, 1, i, 0.0))
        else:
            heapq.heappush(heap, (t + event.seconds, seq, 2, i, event.seconds))
        seq += 1
    return order


def bare_loop(reqs: list[LogicalRequest], order: list[Step]) -> int:
    """The same steps in the recorded order, as a plain loop: no event queue, no traces.
    What the brains themselves cost: the limit for any driver."""
    brain, transport = world(len(reqs))
    rec = TraceRecorder("bare", brain.catalog, NullSink(), virtual_stamp)
    runners: dict[int, RequestRunner] = {}
    pending: dict[int, tuple[Any, float]] = {}
    attempts = 0
    for kind, i, t, seconds in order:
        if kind == 0:
            runners[i] = RequestRunner(brain, reqs[i], rec, t, reqs[i].at)
            event = runners[i].begin()
        elif kind == 1:
            outcome, t0 = pending.pop(i)
            event = runners[i].answered(outcome, t0)
        else:
            event = runners[i].woke(t, seconds)
        if isinstance(event, Send):
            pending[i] = (transport.send(event.attempt, t), t)
            attempts += 1
    return attempts


def driver(reqs: list[LogicalRequest], traces: Path) -> int:
    brain, transport = world(len(reqs))
    with TraceWriter(traces) as writer:
        rec = TraceRecorder("driver", brain.catalog, writer, virtual_stamp)
        VirtualDriver(brain, transport, rec).run_schedule(reqs, [], 10**9)
    return sum(1 for line in traces.open("rb") if line.startswith(b'{"kind":"attempt"'))


def simpy_driven(reqs: list[LogicalRequest]) -> int:
    """The same brains and runner, each logical request a SimPy process."""
    brain, transport = world(len(reqs))
    rec = TraceRecorder("simpy", brain.catalog, NullSink(), virtual_stamp)
    env = simpy.Environment()
    attempts = [0]

    def request(req: LogicalRequest) -> Generator[Any, Any, None]:
        yield env.timeout(req.at)
        runner = RequestRunner(brain, req, rec, env.now, req.at)
        event = runner.begin()
        while event is not None:
            if isinstance(event, Send):
                t0 = env.now
                outcome = transport.send(event.attempt, t0)
                attempts[0] += 1
                yield env.timeout(outcome.now - t0)
                event = runner.answered(outcome, t0)
            else:
                yield env.timeout(event.seconds)
                event = runner.woke(env.now, event.seconds)

    for req in reqs:
        env.process(request(req))
    env.run()
    return attempts[0]


def timed(label: str, fn: Callable[[], int]) -> float:
    gc.collect()
    began = time.perf_counter()
    attempts = fn()
    wall = time.perf_counter() - began
    rate = attempts / wall
    print(f"  {label:<16} {attempts:>9,} attempts in {wall:6.2f} s = {rate:>9,.0f} attempts/s")
    return rate


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="then 1,000,000 through the driver")
    args = ap.parse_args()
    reqs = workload(args.requests)
    print(f"herd of {len(reqs):,} logical requests, full jitter, RPM {args.requests // 3:,}")
    order = schedule(reqs)
    with tempfile.TemporaryDirectory() as tmp:
        bare = timed("bare loop", lambda: bare_loop(reqs, order))
        drv = timed("virtual driver", lambda: driver(reqs, Path(tmp) / "traces.jsonl"))
        sim = timed("SimPy", lambda: simpy_driven(reqs))
    print(f"driver / bare loop = {drv / bare:.2f} (target >= 0.7)")
    print(f"driver / SimPy     = {drv / sim:.2f} (target >= 1.5)")
    if args.million:
        del reqs
        gc.collect()
        big = workload(1_000_000)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "traces.jsonl"
            began = time.perf_counter()
            attempts = driver(big, path)
            wall = time.perf_counter() - began
            size = path.stat().st_size / 2**20
        print(
            f"1,000,000 logical requests: {attempts:,} attempts in {wall:.1f} s "
            f"({attempts / wall:,.0f} attempts/s), traces {size:,.0f} MiB, "
            f"peak memory {peak_rss_mib():,.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
