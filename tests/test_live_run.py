"""Real `stampede run`s: Locust clients against the mock over loopback, short and bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def stampede(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "traces.jsonl").read_text().splitlines()]


def test_thundering_herd_full_jitter_beats_naive(tmp_path):
    out = tmp_path / "herd"
    proc = stampede(
        "run", "scenarios/thundering_herd.yaml", "--strategies", "naive,full_jitter",
        "--time-scale", "40", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())["strategies"]
    naive, jitter = summary["naive"], summary["full_jitter"]
    assert naive["logical_requests"] == jitter["logical_requests"] == 100
    assert jitter["amplification"] < naive["amplification"]
    assert jitter["success_rate"] > naive["success_rate"]
    # every attempt was traced, and the summary agrees with the raw traces
    recs = records(out)
    attempts = sum(1 for r in recs if r["kind"] == "attempt" and r["strategy"] == "naive")
    assert naive["attempts"] == attempts
    assert "naive" in proc.stdout and "full_jitter" in proc.stdout  # the terminal table
    assert (out / "report.html").exists()
    assert (out / "locust" / "naive_stats.csv").exists()  # Locust's own stats are kept


TWO_WORKERS = """
name: two_workers
duration: 20
drain: 20
time_scale: 20
provider:
  models:
    gpt-4o-mini: {rpm: 600, tpm: 5000000}
  output_tokens: {median: 30, spread: 0.3}
workload:
  model: gpt-4o-mini
  arrivals: {kind: poisson, rate: 3}
  prompts: {input_tokens: {median: 100}, max_tokens: 60, users: 7}
strategies:
  default:
    retry: {kind: openai_default}
    stream: true
"""


def test_two_worker_run_collects_traces_from_both(tmp_path):
    from simulator.config import load_scenario
    from simulator.workload import build_workload

    scenario = tmp_path / "two.yaml"
    scenario.write_text(TWO_WORKERS)
    sc = load_scenario(scenario)
    expected = build_workload(sc.workload, sc.seed, sc.duration).total
    out = tmp_path / "run"
    proc = stampede("run", str(scenario), "--workers", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = records(out)
    requests = [r for r in recs if r["kind"] == "request"]
    assert len(requests) == expected
    assert {r["worker"] for r in recs} == {0, 1}
    assert len({r["trace_id"] for r in requests}) == expected
    ttfts = [r["ttft_ms"] for r in requests if r["success"]]
    assert ttfts and all(t is not None and t > 0 for t in ttfts)  # streamed: TTFT measured


def test_interrupted_run_keeps_traces_and_writes_partial_summary(tmp_path):
    out = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", "scenarios/outage_fallback.yaml",
         "--time-scale", "5", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    traces = out / "traces.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait on the condition: some records are written
        if traces.exists() and traces.read_text().count("\n") >= 20:
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended early: {proc.communicate()}")
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("no traces appeared")
    before = traces.read_text().count("\n")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert traces.read_text().count("\n") >= before  # nothing recorded was lost
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True
    # cut during the first strategy: the second is listed as not run, not judged as failed
    assert list(summary["strategies"]) == ["no_fallback"]
    assert summary["not_run"] == ["fallback_chain"]
    assert json.loads((out / "run.json").read_text())["partial"] is True
    assert (out / "report.html").exists()
    assert "interrupted" in stdout
    # no orphan processes: the mock and Locust are gone
    for line in (out / "mock.log").read_text().splitlines():
        assert "Traceback" not in line
    assert not [c for c in _cmdlines() if str(out) in c], "orphan mock or Locust process"


def _cmdlines() -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and pid != str(os.getpid()):
            try:
                with open(f"/proc/{pid}/cmdline") as fh:
                    out.append(fh.read().replace("\0", " "))
            except OSError:
                continue
    return out
