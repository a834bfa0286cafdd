"""Real `stampede run`s: Locust clients against the mock over loopback, short and bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from mock_provider.dialects.openai import DIALECT as OPENAI

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


JITTER = """
name: jitter_workers
seed: 11
duration: 10
drain: 20
time_scale: 20
provider:
  models:
    gpt-4o-mini: {rpm: 600, tpm: 5000000}
  output_tokens: {median: 30, spread: 0.3}
  faults:
    - {kind: error, status: 503}
workload:
  model: gpt-4o-mini
  arrivals: {kind: poisson, rate: 2}
  prompts: {input_tokens: {median: 100}, max_tokens: 60, users: 5}
strategies:
  jitter:
    retry: {kind: full_jitter, base_s: 0.5, cap_s: 2, max_attempts: 3}
"""


def _waits(run_dir: Path) -> dict[tuple[str, int], float]:
    """(trace id, attempt) -> the wait the client chose before it."""
    return {
        (r["trace_id"], r["attempt"]): r["slept_s"]
        for r in records(run_dir)
        if r["kind"] == "attempt"
    }


def test_two_workers_draw_the_virtual_runs_jitter(tmp_path):
    """Every attempt fails (a 503 on each), so each request's waits are its own draws and
    nothing else: worker 1's share must choose, request by request, the virtual run's."""
    scenario = tmp_path / "jitter.yaml"
    scenario.write_text(JITTER)
    virtual, live = tmp_path / "virtual", tmp_path / "live"
    proc = stampede("run", str(scenario), "--virtual", "--out", str(virtual))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    proc = stampede("run", str(scenario), "--workers", "2", "--out", str(live), timeout=120)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert {r["worker"] for r in records(live)} == {0, 1}
    expected, got = _waits(virtual), _waits(live)
    assert len(expected) >= 30 and {a for _, a in expected} == {1, 2, 3}
    assert got.keys() == expected.keys()
    differing = {k: (expected[k], got[k]) for k in expected if got[k] != pytest.approx(expected[k])}
    assert not differing, differing


def _outage_copy(tmp_path: Path) -> Path:
    """outage_fallback at time scale 20: its outage starts 1.5 wall seconds in."""
    data = yaml.safe_load((ROOT / "scenarios" / "outage_fallback.yaml").read_text())
    data["time_scale"] = 20
    path = tmp_path / "outage_fallback.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("workers", "to_group"), [(1, False), (2, True)], ids=["one-process", "two-workers-pgroup"]
)
def test_sigint_midway_keeps_every_answered_attempt(tmp_path, workers, to_group):
    out = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", str(_outage_copy(tmp_path)),
         "--duration", "60", "--workers", str(workers), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a shell gives a job: killpg reaches only it
    )  # fmt: skip
    traces = out / "traces.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait on the condition: the outage has begun
        if traces.exists() and '"status":503' in traces.read_text():
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended early: {proc.communicate()}")
        time.sleep(0.05)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("no 503 appeared")
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted" in stdout

    recs = records(out)
    attempts = Counter((r["model"], r["status"]) for r in recs if r["kind"] == "attempt")
    log = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    resets = [i for i, e in enumerate(log) if e["path"] == "/_stampede/reset"]
    ran = log[resets[-1] :]  # the strategy's reset; the mock's warm-up came before it
    answered = Counter((e["model"], e["status"]) for e in ran if e["path"] == OPENAI.chat_path)
    assert attempts[("gpt-4o", 503)] > 0 and answered[("gpt-4o", 200)] > 0
    # Every traced attempt was answered by the mock, and every answer was traced, less at most
    # the attempts still in flight when the grace period ended (their requests say so).
    assert not attempts - answered, (attempts, answered)
    cut = sum(1 for r in recs if r["kind"] == "request" and r["error"] == "run_stopped_in_flight")
    assert answered.total() - attempts.total() <= cut, (attempts, answered)
    # The partial summary counts what the mock sent.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True
    ran = summary["strategies"]["no_fallback"]
    assert ran["attempts"] == attempts.total()
    assert ran["server_errors"] == answered[("gpt-4o", 503)] - (answered - attempts).total()
    # cut during the first strategy: the second is listed as not run, not judged as failed
    assert list(summary["strategies"]) == ["no_fallback"]
    assert summary["not_run"] == ["fallback_chain"]
    assert json.loads((out / "run.json").read_text())["partial"] is True
    assert (out / "report.html").exists()
    # No record came after the writer closed, and no error went through our code. (Locust's
    # own CSV writer can race its files' closing as a --processes master exits: not ours.)
    locust_log = (out / "locust" / "no_fallback.log").read_text()
    assert "after the writer was closed" not in locust_log, locust_log
    assert f"{os.sep}simulator{os.sep}" not in locust_log, locust_log
    assert "Traceback" not in (out / "mock.log").read_text()
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


AGREEMENT = """
name: agreement
seed: 3
duration: 1
# the one retry that gets in ends near 6.5 s and the next wave comes after 10 s: the run ends
# at 8 s, well clear of both
drain: 7
time_scale: 1
provider:
  models:
    gpt-4o-mini:
      rpm: 12
      tpm: 10000000
      # a 400 ms round trip: the timing bound (half of it) holds on a busy machine too
      latency: {network_ms: {median: 400}, first_token_ms: {median: 200}}
  output_tokens: {median: 20, spread: 0}
workload:
  model: gpt-4o-mini
  arrivals: {kind: burst, n: 20, at: 0}
  prompts: {input_tokens: {median: 50}, max_tokens: 40}
strategies:
  retry_after:
    retry: {kind: fixed, delay_s: 0, honor_retry_after: true, max_attempts: 3}
"""


def test_a_scale_that_passes_the_timing_check_agrees_with_real_time(tmp_path):
    """20 requests at once on 12 RPM: 12 served, 8 told to come back when the next request
    refills (5 s), where one gets in; the rest are told 5 s more and the run ends first.

    The same at real time, at the scale auto chooses, and in virtual time (the virtual run
    has no host in the way: it is the reference the live ones must meet). Noise: one logical
    request (0.05 of success, 0.05 of amplification).
    """
    scenario = tmp_path / "agreement.yaml"
    scenario.write_text(AGREEMENT)
    runs = {}
    for scale in ("1", "auto", "virtual"):
        out = tmp_path / scale
        extra = ("--virtual",) if scale == "virtual" else ("--time-scale", scale)
        proc = stampede("run", str(scenario), *extra, "--out", str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[scale] = (
            json.loads((out / "run.json").read_text()),
            json.loads((out / "summary.json").read_text())["strategies"]["retry_after"],
        )
    (real, real_summary), (auto, auto_summary) = runs["1"], runs["auto"]
    virtual = runs["virtual"][1]
    chosen = auto["time_scale"]
    assert chosen == auto["time_scale_auto"]["scale"] > 1  # auto went faster than real time
    # Real time passes the timing check. Auto aims at 75% of the bound from a steady probe; a
    # burst of 20 at once can still push one run over on a busy machine, and then the run
    # must say so. Only a run that passed is held to agreement.
    passed = []
    for info, live in ((real, real_summary), (auto, auto_summary)):
        timing = info["timing"]["strategies"]["retry_after"]
        over = any(timing[m]["p50"] > 200.0 for m in ("mock_ms", "lag_ms", "excess_ms"))
        assert info["timing"]["bound_ms"] == 200.0
        assert bool(info["warnings"]) == over, info["warnings"]
        if not over:
            passed.append(live)
    assert real_summary in passed
    # The burst at t=0 starts on time: t=0 is set once Locust is ready (live/start.py).
    first = [
        rec["lag_ms"]
        for line in (tmp_path / "1" / "traces.jsonl").read_text().splitlines()
        if (rec := json.loads(line))["kind"] == "attempt" and rec["attempt"] == 1
    ]
    assert len(first) == 20 and max(first) < 200.0, first
    assert virtual["success_rate"] == pytest.approx(13 / 20)
    for live in passed:  # within one logical request, float error aside
        assert live["success_rate"] == pytest.approx(virtual["success_rate"], abs=0.05 + 1e-9)
        assert live["amplification"] == pytest.approx(virtual["amplification"], abs=0.05 + 1e-9)


RETRIED_STREAMS = """
name: retried_streams
seed: 5
duration: 1
drain: 60
time_scale: 20
provider:
  models:
    gpt-4o-mini: {rpm: 20, tpm: 2000000}
    gpt-4o: {rpm: 600, tpm: 2000000}
  output_tokens: {median: 40, spread: 0.3}
workload:
  model: gpt-4o-mini
  arrivals: {kind: burst, n: 40, at: 0}
  prompts: {input_tokens: {median: 200}, max_tokens: 80, users: 10}
strategies:
  exponential:
    retry: {kind: exponential, base_s: 1, cap_s: 16, max_attempts: 6}
  streamed_fallback:
    retry: {kind: full_jitter, base_s: 1, cap_s: 8, max_attempts: 3}
    fallback: [gpt-4o]
    stream: true
"""


def test_live_ttft_runs_from_the_requests_start_through_retries_and_fallback(tmp_path):
    """On the live driver: a burst twice the RPM limit, non-streamed with exponential backoff
    and streamed with a fallback; every success's TTFT holds every earlier round trip, every
    wait and its answering attempt's own TTFT (1 ms for the two clocks' rounding)."""
    from tests.ttft_checks import ttft_shortfalls

    scenario = tmp_path / "retried.yaml"
    scenario.write_text(RETRIED_STREAMS)
    out = tmp_path / "run"
    proc = stampede("run", str(scenario), "--out", str(out))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    recs = records(out)
    checked, wrong = ttft_shortfalls(recs, tolerance_ms=1.0)
    assert checked > 40 and not wrong, wrong[:5]
    ok = [r for r in recs if r["kind"] == "request" and r["success"]]
    retried = [r for r in ok if r["attempt"] > 1]
    fell_back = [r for r in ok if r["fallback_used"]]
    assert retried and fell_back  # the burst forced both
    assert all(r["ttft_ms"] > r["attempt_ttft_ms"] for r in retried)
