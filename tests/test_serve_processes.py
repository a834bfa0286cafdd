"""``stampede serve --processes N --limiter redis://...``: N processes on one port enforce one
limit, a reset reaches all of them, and the combinations that cannot work exit 2."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from .redis_server import free_port, needs_redis, redis_server

ROOT = Path(__file__).resolve().parent.parent
RPM = 20
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
HEADERS = {"Authorization": "Bearer sk-shared"}


def serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def two_processes() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Two mock processes on one port, one RPM limit in a real redis-server."""
    with redis_server() as url:
        proc = serve("--processes", "2", "--limiter", url, "--port", "0",
                     "--rpm", str(RPM), "--tpm", "10000000")  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "listening on " in line, proc.stderr.read() if proc.stderr else line
            yield line.rsplit("listening on ", 1)[1].strip().removesuffix("/v1"), proc
        finally:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: the parent stops its children
            assert proc.wait(15) == 0


async def burst(root: str, n: int) -> Counter[int]:
    """``n`` chat requests at once, each on its own connection (the kernel spreads them)."""
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(f"{root}/v1/chat/completions", json=BODY,
                                    headers=HEADERS) as resp:  # fmt: skip
                await resp.read()
                statuses[resp.status] += 1

        await asyncio.gather(*(one() for _ in range(n)))
    return statuses


async def answered_by_process(root: str, probes: int = 24) -> list[int]:
    """Chat responses each process has counted, read from ``/metrics`` on fresh connections
    (the kernel sends each to one process): one total per process seen."""
    totals: set[int] = set()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(probes):
            async with session.get(f"{root}/metrics") as resp:
                text = await resp.text()
            counts = re.findall(r"^stampede_mock_responses_total\{.*?\} (\S+)$", text, re.M)
            totals.add(round(sum(float(c) for c in counts)))
    return sorted(totals)


@needs_redis
def test_two_processes_on_one_port_admit_one_limit_not_two(
    two_processes: tuple[str, subprocess.Popen[str]],
) -> None:
    root, _ = two_processes
    started = time.monotonic()
    statuses = asyncio.run(burst(root, 3 * RPM))
    elapsed = time.monotonic() - started
    # A full bucket of RPM, plus what refilled while the burst ran: one limit. Two limits
    # (each process its own) would admit 2 x RPM.
    refilled = int(elapsed * RPM / 60) + 1
    assert RPM <= statuses[200] <= RPM + refilled < 2 * RPM, statuses
    assert statuses[200] + statuses[429] == 3 * RPM, statuses
    per_process = asyncio.run(answered_by_process(root))
    assert len(per_process) == 2 and sum(per_process) == 3 * RPM, per_process  # both served


@needs_redis
def test_a_reset_on_one_process_gives_every_process_fresh_shared_buckets(
    two_processes: tuple[str, subprocess.Popen[str]],
) -> None:
    root, _ = two_processes
    first = asyncio.run(burst(root, 2 * RPM))
    assert first[429] > 0, first

    async def reset() -> float:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{root}/_stampede/reset") as resp:
                assert resp.status == 200
            return time.monotonic()

    reset_at = asyncio.run(reset())
    statuses = asyncio.run(burst(root, 2 * RPM))
    refilled = int((time.monotonic() - reset_at) * RPM / 60) + 1
    assert RPM <= statuses[200] <= RPM + refilled, statuses


def test_processes_without_a_shared_limiter_exit_2_saying_why() -> None:
    proc = serve("--processes", "2", "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--processes 2 needs --limiter redis://" in err and "2 x the configured" in err


def test_an_unreachable_limiter_exits_2_saying_where() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    proc = serve("--limiter", url, "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"--limiter: cannot reach {url}" in err


def test_a_limiter_password_is_never_printed() -> None:
    port = free_port()
    proc = serve("--limiter", f"redis://:s3cret@127.0.0.1:{port}/0", "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"cannot reach redis://:***@127.0.0.1:{port}/0" in err
    assert "s3cret" not in err


def test_a_malformed_limiter_url_exits_2() -> None:
    proc = serve("--limiter", "http://127.0.0.1:6379", "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "expected redis://HOST:PORT[/DB]" in err


@needs_redis
def test_one_reset_is_one_mark_in_a_shared_request_log(tmp_path: Path) -> None:
    """Every process appends to the one log; only the process that took the reset marks it,
    so the audit sees one run, not one per process."""
    log = tmp_path / "requests.jsonl"
    with redis_server() as url:
        proc = serve("--processes", "2", "--limiter", url, "--port", "0",
                     "--request-log", str(log))  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "listening on " in line, proc.stderr.read() if proc.stderr else line
            root = line.rsplit("listening on ", 1)[1].strip().removesuffix("/v1")

            async def reset_then_serve() -> None:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(f"{root}/_stampede/reset") as resp,
                ):
                    assert resp.status == 200
                await burst(root, 8)  # the reset answered: every process has restarted

            asyncio.run(reset_then_serve())
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(15) == 0
    marks = [ln for ln in log.read_text().splitlines() if "/_stampede/reset" in ln]
    assert len(marks) == 1, marks
