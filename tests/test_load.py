"""Load-dependent latency: slower with requests in flight, refused above the model's capacity."""

from __future__ import annotations

import pytest

from mock_provider.clock import WallClock
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects import DIALECTS
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection

FIXED = LatencyConfig(network_ms=DistConfig(median=100), first_token_ms=DistConfig(median=400),
                      prefill_ms_per_token=DistConfig(median=0),
                      decode_ms_per_token=DistConfig(median=20))  # fmt: skip


def provider(model: str, **load: object) -> Provider:
    cfg = ProviderConfig.model_validate({
        "models": {model: ModelConfig.model_validate({"latency": FIXED, "load": load})},
        "output_tokens": {"median": 10, "spread": 0}})  # fmt: skip
    return Provider(cfg, 0.0)


def ask(p: Provider, model: str = "gpt-4o-mini", key: str = "sk-a") -> Completion | Rejection:
    dialect = "anthropic" if model.startswith("claude") else "openai"
    return p.chat(ChatRequest(key, model, 10, 100, True, (), dialect=dialect), 0.0)


def test_time_to_first_token_and_gaps_grow_with_requests_in_flight():
    p = provider("gpt-4o-mini", free=2, slope=0.5)
    got = [ask(p, key=f"sk-{i}") for i in range(5)]  # keys apart: the load is the model's
    assert all(isinstance(c, Completion) for c in got)
    waits = [round(c.plan.ttft_s - c.plan.network_s, 6) for c in got]  # type: ignore[union-attr]
    assert waits == [0.4, 0.4, 0.4, 0.6, 0.8]  # 1 + 0.5 * (n - 2) for n = 3, 4 in flight
    gaps = [c.plan.gaps_s[0] for c in got]  # type: ignore[union-attr]
    assert gaps == pytest.approx([0.02, 0.02, 0.02, 0.03, 0.04])
    for c in got:
        p.settle(c.ticket, 10, 1.0)  # type: ignore[union-attr,arg-type]
    again = ask(p)
    assert isinstance(again, Completion) and again.plan.ttft_s == pytest.approx(0.5)


@pytest.mark.parametrize(("model", "status", "words"),
                         [("gpt-4o-mini", 503, b"overloaded"), ("claude-haiku-4-5", 529,
                                                                b"overloaded_error")])  # fmt: skip
def test_above_capacity_the_model_refuses_in_its_dialect(model, status, words):
    p = provider(model, capacity=2)
    first, second = ask(p, model), ask(p, model)
    refused = ask(p, model, key="sk-other")  # another key: the capacity is the model's
    assert isinstance(refused, Rejection) and (refused.status, refused.kind) == (
        status, "overloaded")  # fmt: skip
    dialect = DIALECTS["anthropic" if model.startswith("claude") else "openai"]
    rendered_status, body, _headers = dialect.rejection(refused, WallClock(1.0))
    assert rendered_status == status and words in body
    p.settle(first.ticket, 10, 1.0)  # type: ignore[union-attr,arg-type]
    assert isinstance(ask(p, model), Completion)
    assert isinstance(second, Completion)
