"""Fault rules in the brain: selection, seeded probability, "the next N", the header, control."""

from __future__ import annotations

import pytest

from mock_provider.config import ConfigError, DistConfig, FaultWindowConfig, ProviderConfig
from mock_provider.config import load_provider_config as load
from mock_provider.model.faults import (
    CutStream,
    ErrorFault,
    FaultHeaderError,
    HangFault,
    SlowFault,
    StreamError,
    parse_fault_header,
)
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection

MODEL = "gpt-4o-mini"


def provider(*faults: dict[str, object], **kw: object) -> Provider:
    rules = [FaultWindowConfig.model_validate(f) for f in faults]
    cfg = ProviderConfig(faults=rules, output_tokens=DistConfig(median=10), **kw)  # type: ignore[arg-type]
    return Provider(cfg, 0.0)


def ask(p: Provider, now: float = 0.0, **kw: object) -> Completion | Rejection:
    fields: dict[str, object] = {"api_key": "sk-a", "model": MODEL, "input_tokens": 10}
    fields.update(kw)
    return p.chat(ChatRequest(**fields), now)  # type: ignore[arg-type]


def struck(d: Completion | Rejection) -> str | None:
    if isinstance(d, Rejection):
        return d.fault
    return d.fault.kind if d.fault is not None else None


@pytest.mark.parametrize(
    ("select", "hit", "miss"),
    [
        ({"model": MODEL}, {}, {"model": "gpt-4o"}),
        ({"key": "sk-a"}, {}, {"api_key": "sk-b"}),
        ({"dialect": "openai_responses"}, {"route": "openai_responses"}, {"route": "openai"}),
        ({"path": "/v1/responses"}, {"path": "/v1/responses"}, {"path": "/v1/chat/completions"}),
        ({"stream": True}, {"stream": True}, {"stream": False}),
        ({"tools": True}, {"tools": True}, {}),
    ],
)
def test_each_selector_picks_its_requests(select, hit, miss):
    p = provider({"kind": "cut_stream", **select})
    assert struck(ask(p, **hit)) == "cut_stream"
    assert struck(ask(p, **miss)) is None


def test_a_window_is_scenario_time_from_the_epoch():
    p = provider({"kind": "reset", "start": 10, "end": 20})
    assert [struck(ask(p, t)) for t in (9.9, 10.0, 19.9, 20.0)] == [None, "reset", "reset", None]


def test_the_next_n_matching_requests_then_none():
    p = provider({"kind": "error", "status": 503, "times": 2, "stream": True})
    got = [struck(ask(p, stream=s)) for s in (False, True, False, True, True)]
    assert got == [None, "error", None, "error", None]
    assert p.faults.listing()[0]["struck"] == 2 and p.faults.listing()[0]["left"] == 0


def test_probability_is_seeded_and_repeats_exactly():
    def run(seed: int) -> list[str | None]:
        p = provider({"kind": "hang", "probability": 0.3}, seed=seed)
        return [struck(ask(p, i * 0.1)) for i in range(400)]

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    hits = first.count("hang")
    assert 80 <= hits <= 160  # 0.3 of 400 = 120 (sd 9.2): over 4 sd each way


def test_first_n_with_probability_repeats_exactly():
    def run() -> list[int]:
        p = provider({"kind": "reset", "probability": 0.5, "times": 3}, seed=3)
        return [i for i in range(50) if struck(ask(p, float(i))) == "reset"]

    assert run() == run() and len(run()) == 3


def test_slow_stretches_the_plan_and_error_scripts_the_refusal():
    base = ask(provider(seed=1))
    slow = ask(provider({"kind": "slow", "factor": 3, "delay": 2}, seed=1))
    assert isinstance(base, Completion) and isinstance(slow, Completion)
    assert slow.plan.ttft_s == pytest.approx(base.plan.ttft_s * 3 + 2)
    assert slow.plan.decode_s == pytest.approx(base.plan.decode_s * 3)
    assert isinstance(slow.fault, SlowFault)
    p = provider(
        {"kind": "error", "status": 429, "retry_after": 4, "error_type": "insufficient_quota"}
    )
    r = ask(p)
    assert isinstance(r, Rejection)
    assert (r.status, r.kind, r.retry_after_s, r.fault) == (429, "injected", 4.0, "error")
    assert r.ratelimit is None  # no limit was involved: nothing charged


def test_old_error_windows_keep_their_refusals():
    p = provider({"kind": "outage", "status": 502, "end": 5})
    r = ask(p, 1.0)
    assert isinstance(r, Rejection) and (r.status, r.kind, r.fault) == (
        502,
        "server_error",
        "error",
    )
    assert r.message_args["reason"] == "outage"


def test_the_header_asks_for_any_kind_with_params():
    assert parse_fault_header("cut_stream;after_tokens=5") == CutStream(5)
    assert parse_fault_header("hang; max_hang=2s") == HangFault(2.0)
    assert parse_fault_header("error;status=429;retry_after=3") == ErrorFault(
        429, retry_after_s=3.0
    )
    assert parse_fault_header("stream_error").status == 529  # type: ignore[union-attr]
    assert isinstance(parse_fault_header("stream_error;status=500"), StreamError)
    for bad, words in [("boom", "unknown fault kind"), ("reset;after_bytes=-1", "after_bytes"),
                       ("cut_stream;factor=2", "not used by kind cut_stream"),
                       ("error;status", "param=value"),
                       ("reset;times=2", "selection fields belong to rules")]:  # fmt: skip
        with pytest.raises(FaultHeaderError, match=words):
            parse_fault_header(bad)
    p = provider()
    assert struck(ask(p, fault=parse_fault_header("reset"))) == "reset"
    assert struck(ask(p)) is None  # only the request that asked


def test_rules_added_and_removed_while_serving():
    p = provider()
    first = ask(p)
    assert struck(first) is None
    fid = p.add_fault(FaultWindowConfig(kind="empty"))
    assert struck(ask(p)) == "empty"
    assert p.remove_faults([fid]) == [fid]
    assert struck(ask(p)) is None
    p.add_fault(FaultWindowConfig(kind="empty"))
    p.add_fault(FaultWindowConfig(kind="reset"))
    assert len(p.remove_faults(None)) == 2 and p.faults.listing() == []


def test_a_fault_field_the_kind_ignores_is_a_config_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("faults:\n  - {kind: reset, after_tokens: 3}\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.problems[0][0] == "faults.0.after_tokens"
