"""What a 429 says about when to retry: ``exact``, ``seconds`` (the default) or ``none``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mock_provider.clock import WallClock
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects import openai as oai
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection

MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "hello"}]
FIXED = LatencyConfig(network_ms=DistConfig(median=40, spread=0.0))


def _refusal(rpm: int = 7, **cfg: Any) -> Rejection:
    model = {"rpm": rpm, "latency": FIXED, **cfg.pop("model", {})}
    p = Provider(ProviderConfig(models={MODEL: ModelConfig(**model)}, **cfg), 0.0)
    for _ in range(rpm):
        assert isinstance(p.chat(ChatRequest("sk", MODEL, 20, 10, False, HELLO), 0.0), Completion)
    r = p.chat(ChatRequest("sk", MODEL, 20, 10, False, HELLO), 0.0)
    assert isinstance(r, Rejection) and r.status == 429
    return r


def test_the_default_tells_whole_seconds_rounded_up() -> None:
    r = _refusal()
    exact = 60 / 7 - 0.040  # the refill, less the round trip already spent
    assert r.message_args["wait_s"] == pytest.approx(exact)
    assert r.retry_after_s == math.ceil(exact) == 9
    _, body, headers = oai.rejection(r, WallClock(1.0))
    assert headers["retry-after"] == "9" and "retry-after-ms" not in headers
    assert "Please try again in 8.531s." in body["error"]["message"]  # the exact wait


@pytest.mark.parametrize(
    ("cfg", "told", "ms"),
    [
        ({"profile": "azure"}, 60 / 7 - 0.040, "8532"),
        ({"model": {"retry_after": "exact"}}, 60 / 7 - 0.040, "8532"),
        ({"profile": "azure", "model": {"retry_after": "seconds"}}, 9.0, None),
        ({"model": {"retry_after": "none"}}, None, None),
    ],
)
def test_the_profile_and_the_model_choose(cfg: dict[str, Any], told: float | None, ms) -> None:
    r = _refusal(**cfg)
    assert r.retry_after_s == (None if told is None else pytest.approx(told))
    _, _, headers = oai.rejection(r, WallClock(1.0))
    assert headers.get("retry-after-ms") == ms
    assert ("retry-after" in headers) == (told is not None)


@pytest.mark.parametrize(("scale", "text"), [(1.0, "9"), (3.0, "3"), (4.0, "2.25"), (7.0, "1.286")])
def test_whole_scenario_seconds_are_divided_by_the_time_scale(scale: float, text: str) -> None:
    """Rounded in scenario time, so a compressed run tells what a real one would; the wall
    value is rounded up to the millisecond, never down."""
    _, _, headers = oai.rejection(_refusal(), WallClock(scale))
    assert headers["retry-after"] == text
    assert float(text) * scale >= 9


def test_a_refusal_for_requests_in_flight_suggests_a_second() -> None:
    p = Provider(ProviderConfig(models={MODEL: ModelConfig(max_in_flight=1)}), 0.0)
    assert isinstance(p.chat(ChatRequest("sk", MODEL, 20, 10, True, HELLO), 0.0), Completion)
    r = p.chat(ChatRequest("sk", MODEL, 20, 10, True, HELLO), 0.0)
    assert isinstance(r, Rejection) and r.retry_after_s == 1.0
    _, _, headers = oai.rejection(r, WallClock(10.0))
    assert headers["retry-after"] == "0.1"
