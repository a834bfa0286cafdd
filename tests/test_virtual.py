"""The virtual driver: the provider brain as a transport, the event loop, and a whole run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.provider import Provider
from simulator.cli import main
from simulator.client.engine import ClientBrain
from simulator.client.events import AttemptSpec, Outcome
from simulator.config import ClientConfig, RetryConfig, TimeoutConfig
from simulator.runner import TraceRecorder, virtual_stamp
from simulator.traces import TraceRecord
from simulator.virtual.driver import RUN_ENDED, VirtualDriver
from simulator.virtual.transport import ProviderTransport
from simulator.workload import LogicalRequest

MODEL = "gpt-4o-mini"
FIXED = LatencyConfig(
    network_ms=DistConfig(median=40),
    prefill_ms_per_token=DistConfig(median=0),
    first_token_ms=DistConfig(median=200),
    decode_ms_per_token=DistConfig(median=10),
)


def provider(rpm: int = 600, tpm: int = 1_000_000, profile: str = "openai") -> Provider:
    cfg = ProviderConfig(
        models={MODEL: ModelConfig(rpm=rpm, tpm=tpm, latency=FIXED)},
        output_tokens=DistConfig(median=50),
        profile=profile,
    )
    return Provider(cfg, 0.0)


def spec(attempt: int = 1, stream: bool = False, read_s: float = 60.0) -> AttemptSpec:
    return AttemptSpec(attempt, MODEL, "openai", (("user", "hello there"),), 100, stream, 11,
                       5.0, read_s, "sk-test")  # fmt: skip


def test_a_plain_answer_arrives_when_its_plan_ends_with_its_latency_as_ttft() -> None:
    out = ProviderTransport(provider()).send(spec(), 1.0)
    # 40 ms network + 200 ms first token + 49 gaps of 10 ms
    assert out.status == 200 and out.now == pytest.approx(1.0 + 0.04 + 0.2 + 0.49)
    assert out.ttft_s == out.latency_s == pytest.approx(0.73)
    assert out.output_tokens == 50 and out.finish_reason == "stop" and out.input_tokens > 0


def test_a_stream_has_its_first_token_at_ttft_and_the_usage_a_client_reads() -> None:
    out = ProviderTransport(provider()).send(spec(stream=True), 0.0)
    assert out.ttft_s == pytest.approx(0.24) and out.latency_s == pytest.approx(0.73)
    assert out.output_tokens == 50 and out.input_tokens > 0 and out.finish_reason == "stop"


def test_the_client_times_out_and_the_brain_still_settles_later() -> None:
    p = provider(tpm=200)
    t = ProviderTransport(p)
    out = t.send(spec(read_s=0.5), 0.0)
    assert (out.status, out.error) == (0, "timeout") and out.now == pytest.approx(0.5)
    # the first request holds its TPM estimate until its plan ends at 0.73 s ...
    assert t.send(spec(), 0.6).status == 429
    # ... and once it has settled to what it used, the next fits
    assert t.send(spec(), 60.0).status == 200


def test_a_429_is_read_as_the_live_client_reads_it() -> None:
    t = ProviderTransport(provider(rpm=1, profile="azure"))  # retry-after-ms: the exact wait
    assert t.send(spec(), 0.0).status == 200
    refused = t.send(spec(), 0.0)
    assert refused.status == 429 and refused.error == "rate_limit_exceeded"
    assert refused.latency_s == pytest.approx(0.04)  # a refusal takes its round trip
    # Retry-After counts from receipt: the bucket refills in 60 s, less the round trip
    assert refused.retry_after_s == pytest.approx(60 - 0.04, abs=0.002)
    assert refused.remaining_requests == 0


def test_a_429_from_api_openai_com_tells_whole_seconds() -> None:
    t = ProviderTransport(provider(rpm=1))  # the default profile: retry-after only
    assert t.send(spec(), 0.0).status == 200
    refused = t.send(spec(), 0.0)
    assert refused.status == 429 and refused.retry_after_s == 60.0  # 59.96 s, rounded up


class ListSink:
    def __init__(self) -> None:
        self.rows: list[TraceRecord] = []

    def write(self, record: TraceRecord) -> None:
        self.rows.append(record)


def request(seq: int, at: float) -> LogicalRequest:
    return LogicalRequest(seq, at, "u1", "chat", "v1", (("user", f"#{seq:09d} hi"),), 14, 50,
                          MODEL)  # fmt: skip


def driver(retry: RetryConfig, p: Provider, sink: ListSink) -> VirtualDriver:
    cfg = ClientConfig(retry=retry, timeouts=TimeoutConfig(total_s=10_000))
    brain = ClientBrain(cfg, p.catalog, __import__("random").Random(0))
    return VirtualDriver(brain, ProviderTransport(p), TraceRecorder("s", p.catalog, sink,
                                                                    virtual_stamp))  # fmt: skip


def test_requests_run_to_the_end_and_are_recorded_in_time_order() -> None:
    sink = ListSink()
    retry = RetryConfig(kind="fixed", delay_s=1.0, max_attempts=100)
    cut = driver(retry, provider(rpm=2), sink).run_schedule(
        [request(i, 0.0) for i in range(4)], [], 1_000.0
    )
    assert cut == 0
    reqs = [r for r in sink.rows if r.kind == "request"]
    assert len(reqs) == 4 and all(r.success for r in reqs)
    attempts = [r for r in sink.rows if r.kind == "attempt"]
    # two get in at t=0; the others retry every second until the bucket (2/min) refills:
    # one more every 30 s
    assert sum(r.status == 429 for r in attempts) > 0
    assert max(r.t for r in reqs) == pytest.approx(60 + 0.73, abs=1.1)
    assert [r.t for r in sink.rows] == sorted(r.t for r in sink.rows)


def test_the_deadline_cuts_what_is_still_running() -> None:
    sink = ListSink()
    retry = RetryConfig(kind="fixed", delay_s=30.0, max_attempts=10)
    cut = driver(retry, provider(rpm=1), sink).run_schedule(
        [request(0, 0.0), request(1, 0.0)], [], 20.0
    )
    assert cut == 1
    last = [r for r in sink.rows if r.kind == "request"][-1]
    assert last.error == RUN_ENDED and last.t == 20.0


def test_closed_loop_users_think_between_their_requests() -> None:
    sink = ListSink()
    users = [[request(0, 1.0), request(1, 2.0)], [request(2, 0.5)]]
    driver(RetryConfig(kind="none"), provider(), sink).run_schedule([], users, 100.0)
    starts = {r.trace_id: r.start_t for r in sink.rows if r.kind == "request"}
    assert starts["s-2"] == 0.5 and starts["s-0"] == 1.0
    # user 0's second request starts 2 s after its first ended (0.73 s later)
    assert starts["s-1"] == pytest.approx(1.0 + 0.73 + 2.0)


SCENARIO = """
name: tiny_herd
seed: 3
duration: 5
drain: 120
provider:
  models:
    gpt-4o-mini: {rpm: 30, tpm: 1000000}
  output_tokens: {median: 60, spread: 0.3}
workload:
  model: gpt-4o-mini
  arrivals: {kind: burst, n: 40}
  prompts: {input_tokens: {median: 200}, max_tokens: 100}
strategies:
  exponential: {retry: {kind: exponential, base_s: 1, cap_s: 30, max_attempts: 8}}
  full_jitter: {retry: {kind: full_jitter, base_s: 1, cap_s: 30, max_attempts: 8}}
"""


def test_same_scenario_and_seed_give_byte_identical_traces(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["run", str(scenario), "--virtual", "--out", str(out)]) == 0
        outs.append(out)
    a, b = ((o / "traces.jsonl").read_bytes() for o in outs)
    assert a == b and len(a.splitlines()) > 80
    info: dict[str, Any] = json.loads((outs[0] / "run.json").read_text())
    assert info["mode"] == "virtual" and info["partial"] is False
    html = (outs[0] / "report.html").read_text()
    assert "mode virtual" in html
    summary = json.loads((outs[0] / "summary.json").read_text())["strategies"]
    assert summary["full_jitter"]["herd_index"] < summary["exponential"]["herd_index"]


def test_a_different_seed_gives_different_traffic(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    for name, seed in (("a", "3"), ("b", "4")):
        assert main(["run", str(scenario), "--virtual", "--seed", seed,
                     "--out", str(tmp_path / name)]) == 0  # fmt: skip
    assert (tmp_path / "a" / "traces.jsonl").read_bytes() != (
        tmp_path / "b" / "traces.jsonl"
    ).read_bytes()


def test_the_outcome_type_is_the_live_one() -> None:
    out = ProviderTransport(provider()).send(spec(), 0.0)
    assert isinstance(out, Outcome) and out.plan_s == pytest.approx(out.latency_s)


@pytest.mark.parametrize("scenario", ["thundering_herd", "launch_day"])
def test_a_requests_ttft_runs_from_its_start_through_every_retry_and_wait(scenario: str) -> None:
    """On the virtual driver, every strategy: TTFT = (answering attempt's send - the request's
    start) + that attempt's own TTFT, so every earlier attempt and wait is in it."""
    from simulator.config import load_scenario
    from simulator.virtual.run import run_strategy
    from tests.ttft_checks import ttft_shortfalls

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{scenario}.yaml")
    sink: list[TraceRecord] = []
    for name in sc.strategies:
        run_strategy(sc, name, type("Sink", (), {"write": staticmethod(sink.append)})(), [])
    rows = [{f: getattr(r, f) for f in r.__struct_fields__} for r in sink]
    checked, wrong = ttft_shortfalls(rows)
    assert checked > 100 and not wrong, wrong[:5]
    # exactly the definition, and retried requests do wait longer than their last attempt
    sent = {(r["trace_id"], r["attempt"]): r["start_t"] for r in rows if r["kind"] == "attempt"}
    retried = 0
    for r in rows:
        if r["kind"] == "request" and r["success"]:
            own = (sent[(r["trace_id"], r["attempt"])] - r["start_t"]) * 1000.0
            assert r["ttft_ms"] == pytest.approx(own + r["attempt_ttft_ms"], abs=1e-6)
            if r["attempt"] > 1:
                retried += 1
                assert r["ttft_ms"] > r["attempt_ttft_ms"]
        if r["kind"] == "attempt":
            assert r["ttft_ms"] is None  # an attempt's own TTFT is attempt_ttft_ms
    assert retried > 0
