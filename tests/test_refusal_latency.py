"""A refusal takes a network round trip, and its Retry-After still holds from receipt.

The brain is driven with ``now`` passed in; the server test runs the real aiohttp app.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import pytest

from mock_provider.clock import WallClock
from mock_provider.config import (
    DistConfig,
    FaultWindowConfig,
    LatencyConfig,
    ModelConfig,
    ProviderConfig,
)
from mock_provider.dialects import openai as oai
from mock_provider.model.catalog import DEFAULT_CATALOG
from mock_provider.model.latency import REFUSAL_NETWORK_S
from mock_provider.model.provider import ChatRequest, Completion, Decision, Provider, Rejection
from mock_provider.plan_header import PLAN_HEADER
from mock_provider.server import create_app

KEY = "sk-test"
MODEL = "gpt-4o-mini"
HELLO: list[dict[str, Any]] = [{"role": "user", "content": "hello"}]
NETWORK_S = DEFAULT_CATALOG[MODEL].latency.network_ms.median / 1000.0
ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)


def ask(p: Provider, now: float, model: str = MODEL, key: str | None = KEY, **kw: Any) -> Decision:
    req = ChatRequest(key, model, kw.get("tokens", 20), kw.get("max_tokens", 10), False, HELLO)
    return p.chat(req, now)


def refused(d: Decision) -> Rejection:
    assert isinstance(d, Rejection), d
    return d


def provider(rpm: int = 1, seed: int = 0, **model: Any) -> Provider:
    """These tests check the exact wait a 429 can tell: the ``exact`` setting tells it, the
    default (``seconds``) rounds it up (tests/test_retry_after_modes.py)."""
    model.setdefault("retry_after", "exact")
    cfg = ProviderConfig(
        models={MODEL: ModelConfig(rpm=rpm, **model)},
        output_tokens=DistConfig(median=10, spread=0.2),
        seed=seed,
    )
    return Provider(cfg, 0.0)


def test_a_429_takes_the_models_network_time_drawn_per_request() -> None:
    p = provider()
    assert isinstance(ask(p, 0.0), Completion)  # the one request a minute
    waits = [refused(ask(p, 0.001 * i)).latency_s for i in range(1, 401)]
    assert len(set(waits)) == len(waits)  # drawn, not a constant
    assert statistics.median(waits) == pytest.approx(NETWORK_S, rel=0.1)  # log-normal median
    again = provider()
    ask(again, 0.0)
    assert [refused(ask(again, 0.001 * i)).latency_s for i in range(1, 401)] == waits
    other = provider(seed=1)
    ask(other, 0.0)
    assert refused(ask(other, 0.001)).latency_s != waits[0]


def test_a_zero_latency_model_refuses_at_once() -> None:
    p = provider(latency=INSTANT)
    ask(p, 0.0)
    assert refused(ask(p, 0.0)).latency_s == 0.0


def test_a_fault_window_error_takes_a_round_trip() -> None:
    outage = FaultWindowConfig(kind="outage", model=MODEL, start=0, end=10)
    p = Provider(ProviderConfig(faults=[outage]), 0.0)
    rej = refused(ask(p, 1.0))
    assert rej.status == 503 and 0 < rej.latency_s < 10 * NETWORK_S


def test_refusals_before_a_request_number_take_a_median_and_take_no_number() -> None:
    p = provider(rpm=100, context_window=100, latency=LatencyConfig(network_ms=DistConfig(
        median=25, spread=0.5)))  # fmt: skip
    assert refused(ask(p, 0.0, key=None)).latency_s == REFUSAL_NETWORK_S
    assert refused(ask(p, 0.0, model="gpt-nonexistent")).latency_s == REFUSAL_NETWORK_S
    too_long = refused(ask(p, 0.0, tokens=95))
    assert too_long.status == 400 and too_long.latency_s == 0.025  # the model's median
    first = ask(p, 0.0)
    assert isinstance(first, Completion)
    assert first.request_id == ask(provider(rpm=100), 0.0).request_id  # not renumbered


@pytest.mark.parametrize("rpm", [60, 7, 1])
def test_waiting_exactly_retry_after_from_receipt_is_admitted_and_less_is_not(rpm: int) -> None:
    def refusal_at(t0: float) -> tuple[Provider, Rejection]:
        p = provider(rpm=rpm)
        for _ in range(rpm):
            assert isinstance(ask(p, t0), Completion)
        return p, refused(ask(p, t0))

    t0 = 100.0
    p, r = refusal_at(t0)
    assert r.limited is not None and r.limited.retry_after_s is not None
    assert r.latency_s > 0 and r.retry_after_s is not None
    # The wait counts from receipt: with the round trip it adds up to the limits' own wait.
    assert r.latency_s + r.retry_after_s == pytest.approx(r.limited.retry_after_s, rel=1e-12)
    received = t0 + r.latency_s
    assert isinstance(ask(p, received + r.retry_after_s), Completion)
    early, r2 = refusal_at(t0)
    assert r2 == r  # same seed, same draws
    assert isinstance(ask(early, received + 0.999 * r.retry_after_s), Rejection)


def test_a_retry_after_shorter_than_the_round_trip_is_zero() -> None:
    fixed = LatencyConfig(network_ms=DistConfig(median=40, spread=0.0))
    p = provider(rpm=6000, latency=fixed)  # one request back every 10 ms, inside the 40 ms trip
    assert all(isinstance(ask(p, 0.0), Completion) for _ in range(6000))
    r = refused(ask(p, 0.0))
    assert r.latency_s == 0.040 and r.retry_after_s == 0.0
    assert isinstance(ask(p, r.latency_s), Completion)  # back on receipt: admitted


@pytest.mark.parametrize("time_scale", [1.0, 20.0])
def test_retry_after_headers_count_from_receipt_in_wall_time(time_scale: float) -> None:
    p = provider(rpm=60)
    for _ in range(60):
        ask(p, 0.0)
    r = refused(ask(p, 0.0))
    assert r.retry_after_s is not None
    _, _, headers = oai.rejection(r, WallClock(time_scale))
    wall_ms = r.retry_after_s / time_scale * 1000
    assert headers["retry-after-ms"] == str(max(1, math.ceil(wall_ms)))


async def test_the_server_waits_the_round_trip_and_says_so(aiohttp_client) -> None:
    network = LatencyConfig(network_ms=DistConfig(median=600, spread=0.0))
    cfg = ProviderConfig(
        models={MODEL: ModelConfig(rpm=1, latency=network, retry_after="exact")}, time_scale=60.0
    )
    client = await aiohttp_client(create_app(cfg))
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 5}
    auth = {"Authorization": f"Bearer {KEY}"}
    resp = await client.post("/v1/chat/completions", json=body, headers=auth)
    assert resp.status == 200
    assert float(resp.headers[PLAN_HEADER]) > 10.0  # a completion's plan: more than the network
    started = time.monotonic()
    resp = await client.post("/v1/chat/completions", json=body, headers=auth)
    took = time.monotonic() - started
    assert resp.status == 429
    assert resp.headers[PLAN_HEADER] == "10.000"  # 600 scenario ms at 60x: 10 wall ms
    assert took >= 0.010  # the round trip, really waited
    # Waiting exactly retry-after-ms after receipt gets it in: at most 60 s less the trip (and
    # less the time since the first request was admitted), at 60x.
    assert 900 < int(resp.headers["retry-after-ms"]) <= math.ceil((60 - 0.6) / 60 * 1000)
    time.sleep(int(resp.headers["retry-after-ms"]) / 1000)
    resp = await client.post("/v1/chat/completions", json=body, headers=auth)
    assert resp.status == 200
