"""`stampede run --master` with workers started apart (`stampede worker`), over loopback.

The same as `--workers 2` by design: worker i runs the requests whose number is i mod 2, and
each request draws its waits from a stream seeded by the scenario's seed, the strategy and the
request's number (``simulator/world.py``). So in this scenario, where no outcome depends on
timing (the mock fails every streamed attempt and answers every other), every count in the
summary and every attempt's worker, wait and status are identical; only the timings differ,
by the machine's noise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.agreement import TOLERANCE
from simulator.live.orchestrate import free_port

ROOT = Path(__file__).resolve().parents[1]
WORKER_EXIT_S = 60.0  # after the run: the last master's quit reaches them at once

SCENARIO = """
name: distributed
duration: 20
drain: 20
time_scale: 20
provider:
  models:
    gpt-4o-mini: {rpm: 600, tpm: 5000000}
  output_tokens: {median: 30, spread: 0.3}
  faults:
    - {kind: error, status: 503, stream: true}
workload:
  model: gpt-4o-mini
  arrivals: {kind: poisson, rate: 3}
  prompts: {input_tokens: {median: 100}, max_tokens: 60, users: 7}
strategies:
  plain:
    retry: {kind: openai_default}
  streamed:
    retry: {kind: full_jitter, base_s: 0.5, cap_s: 2, max_attempts: 3}
    stream: true
"""
COUNTS = (
    "logical_requests", "successes", "give_ups", "attempts", "rate_limited", "server_errors",
    "timeouts", "refused_by_guard", "local_refusals",
)  # fmt: skip


def stampede(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_worker(port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "simulator.cli", "worker", "--master-host", "127.0.0.1",
           "--master-port", str(port)]  # fmt: skip
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)


def finish(worker: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    """The worker's exit code and output, once it has exited (killed past the bound)."""
    try:
        code = worker.wait(WORKER_EXIT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        code = -999
    return code, log.read_text()


def attempts(run_dir: Path) -> dict[tuple[str, str, int], tuple[int, float, int]]:
    """(strategy, trace id, attempt) -> (worker, wait before it, status)."""
    recs = [json.loads(line) for line in (run_dir / "traces.jsonl").read_text().splitlines()]
    return {
        (r["strategy"], r["trace_id"], r["attempt"]): (r["worker"], r["slept_s"], r["status"])
        for r in recs
        if r["kind"] == "attempt"
    }


def test_two_workers_started_apart_give_the_summary_of_workers_2(tmp_path):
    scenario = tmp_path / "distributed.yaml"
    scenario.write_text(SCENARIO)
    port, mock_port = free_port(), free_port()
    logs = [tmp_path / f"worker-{i}.log" for i in (0, 1)]
    workers = [start_worker(port, log) for log in logs]  # before the master: they wait for it
    try:
        apart = stampede(
            "run", str(scenario), "--master", "--expect-workers", "2", "--master-port", str(port),
            "--mock-host", "127.0.0.1", "--mock-port", str(mock_port),
            "--out", str(tmp_path / "apart"),
        )  # fmt: skip
    finally:
        ended = [finish(w, log) for w, log in zip(workers, logs, strict=True)]
    assert apart.returncode == 0, apart.stdout + apart.stderr
    assert f"mock provider: http://127.0.0.1:{mock_port}/v1" in apart.stdout  # what workers call
    for code, output in ended:  # one command each served both strategies, then left
        assert code == 0, output
        assert output.count("strategy 1 done") == 1, output
        assert "the run is over, after 2 strategies" in output, output
    local = stampede("run", str(scenario), "--workers", "2", "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stdout + local.stderr

    runs = [json.loads((tmp_path / d / "summary.json").read_text()) for d in ("apart", "local")]
    a, b = (run["strategies"] for run in runs)
    assert a.keys() == b.keys() == {"plain", "streamed"}
    assert a["plain"]["successes"] == a["plain"]["logical_requests"] > 0
    assert a["streamed"]["attempts"] == 3 * a["streamed"]["logical_requests"]
    for name in a:
        assert {k: a[name][k] for k in COUNTS} == {k: b[name][k] for k in COUNTS}, name
    # the same work split and the same waits, attempt by attempt
    by_attempt = attempts(tmp_path / "apart")
    assert {w for w, _, _ in by_attempt.values()} == {0, 1}
    assert by_attempt == attempts(tmp_path / "local")
    # timings: within the live/virtual agreement tolerance (bench/agreement.py)
    tol, _ = TOLERANCE["p50_latency_ms"]
    p50 = a["plain"]["p50_latency_ms"], b["plain"]["p50_latency_ms"]
    assert abs(p50[0] - p50[1]) <= tol * p50[1], p50
    assert json.loads((tmp_path / "apart" / "run.json").read_text())["master"] == {
        "bind_host": "127.0.0.1",
        "port": port,
    }


def test_too_few_workers_is_a_run_error_that_says_how_to_start_them(tmp_path):
    scenario = tmp_path / "distributed.yaml"
    scenario.write_text(SCENARIO)
    port = free_port()
    log = tmp_path / "worker.log"
    worker = start_worker(port, log)
    try:
        proc = stampede(
            "run", str(scenario), "--strategies", "plain", "--master", "--expect-workers", "2",
            "--master-port", str(port), "--expect-workers-max-wait", "3",
            "--out", str(tmp_path / "run"),
        )  # fmt: skip
    finally:
        code, output = finish(worker, log)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert (
        f"waiting for 2 workers: 1 connected after 3 s; start them with: "
        f"stampede worker --master-host 127.0.0.1 --master-port {port}"
    ) in " ".join(proc.stderr.split())
    assert code == 0 and "the run is over" in output, output  # the stop ends it too


def test_master_options_are_checked_before_anything_starts(tmp_path):
    scenario = tmp_path / "distributed.yaml"
    scenario.write_text(SCENARIO)
    for args, field in (
        (["--master", "--workers", "2"], "--workers"),
        (["--expect-workers", "2"], "--expect-workers"),
        (["--master", "--expect-workers", "0"], "--expect-workers"),
        (["--master", "--repeat", "2"], "--master"),
        (["--master", "--mock-host", "0.0.0.0"], "--mock-host"),
        (["--mock-port", "8000", "--target", "http://127.0.0.1:9"], "--mock-host"),
    ):
        proc = stampede("run", str(scenario), *args, "--out", str(tmp_path / "run"))
        assert proc.returncode == 2, (args, proc.stderr)
        assert field in proc.stderr, (args, proc.stderr)
        assert not (tmp_path / "run").exists()
