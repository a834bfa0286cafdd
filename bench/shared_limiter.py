"""Several mock processes on one limit in Redis: does the limit hold, and what do they serve?

    python bench/shared_limiter.py [--processes 4] [--rpm 300] [--tpm 30000] [--duration 180]
                                   [--time-scale 10] [--seconds 5] [--rounds 3] [--connections 32]

Needs ``redis-server`` (Debian's package: ``apt-get install -y redis-server``); each part starts
its own on a free loopback port, with no persistence, and stops it.

1. **Accuracy.** ``stampede serve --processes 4 --limiter redis://...`` is offered twice its
   RPM limit, then (a fresh server) twice its TPM limit, for ``--duration`` scenario seconds at
   ``--time-scale`` from 64 keep-alive connections that the kernel spreads over the processes.
   This is ``bench/limiter_accuracy.py --live`` (the same arrivals, bodies and count), with the
   server started with the shared limiter: admitted / expected, target 1.000 ±1%.
2. **Throughput.** Requests per second with every limit out of reach (each request still
   charged, one Lua script a request) of three servers, each for ``--seconds`` per round:
   ``--processes 1`` with the in-process limiter, ``--processes 1`` with Redis and
   ``--processes 2`` with Redis. The load generator is ``wrk`` (else the aiohttp client of
   ``bench/mock_throughput.py``). A round measures the three back to back (in a rotating
   order); the figures are the medians of the rounds' own ratios: Redis 2 against Redis 1
   (what a second process adds), Redis 1 against in-process 1 (what the round trip costs).
   Nothing is pinned: on a machine of 2 cores, two mock processes, Redis and the load
   generator share them, so the 2-against-1 ratio is far below 2 there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.limiter_accuracy import TOLERANCE, run_live
from bench.mock_throughput import (
    _lua_script,
    bench_config,
    request_body,
    run_aiohttp_load,
    run_wrk,
    start_mock,
)
from tests.redis_server import redis_server

__all__ = ["main"]


def accuracy(args: argparse.Namespace) -> list[float]:
    """Part 1: admitted/expected for RPM and for TPM across ``--processes`` processes."""
    ratios = []
    for limit in ("RPM", "TPM"):
        with redis_server() as url:
            started = time.perf_counter()
            run, lag = asyncio.run(
                run_live(limit, args.rpm, args.tpm, args.duration, args.time_scale,
                         serve_args=["--processes", str(args.processes), "--limiter", url])
            )  # fmt: skip
            ratios.append(run.ratio)
            print(
                f"{args.processes} processes, " + run.line()
                + f" [{time.perf_counter() - started:.1f}s wall, x{args.time_scale:g}, max send"
                f" lag {lag * 1000:.1f} ms = {lag * args.time_scale:.2f} scenario s]",
                flush=True,
            )  # fmt: skip
    return ratios


def throughput(args: argparse.Namespace) -> tuple[float, float]:
    """Part 2: (Redis 2 / Redis 1, Redis 1 / in-process 1), medians of the rounds' ratios."""
    servers = {"in-process x1": [], "redis x1": ["--processes", "1"],
               "redis x2": ["--processes", "2"]}  # fmt: skip
    wrk = shutil.which("wrk") is not None
    print(f"throughput: {args.seconds:g} s per server per round, {args.connections} "
          f"connections, load from {'wrk -t1' if wrk else 'an aiohttp client'}")  # fmt: skip
    two_over_one, redis_over_local = [], []
    with tempfile.TemporaryDirectory(prefix="stampede-shared-") as tmp:
        config = Path(tmp, "provider.yaml")
        config.write_text(yaml.safe_dump(bench_config().model_dump(mode="json")))
        script = Path(tmp, "post.lua")
        script.write_text(_lua_script(request_body()))
        for r in range(args.rounds):
            rps: dict[str, float] = {}
            names = list(servers)
            names = names[r % 3 :] + names[: r % 3]  # a slow spell hits each in turn
            for name in names:
                with redis_server() as url:
                    extra = [*servers[name], "--limiter", url] if servers[name] else []
                    server = start_mock(config, extra_args=extra)
                    try:
                        if wrk:
                            load = run_wrk(server.url, script, args.connections, 1)  # warm up
                            load = run_wrk(server.url, script, args.connections, args.seconds)
                        else:
                            load = run_aiohttp_load(server.url, args.connections, args.seconds)
                    finally:
                        server.stop()
                if load.non_200 or load.errors:
                    raise SystemExit(f"{name}: {load.non_200} non-200, {load.errors} errors")
                rps[name] = load.requests / load.elapsed_s
            two_over_one.append(rps["redis x2"] / rps["redis x1"])
            redis_over_local.append(rps["redis x1"] / rps["in-process x1"])
            print(
                f"round {r + 1}: " + ", ".join(f"{n} {rps[n]:,.0f} req/s" for n in servers)
                + f"; redis x2 / redis x1 = {two_over_one[-1]:.2f}, redis x1 / in-process x1"
                f" = {redis_over_local[-1]:.2f}",
                flush=True,
            )  # fmt: skip
    return statistics.median(two_over_one), statistics.median(redis_over_local)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--processes", type=int, default=4, help="mock processes for the accuracy")
    p.add_argument("--rpm", type=int, default=300, help="the RPM limit under test")
    p.add_argument("--tpm", type=int, default=30_000, help="the TPM limit under test")
    p.add_argument("--duration", type=float, default=180.0, help="scenario seconds offered")
    p.add_argument("--time-scale", type=float, default=10.0, help="of the accuracy runs")
    p.add_argument("--seconds", type=float, default=5.0, help="of each throughput run")
    p.add_argument("--rounds", type=int, default=3, help="throughput rounds")
    p.add_argument("--connections", type=int, default=32, help="for the throughput")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: apt-get install -y redis-server", file=sys.stderr)
        return 2
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    ratios = accuracy(args)
    if not args.skip_throughput:
        scaling, cost = throughput(args)
        print(f"throughput redis x2 / redis x1: {scaling:.2f} (median of {args.rounds} rounds)")
        print(f"throughput redis x1 / in-process x1: {cost:.2f} (what the Redis round trip costs)")
    print(f"machine: load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if all(abs(r - 1.0) <= TOLERANCE for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
