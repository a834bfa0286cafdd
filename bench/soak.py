"""Does the mock hold under abuse? Ten times the RPM limit for a minute, from several keys.

    python bench/soak.py [--seconds 60] [--keys 4] [--rpm 600] [--factor 10] [--warmup 10]

The mock runs through its real entry point (``python -m mock_provider``) in its own process,
with a request log, a per-key RPM limit and a 1% injected error rate (``error_rate``: 503s
the journal marks as a fault). ``--keys`` keys each offer ``factor`` times their RPM limit,
evenly paced, from one aiohttp client process (this one); most of it is refused with 429s. A
quiet key sends one request at the start and is then only watched, through ``/metrics``.

It prints, after the run:

- the mock's RSS growth from the end of the warm-up to the end (target < 10%);
- the 429 response time p99, as the client measured it (wall ms);
- the 5xx responses that were not injected (journal entries with a 5xx and no fault;
  target 0);
- whether the quiet key's remaining requests ever fell below what its own request left
  (another key's load moving its quota; target: never).

Every loop is bounded by ``--seconds``; the mock binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
import yaml

from mock_provider.journal import read_journal

MODEL = "gpt-4o-mini"
QUIET = "sk-soak-quiet-9999"  # its redacted form (sk-...9999) is no load key's
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 20}


def rss_kb(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) if m else 0


def start_mock(config: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_provider", "--port", "0", "--config", str(config),
         "--request-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)/v1", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("the mock did not start")


async def quiet_remaining(session: aiohttp.ClientSession, base: str) -> float | None:
    async with session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    shown = re.escape(QUIET[:3] + "..." + QUIET[-4:])
    pattern = rf'stampede_mock_bucket_remaining\{{bucket="requests",key="{shown}",model="{MODEL}"\}} (\S+)'  # noqa: E501
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


async def offer(
    session: aiohttp.ClientSession, base: str, key: str, rate: float, until: float,
    results: list[tuple[float, int, float]], limit: asyncio.Semaphore,
) -> None:  # fmt: skip
    """Send ``rate`` requests a second with ``key`` until ``until`` (monotonic seconds)."""
    headers = {"authorization": f"Bearer {key}"}
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        async with limit:
            started = time.monotonic()
            try:
                async with session.post(f"{base}/v1/chat/completions", json=BODY,
                                        headers=headers) as resp:  # fmt: skip
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            results.append((started, status, (time.monotonic() - started) * 1000.0))

    next_at = time.monotonic()
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += 1.0 / rate
    if tasks:
        await asyncio.wait(tasks, timeout=30)


async def soak(args: argparse.Namespace, base: str, pid: int) -> dict[str, object]:
    keys = [f"sk-soak-load-{i:04d}" for i in range(args.keys)]
    rate = args.rpm / 60.0 * args.factor
    results: list[tuple[float, int, float]] = []
    limit = asyncio.Semaphore(256)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(f"{base}/v1/chat/completions", json=BODY,
                                headers={"authorization": f"Bearer {QUIET}"}) as resp:  # fmt: skip
            assert resp.status == 200, resp.status
        floor = await quiet_remaining(session, base)
        start = time.monotonic()
        until = start + args.seconds
        load = [asyncio.create_task(offer(session, base, k, rate, until, results, limit))
                for k in keys]  # fmt: skip
        await asyncio.sleep(args.warmup)
        rss_start = rss_kb(pid)
        lowest = floor
        while time.monotonic() < until:
            seen = await quiet_remaining(session, base)
            if seen is not None and (lowest is None or seen < lowest):
                lowest = seen
            await asyncio.sleep(1.0)
        await asyncio.gather(*load)
        rss_end = rss_kb(pid)
    statuses = np.array([s for _, s, _ in results])
    ms = np.array([m for _, _, m in results])
    limited = ms[statuses == 429]
    return {
        "offered_per_s": rate * args.keys,
        "sent": len(results),
        "ok": int((statuses == 200).sum()),
        "rate_limited": len(limited),
        "no_response": int((statuses == 0).sum()),
        "p99_429_ms": float(np.percentile(limited, 99)) if len(limited) else None,
        "rss_start_kb": rss_start,
        "rss_end_kb": rss_end,
        "quiet_after_own_request": floor,
        "quiet_lowest": lowest,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=10.0)
    p.add_argument("--keys", type=int, default=4)
    p.add_argument("--rpm", type=int, default=600, help="each key's RPM limit")
    p.add_argument("--factor", type=float, default=10.0, help="offered load / RPM limit")
    args = p.parse_args()
    if args.warmup >= args.seconds:
        p.error("--warmup must be shorter than --seconds")
    with tempfile.TemporaryDirectory() as tmp:
        config, log = Path(tmp) / "provider.yaml", Path(tmp) / "requests.jsonl"
        zero = {"median": 0}
        config.write_text(yaml.safe_dump({
            "models": {MODEL: {"rpm": args.rpm, "tpm": 100_000_000, "latency": {
                "network_ms": {"median": 2}, "prefill_ms_per_token": zero,
                "first_token_ms": {"median": 5}, "decode_ms_per_token": zero}}},
            "output_tokens": {"median": 20, "spread": 0},
            "faults": [{"kind": "error_rate", "model": MODEL, "rate": 0.01,
                        "statuses": [503]}],
        }))  # fmt: skip
        proc, base = start_mock(config, log)
        try:
            out = asyncio.run(soak(args, base, proc.pid))
        finally:
            proc.terminate()
            proc.wait(10)
        entries = [e for e in read_journal(log) if e.path.startswith("/v1/")]
    five = [e for e in entries if e.status >= 500]
    uninjected = sum(1 for e in five if e.fault is None)
    rss_start, rss_end = int(out["rss_start_kb"]), int(out["rss_end_kb"])  # type: ignore[call-overload]
    growth = (rss_end - rss_start) / max(1, rss_start)
    moved = (out["quiet_lowest"] is None or out["quiet_after_own_request"] is None
             or out["quiet_lowest"] < out["quiet_after_own_request"])  # type: ignore[operator]  # fmt: skip
    print(json.dumps(out, indent=1))
    print(f"offered {out['offered_per_s']:.0f} requests/s ({args.factor:g}x the RPM limit) from "
          f"{args.keys} keys for {args.seconds:g} s: {out['sent']:,} sent, {out['ok']:,} ok, "
          f"{out['rate_limited']:,} 429, {out['no_response']:,} without a response")  # fmt: skip
    print(f"RSS growth after warm-up: {growth:+.1%} ({out['rss_start_kb']:,} -> "
          f"{out['rss_end_kb']:,} kB; target < 10%)")  # fmt: skip
    p99 = out["p99_429_ms"]
    print(f"429 response time p99: {p99:.1f} ms" if p99 is not None else "429 p99: no 429")
    print(f"5xx not injected: {uninjected} of {len(five)} 5xx (target 0)")
    print(f"another key's remaining quota moved: {'YES' if moved else 'never'} (target: never)")
    sys.exit(0 if growth < 0.10 and uninjected == 0 and not moved else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
