"""Tiny, bounded runs of the benchmarks' core functions, so they don't rot."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
import yaml

from bench import limiter_accuracy as la
from bench import mock_throughput as mt


@pytest.mark.parametrize("limit", ["RPM", "TPM"])
@pytest.mark.parametrize("arrivals", ["even", "poisson"])
def test_virtual_limiter_admits_what_the_limit_promises(limit: str, arrivals: str) -> None:
    # Offered 2x for 120 s: more than capacity + refill, so the limit must bite.
    run = la.run_virtual(limit, rpm=120, tpm=12_000, duration=120.0, arrivals=arrivals, seed=1)
    assert run.expected == (120 * 3 if limit == "RPM" else 12_000 * 3)
    assert run.rejected > 0 and run.other == 0
    assert abs(run.ratio - 1.0) <= la.TOLERANCE, run.line()


@pytest.mark.timeout(60)
def test_live_limiter_over_loopback() -> None:
    run, _lag = asyncio.run(la.run_live("RPM", 120, 12_000, duration=120.0, time_scale=120.0))
    assert run.other == 0 and run.rejected > 0
    assert abs(run.ratio - 1.0) <= 0.05, run.line()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bare_read", mt.BARE_READS)
def test_throughput_servers_answer_alike(tmp_path: Path, bare_read: str) -> None:
    """Both servers answer 200 on each dialect's route under the fallback load, with bodies of
    the same size."""
    cfg = mt.bench_config()
    config_path = tmp_path / "provider.yaml"
    config_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    response_path = tmp_path / "response.json"
    mt.write_responses(response_path, cfg)
    servers = []
    limit_header = {"openai": "x-ratelimit-limit-requests",
                    "anthropic": "anthropic-ratelimit-requests-limit"}  # fmt: skip
    try:
        servers.append(mt.start_bare(response_path, read=bare_read))
        servers.append(mt.start_mock(config_path))
        for dialect in mt.ROUTES:
            sizes = []
            for server in servers:
                req = urllib.request.Request(
                    server.url_for(dialect),
                    data=mt.request_body(dialect),
                    headers=mt.request_headers(dialect),
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    assert resp.status == 200
                    sizes.append(len(resp.read()))
                    assert resp.headers[limit_header[dialect]] == str(mt.UNREACHABLE)
                load = mt.run_aiohttp_load(
                    server.url_for(dialect), connections=4, duration=0.5, dialect=dialect
                )
                assert load.requests > 0 and load.non_200 == 0 and load.errors == 0
            assert abs(sizes[0] - sizes[1]) <= 4, (dialect, sizes)  # ids/numbers may differ
    finally:
        for server in servers:
            server.stop()


def test_soak_runs_and_meets_its_targets_briefly() -> None:
    """bench/soak.py in miniature: 3 s, one key at 60x its limit (past its burst), the quiet key
    watched."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--seconds", "3", "--warmup", "1", "--keys", "1",
         "--rpm", "20", "--factor", "60"],
        cwd=root, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5xx not injected: 0 of" in done.stdout
    assert "another key's remaining quota moved: never" in done.stdout
    assert "429 response time p99:" in done.stdout
