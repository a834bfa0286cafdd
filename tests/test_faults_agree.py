"""Virtual and live agree on what each fault does to a client.

The same provider config, with one fault rule, is served live (the aiohttp mock, read by the
Locust transport) and run virtually (``ProviderTransport`` over the brain). Each attempt must
come back as the same :class:`Outcome` where timing does not enter: status, error, the fault
the client saw, and the tokens it received before the fault.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_provider.config import DistConfig, FaultWindowConfig, LatencyConfig, ModelConfig
from mock_provider.config import ProviderConfig as PC
from mock_provider.model.faults import FAULT_KINDS as FAULTS_KINDS
from mock_provider.model.provider import Provider
from simulator.client.events import AttemptSpec, Outcome
from simulator.virtual.transport import ProviderTransport
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODELS = {"gpt-4o-mini": ModelConfig(latency=INSTANT), "claude-haiku-4-5": ModelConfig(
    latency=INSTANT)}  # fmt: skip

# Every fault kind but the error windows (outage, error_rate: tests/test_faults.py), which
# refuse as an ``error`` does.
FAULTS: list[dict[str, Any]] = [
    {"kind": "error", "status": 429, "retry_after": 3},
    {"kind": "error", "status": 500, "should_retry": False},
    {"kind": "reset"},
    {"kind": "reset", "after_bytes": 300},
    {"kind": "hang", "max_hang": 30},
    {"kind": "empty"},
    {"kind": "malformed", "after_tokens": 4},
    {"kind": "slow", "factor": 2},
    {"kind": "cut_stream", "after_tokens": 6},
    {"kind": "stream_error", "after_tokens": 3},
    {"kind": "slow_first_byte", "delay": 0.2},  # under the read timeout: answered
    {"kind": "slow_first_byte", "delay": 1.0},  # over it: the client gives up
]


def spec(model: str, dialect: str, stream: bool) -> AttemptSpec:
    return AttemptSpec(
        1, model, dialect, (("user", "Say something."),), 50, stream, 12, 5.0, 0.5, "sk-test"
    )


ROOT = Path(__file__).resolve().parents[1]


def facts(o: Outcome) -> tuple[Any, ...]:
    return (o.status, o.error, o.fault, o.output_tokens, o.should_retry, o.retry_after_s)


def live_outcomes(
    port: int, specs: list[AttemptSpec], time_scale: float = 1.0
) -> list[dict[str, Any]]:
    """The attempts sent in order by the Locust transport, in a process of its own
    (tests/fault_probe.py): each outcome's fields, read on the mock's time scale."""
    args = [f"http://127.0.0.1:{port}", str(specs[0].read_timeout_s), json.dumps(specs),
            str(time_scale)]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "tests.fault_probe", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return [json.loads(line) for line in done.stdout.strip().splitlines()]


def live_facts(port: int, specs: list[AttemptSpec]) -> list[tuple[Any, ...]]:
    return [(o["status"], o["error"], o["fault"], o["output_tokens"], o["should_retry"],
             o["retry_after_s"]) for o in live_outcomes(port, specs)]  # fmt: skip


@pytest.mark.parametrize("dialect", ["openai", "openai_responses", "anthropic"])
def test_each_fault_reaches_live_and_virtual_clients_as_the_same_outcome(dialect):
    model = "claude-haiku-4-5" if dialect == "anthropic" else "gpt-4o-mini"
    # Each rule strikes once (times: 1), in order: request i meets fault i.
    rules = [FaultWindowConfig.model_validate({**raw, "times": 1}) for raw in FAULTS
             for _ in (False, True)]  # fmt: skip
    cfg = PC.model_validate({"models": MODELS, "output_tokens": {"median": 20, "spread": 0},
                             "faults": rules})  # fmt: skip
    specs = [spec(model, dialect, stream) for _ in FAULTS for stream in (False, True)]
    virtual_transport = ProviderTransport(Provider(cfg, 0.0))
    virtual = [facts(virtual_transport.send(s, 0.0)) for s in specs]
    with running_mock(cfg) as m:
        live = live_facts(m.port, specs)
    assert len(live) == len(specs)
    for i, (lv, vt) in enumerate(zip(live, virtual, strict=True)):
        assert lv == vt, (FAULTS[i // 2], specs[i].stream, lv, vt)
    by_kind: dict[tuple[str, bool], tuple[Any, ...]] = {}
    for i, f in enumerate(live):
        by_kind.setdefault((FAULTS[i // 2]["kind"], specs[i].stream), f)
    # each fault is its own outcome, as the client sees it
    assert by_kind[("error", False)][0] == 429 and by_kind[("error", False)][5] == 3.0
    assert by_kind[("reset", False)][:3] == (0, "connection", "connection")
    assert by_kind[("hang", True)][:3] == (0, "timeout", "timeout")
    assert by_kind[("empty", True)][:3] == (0, "connection", "connection")
    assert by_kind[("cut_stream", True)][:4] == (200, "stream_cut", "stream_cut", 6)
    assert by_kind[("malformed", False)][:3] == (200, "malformed", "malformed")
    assert by_kind[("malformed", True)][2:4] == ("malformed", 4)
    assert by_kind[("stream_error", True)][2:4] == ("stream_error", 3)
    assert by_kind[("slow", True)][:3] == (200, None, None)
    assert by_kind[("slow", False)][:4] == (200, None, None, 20)
    assert by_kind[("stream_error", False)][:3] == (529, by_kind[("stream_error", False)][1], None)
    assert by_kind[("reset", True)][2] == "connection"  # after 300 bytes of the stream
    assert by_kind[("slow_first_byte", True)][:4] == (200, None, None, 20)
    late = [f for i, f in enumerate(live) if FAULTS[i // 2] == FAULTS[-1]]
    assert [f[:3] for f in late] == [(0, "timeout", "timeout")] * 2
    assert {kind for kind, _ in by_kind} == {raw["kind"] for raw in FAULTS}
    assert set(FAULTS_KINDS) <= {kind for kind, _ in by_kind} | {"error"}


@pytest.mark.parametrize("dialect", ["openai", "openai_responses", "anthropic"])
def test_a_slow_first_byte_holds_the_status_line_back_live_and_virtually(dialect):
    """The stall comes before the headers: a zero-latency answer takes the stall, live (wall
    time, at scale 1) and virtually alike; for a stream, its first token comes after it."""
    model = "claude-haiku-4-5" if dialect == "anthropic" else "gpt-4o-mini"
    rule = FaultWindowConfig.model_validate({"kind": "slow_first_byte", "delay": 0.3})
    cfg = PC.model_validate({"models": MODELS, "output_tokens": {"median": 20, "spread": 0},
                             "faults": [rule]})  # fmt: skip
    specs = [spec(model, dialect, stream) for stream in (False, True)]
    virtual = ProviderTransport(Provider(cfg, 0.0))
    for o in (virtual.send(s, 0.0) for s in specs):
        assert (o.status, o.error, o.latency_s) == (200, None, pytest.approx(0.3))
    with running_mock(cfg) as m:
        live = live_outcomes(m.port, specs)
    for o in live:
        assert (o["status"], o["error"], o["output_tokens"]) == (200, None, 20)
        assert 0.3 <= o["latency_s"] < 0.5  # the stall, and no more than the loopback
    assert live[1]["ttft_s"] >= 0.3


def test_anthropic_tells_live_at_time_scale_10_the_retry_after_virtual_tells():
    """The told wait is decided once, in scenario seconds (whole seconds for Anthropic), and
    the dialect writes it in wall seconds: at scale 10 a 3 s wait is "0.3", which the client
    reads back as 3 scenario seconds. (Rounded up in wall seconds, it was 1 wall second: 10
    scenario seconds, against virtual's 3.)"""
    model = "claude-haiku-4-5"
    faults = [FaultWindowConfig.model_validate({"kind": "error", "status": 429,
                                                "retry_after": 2.4, "times": 1})]  # fmt: skip
    cfg = PC.model_validate({"models": {model: {"latency": INSTANT, "rpm": 2}}, "faults": faults,
                             "output_tokens": {"median": 5, "spread": 0}})  # fmt: skip
    # the fault's 429, an answer, one more answer (the RPM bucket's last), the limiter's 429
    specs = [spec(model, "anthropic", False) for _ in range(4)]
    virtual = ProviderTransport(Provider(cfg, 0.0))
    told_virtual = [virtual.send(s, 0.0).retry_after_s for s in specs]
    with running_mock(cfg.model_copy(update={"time_scale": 10.0})) as m:
        live = live_outcomes(m.port, specs, time_scale=10.0)
    assert [o["status"] for o in live] == [429, 200, 200, 429]
    told_live = [o["retry_after_s"] for o in live]
    assert told_virtual[0] == told_live[0] == 3.0
    assert told_virtual[3] == told_live[3] and told_live[3] == int(told_live[3]) >= 1
