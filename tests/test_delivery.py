"""The delivery script (``mock_provider/delivery.py``) and the fast copies of its plain case.

The live handler sends a plain whole body inline, and the virtual transport reads a plain
answer without walking its script: both are copies of the script's plain case, kept for
speed (bench/mock_throughput.py, bench/virtual_speed.py). These tests hold each copy to the
reference.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

import simulator.virtual.transport as vt
from mock_provider import delivery as d
from mock_provider.config import ProviderConfig
from mock_provider.dialects import DIALECTS
from mock_provider.model.faults import CutStream, MalformedFault, ResetFault, StreamError
from mock_provider.model.provider import ChatRequest, Completion, Provider
from simulator.client.events import AttemptSpec, Outcome

MODELS = {"openai": "gpt-4o-mini", "openai_responses": "gpt-4o-mini",
          "anthropic": "claude-haiku-4-5"}  # fmt: skip
LATENCY = {"network_ms": {"median": 40, "spread": 0.3}, "first_token_ms": {"median": 200,
           "spread": 0.5}, "decode_ms_per_token": {"median": 12, "spread": 0.6}}  # fmt: skip


def config(**extra: Any) -> ProviderConfig:
    models = {m: {"latency": LATENCY, "rpm": 40, "tpm": 20_000} for m in set(MODELS.values())}
    return ProviderConfig.model_validate({"models": models, "seed": 3, **extra})


def spec(dialect: str, stream: bool, words: int, timeout: float = 30.0) -> AttemptSpec:
    text = " ".join(["word"] * words)
    return AttemptSpec(1, MODELS[dialect], dialect, (("user", text),), 60, stream, 10, 5.0,
                       timeout, "sk-test")  # fmt: skip


def same(a: Outcome, b: Outcome) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("dialect", list(MODELS))
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("timeout", [30.0, 0.25])  # 0.25 s: some answers time out
def test_the_virtual_fast_path_reads_a_plain_answer_as_its_script_does(
    dialect, stream, timeout, monkeypatch
):
    """Every outcome of a run of plain attempts (429s, timeouts and settlements included)
    is the same whether the transport takes its fast path or walks the script."""
    specs = [spec(dialect, stream, 5 + i % 7, timeout) for i in range(60)]
    times = [i * 0.2 for i in range(60)]
    fast = vt.ProviderTransport(Provider(config(), 0.0))
    fast_out = [fast.send(s, t) for s, t in zip(specs, times, strict=True)]
    monkeypatch.setattr(vt, "is_plain", lambda c: False)
    ref = vt.ProviderTransport(Provider(config(), 0.0))
    ref_out = [ref.send(s, t) for s, t in zip(specs, times, strict=True)]
    statuses = {o.status for o in fast_out}
    assert 429 in statuses  # refusals are in the run too
    if timeout < 1:
        assert any(o.error == "timeout" for o in fast_out)
    else:
        assert 200 in statuses
    for i, (a, b) in enumerate(zip(fast_out, ref_out, strict=True)):
        assert same(a, b), (i, a, b)


def request_body(dialect: str, stream: bool) -> bytes:
    prompt = [{"role": "user", "content": "Say something."}]
    body: dict[str, Any] = {"model": MODELS[dialect], "stream": stream}
    if dialect == "openai_responses":
        body.update(input=prompt, max_output_tokens=40)
    else:
        body.update(messages=prompt, max_tokens=40)
    return json.dumps(body).encode()


def completion(dialect: str, stream: bool, fault: Any = None) -> tuple[Completion, Any]:
    dia = DIALECTS[dialect]
    body = request_body(dialect, stream)
    call = dia.parse_chat(body)
    req = ChatRequest("sk-test", call.model, call.input_tokens, call.max_tokens, call.stream,
                      call.messages, dia.cache_prefixes, dia.serves, dia.name, dia.chat_path,
                      call.tools, fault, call.output)  # fmt: skip
    c = Provider(config(output_tokens={"median": 20, "spread": 0}), 0.0).chat(req, 0.0)
    assert isinstance(c, Completion)
    return c, call


def unnamed(body: bytes) -> bytes:
    """A body without the names of its response (each rendering of a Responses answer
    stores a new one, under its own id)."""
    return re.sub(rb"(resp|msg)_[0-9a-f]+", b"ID", body)


@pytest.mark.parametrize("dialect", list(MODELS))
def test_the_live_fast_path_sends_what_a_plain_whole_body_script_says(dialect):
    """mock_provider/server.py's inline whole body: wait the plan, settle every token, then
    the dialect's rendered body with its length."""
    c, call = completion(dialect, False)
    steps = d.script(c, DIALECTS[dialect], call, 1_700_000_000)
    body = DIALECTS[dialect].completion(c, call, 1_700_000_000)
    assert unnamed(steps[3].data) == unnamed(body)
    body = steps[3].data
    assert steps == (
        d.Wait(c.plan.total_s), d.Settle(c.output_tokens), d.Head(200, d.JSON, len(body)),
        d.Write(body, len(c.pieces)), d.End(),
    )  # fmt: skip


@pytest.mark.parametrize("dialect", list(MODELS))
def test_a_stream_script_times_each_token_and_keeps_its_bytes(dialect):
    c, call = completion(dialect, True)
    steps = d.script(c, DIALECTS[dialect], call, 1_700_000_000)
    writer = DIALECTS[dialect].stream(c, call, 1_700_000_000)
    whole = writer.opening() + b"".join(map(writer.token, c.pieces)) + writer.closing(20)
    assert unnamed(b"".join(s.data for s in steps if isinstance(s, d.Write))) == unnamed(whole)
    waits = sum(s.seconds for s in steps if isinstance(s, d.Wait))
    assert waits == pytest.approx(c.plan.total_s)
    assert steps[0] == d.Head(200, d.SSE) and steps[-2:] == (d.Settle(20), d.End())


@pytest.mark.parametrize("dialect", list(MODELS))
def test_each_fault_ends_the_script_its_own_way(dialect):
    dia = DIALECTS[dialect]
    c, call = completion(dialect, True, ResetFault(after_bytes=150))
    steps = d.script(c, dia, call, 0)
    assert sum(len(s.data) for s in steps if isinstance(s, d.Write)) == 150
    assert steps[-1] == d.Reset()
    c, call = completion(dialect, True, MalformedFault(after_tokens=2))
    assert d.script(c, dia, call, 0)[-3].data.endswith(dia.broken_line)
    c, call = completion(dialect, True, CutStream(after_tokens=3))
    assert d.script(c, dia, call, 0)[-2:] == (d.Settle(3), d.End())
    c, call = completion(dialect, False, StreamError(after_tokens=3, status=503))
    refused = d.script(c, dia, call, 0)  # not a stream: the error is the response
    assert isinstance(refused[-1], d.Refuse) and refused[-1].rejection.status == 503


@pytest.mark.parametrize("dialect", list(MODELS))
def test_a_stream_silent_between_tokens_past_the_read_timeout_times_out(dialect):
    """The first token at once, then 0.1 s between tokens: a client with a 0.05 s read
    timeout gives up 0.05 s after the first token, as the live client would."""
    latency = {"network_ms": {"median": 0}, "first_token_ms": {"median": 0},
               "decode_ms_per_token": {"median": 100}}  # fmt: skip
    models = {m: {"latency": latency} for m in set(MODELS.values())}
    cfg = ProviderConfig.model_validate({"models": models, "output_tokens": {"median": 5}})
    transport = vt.ProviderTransport(Provider(cfg, 0.0))
    o = transport.send(spec(dialect, True, 5, timeout=0.05), 0.0)
    assert (o.status, o.error) == (0, "timeout")
    assert 0.05 <= o.latency_s < 0.1  # the first token (after a prefill), then the wait
