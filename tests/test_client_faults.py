"""The client side of faults: each reaches the brain as its own outcome, policies treat it as
the SDKs do, traces keep the fault kind, and the total timeout bounds an attempt."""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
import pytest

from mock_provider.clock import WallClock
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.catalog import DEFAULT_CATALOG
from mock_provider.model.provider import Provider
from simulator.client.engine import ClientBrain, respond, run_scripted
from simulator.client.events import AttemptSpec, Outcome
from simulator.config import ClientConfig
from simulator.live.transport import LocustTransport
from simulator.report.loading import load_traces
from simulator.traces import TraceWriter, attempt_record
from simulator.virtual.transport import ProviderTransport
from simulator.workload import LogicalRequest

REQ = LogicalRequest(0, 0.0, "u1", "chat", "v1", (("user", "hi"),), 5, 100, "gpt-4o-mini")


def brain(**cfg: Any) -> ClientBrain:
    return ClientBrain(ClientConfig.model_validate(cfg), DEFAULT_CATALOG, random.Random(1))


@pytest.mark.parametrize(
    ("outcome", "fault", "sdk_retries", "langchain_retries"),
    [
        (respond(0, error="connection"), "connection", True, True),
        (respond(0, error="timeout"), "timeout", True, True),
        (respond(200, error="stream_cut", output_tokens=4), "stream_cut", False, True),
        (respond(200, error="overloaded_error", output_tokens=3), "stream_error", False, True),
        (respond(200, error="malformed"), "malformed", False, True),
        (respond(503, error="server_error"), None, True, True),
    ],
)
def test_each_fault_is_its_own_outcome_and_retried_as_the_sdks_do(
    outcome, fault, sdk_retries, langchain_retries
):
    spec = AttemptSpec(1, "gpt-4o-mini", "openai", (), None, True, 5, 5.0, 60.0, "sk")
    assert outcome(spec, 0.0).fault == fault
    for kind, retries in (("openai_sdk", sdk_retries), ("anthropic_sdk", sdk_retries),
                          ("langchain_with_retry", langchain_retries)):  # fmt: skip
        result, _events = run_scripted(brain(retry={"kind": kind}).request(REQ, 0.0), outcome)
        assert (result.attempts > 1) == retries, (kind, fault)
        if not retries:  # the partial output reaches the application as an error
            assert not result.success and result.final is not None
            assert result.final.output_tokens == outcome(spec, 0.0).output_tokens


def test_a_trace_keeps_the_fault_kind_and_the_tokens_received_before_it(tmp_path):
    spec = AttemptSpec(1, "gpt-4o-mini", "openai", (), None, True, 5, 5.0, 60.0, "sk")
    cut = Outcome(2.0, 200, "stream_cut", output_tokens=6, latency_s=2.0)
    ok = Outcome(3.0, 200, None, output_tokens=9, latency_s=1.0)
    path = tmp_path / "traces.jsonl"
    with TraceWriter(path) as w:
        w.write(attempt_record("s", REQ, spec, cut, 0.0, 0.0, 0.0, "gpt-4o-mini", "x"))
        w.write(attempt_record("s", REQ, spec, ok, 2.0, 0.0, 0.0, "gpt-4o-mini", "x"))
    df = load_traces(path)
    assert df["fault"].tolist()[0] == "stream_cut" and df["output_tokens"].tolist()[0] == 6
    assert df["fault"].isna().tolist() == [False, True]


SLOW = LatencyConfig(network_ms=DistConfig(median=10), first_token_ms=DistConfig(median=100),
                     decode_ms_per_token=DistConfig(median=100))  # fmt: skip


def test_the_total_timeout_cuts_a_virtual_attempt_at_the_deadline():
    cfg = ProviderConfig(models={"gpt-4o-mini": ModelConfig(latency=SLOW)},
                         output_tokens=DistConfig(median=50))  # fmt: skip
    t = ProviderTransport(Provider(cfg, 0.0))
    base = AttemptSpec(1, "gpt-4o-mini", "openai", (("user", "hi"),), None, False, 5, 5.0, 60.0,
                       "sk")  # fmt: skip
    whole = t.send(base, 0.0)
    assert whole.ok and whole.latency_s > 4.0  # 50 tokens at 100 ms
    cut = t.send(base._replace(total_timeout_s=1.5), 10.0)
    assert (cut.status, cut.error, cut.now, cut.latency_s) == (0, "timeout", 11.5, 1.5)


def test_the_engine_hands_each_attempt_what_is_left_of_its_total_timeout():
    b = brain(timeouts={"total_s": 10}, retry={"kind": "fixed", "delay_s": 3, "max_attempts": 3})
    _result, events = run_scripted(b.request(REQ, 0.0), respond(503, latency_s=1.0))
    sends = [e.attempt.total_timeout_s for e in events if hasattr(e, "attempt")]
    assert sends == [10.0, 6.0, 2.0]  # 1 s attempt + 3 s wait each time


class _SlowSession:
    """A session whose request takes ``wall_s`` of gevent time (a hung server)."""

    def __init__(self, wall_s: float) -> None:
        self.wall_s = wall_s

    def request(self, *args: Any, **kw: Any) -> Any:
        gevent.sleep(self.wall_s)
        raise AssertionError("the total timeout should have stopped this request")


def test_the_total_timeout_bounds_a_live_attempt():
    spec = AttemptSpec(1, "gpt-4o-mini", "openai", (("user", "hi"),), 10, False, 5, 5.0, 60.0,
                       "sk", total_timeout_s=2.0)  # fmt: skip
    started = time.monotonic()
    out = LocustTransport(_SlowSession(5.0), WallClock(10.0)).send(spec)  # 0.2 wall s
    took = time.monotonic() - started
    assert (out.status, out.error) == (0, "timeout")
    assert 0.15 < took < 1.0 and out.latency_s == pytest.approx(took * 10, rel=0.2)
