"""Malformed requests get OpenAI-shaped 4xx bodies, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.server import _arrived_body, create_app

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
AUTH = {"Authorization": "Bearer sk-test"}
GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.fixture
async def client(aiohttp_client):
    cfg = ProviderConfig(
        models={"gpt-4o-mini": ModelConfig(latency=INSTANT, context_window=2000)},
        max_body_bytes=64 * 1024,
    )
    return await aiohttp_client(create_app(cfg))


BAD_REQUESTS = [
    # (id, body bytes or json, headers, status, code, param)
    ("malformed-json", b'{"model": "gpt-4o-mini", "messages": [', AUTH, 400, None, None),
    ("not-an-object", b"[1, 2, 3]", AUTH, 400, "invalid_type", None),
    ("missing-messages", {"model": "gpt-4o-mini"}, AUTH, 400, "missing_required_parameter",
     "messages"),
    ("messages-wrong-type", {"model": "gpt-4o-mini", "messages": "hello"}, AUTH, 400,
     "invalid_type", "messages"),
    ("max-tokens-wrong-type", {**GOOD, "max_tokens": "lots"}, AUTH, 400, "invalid_type",
     "max_tokens"),
    ("content-wrong-type", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]},
     AUTH, 400, "invalid_type", "messages[0].content"),
    ("bad-role", {"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]},
     AUTH, 400, "invalid_value", "messages[0].role"),
    ("empty-messages", {"model": "gpt-4o-mini", "messages": []}, AUTH, 400, "empty_array",
     "messages"),
    ("zero-max-tokens", {**GOOD, "max_tokens": 0}, AUTH, 400, "integer_below_min_value",
     "max_tokens"),
    ("unknown-model", {**GOOD, "model": "gpt-9"}, AUTH, 404, "model_not_found", None),
    ("context-overflow", {**GOOD, "messages": [{"role": "user", "content": "word " * 2500}]},
     AUTH, 400, "context_length_exceeded", "messages"),
    ("missing-key", GOOD, {}, 401, "invalid_api_key", None),
    ("empty-bearer", GOOD, {"Authorization": "Bearer "}, 401, "invalid_api_key", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "param"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_input_gets_openai_error_then_server_still_serves(
    client, body, headers, status, code, param
):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(
        "/v1/chat/completions",
        data=data,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert resp.status == status
    payload = await resp.json()
    assert set(payload) == {"error"}
    err = payload["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"] == "invalid_request_error"
    assert err["code"] == code
    assert err["param"] == param
    assert resp.headers.get("x-request-id")
    ok = await client.post("/v1/chat/completions", json=GOOD, headers=AUTH)
    assert ok.status == 200
    assert (await ok.json())["choices"][0]["message"]["content"]


async def test_an_oversized_body_gets_cloudflares_413_then_server_still_serves(client):
    """OpenAI's front answers a body over the limit with its own HTML page, not the API's JSON
    (the rule and its sources: mock_provider/body.py; every route: tests/test_mock_transport.py).
    """
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 100_000}]}
    resp = await client.post("/v1/chat/completions", json=big, headers=AUTH)
    assert resp.status == 413
    assert resp.content_type == "text/html"
    assert "413 Request Entity Too Large" in await resp.text()
    ok = await client.post("/v1/chat/completions", json=GOOD, headers=AUTH)
    assert ok.status == 200


async def test_unknown_route_and_method_are_openai_shaped(client):
    resp = await client.get("/v1/nope", headers=AUTH)
    assert resp.status == 404
    assert (await resp.json())["error"]["type"] == "invalid_request_error"
    resp = await client.get("/v1/chat/completions", headers=AUTH)
    assert resp.status == 405
    assert "error" in await resp.json()
    # An OpenAI model asked for in Anthropic's format: not one of Anthropic's models.
    resp = await client.post(
        "/v1/messages",
        json=GOOD,
        headers={"x-api-key": "sk-test", "anthropic-version": "2023-06-01"},
    )
    assert resp.status == 404
    body = await resp.json()
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert body["error"]["message"] == "model: gpt-4o-mini"


async def test_garbage_embeddings_input(client):
    resp = await client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": 42}, headers=AUTH
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["param"] == "input"


async def test_fuzzed_bodies_never_500(client):
    """Many random byte strings and JSON shapes: always a 4xx, never a 5xx."""
    import random

    rng = random.Random(7)
    shapes = [None, 1, "x", [], {}, [1], {"a": 1}, True, 1.5]
    for _ in range(150):
        pick = rng.random()
        if pick < 0.3:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        else:
            body = dict(GOOD)
            for key in rng.sample(["model", "messages", "max_tokens", "stream", "n"], 2):
                body[key] = rng.choice(shapes)
            data = json.dumps(body).encode()
        resp = await client.post("/v1/chat/completions", data=data, headers=AUTH)
        assert 400 <= resp.status < 500 or resp.status == 200, (resp.status, data[:80])
        assert "error" in await resp.json() or resp.status == 200


def _request_with_body(parts: list[bytes], complete: bool):
    """A mocked request whose body buffer holds ``parts``, ended or still arriving."""
    from unittest import mock

    from aiohttp import streams
    from aiohttp.test_utils import make_mocked_request

    protocol = mock.Mock(_reading_paused=False)
    payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    for part in parts:
        payload.feed_data(part)
    if complete:
        payload.feed_eof()
    return make_mocked_request("POST", "/v1/chat/completions", payload=payload)


async def test_body_that_came_with_the_headers_is_taken_from_the_buffer():
    body = json.dumps(GOOD).encode()
    request = _request_with_body([body[:10], body[10:]], complete=True)
    assert _arrived_body(request, 1024) == body


async def test_body_still_arriving_is_left_to_read():
    request = _request_with_body([b'{"model": '], complete=False)
    assert _arrived_body(request, 1024) is None


async def test_arrived_body_over_the_limit_is_refused_as_too_large():
    request = _request_with_body([b"x" * 2000], complete=True)
    with pytest.raises(web.HTTPRequestEntityTooLarge):
        _arrived_body(request, 1024)


async def test_chat_body_still_arriving_is_awaited_whole(client, monkeypatch):
    """The second half of the body is sent only once the handler has found it missing."""
    import mock_provider.server as server

    looked = asyncio.Event()
    found: list[bytes | None] = []

    def spy(request, limit):
        found.append(server_arrived_body(request, limit))
        looked.set()
        return found[-1]

    server_arrived_body = server._arrived_body
    monkeypatch.setattr(server, "_arrived_body", spy)
    data = json.dumps(GOOD).encode()

    async def halves():
        yield data[:20]
        await looked.wait()
        yield data[20:]

    resp = await client.post("/v1/chat/completions", data=halves(), headers=AUTH)
    assert found == [None]
    assert resp.status == 200
    assert (await resp.json())["usage"]["prompt_tokens"] > 0
