"""Transport-level input on every POST route: content codings, deep nesting and body sizes get
the provider's own 4xx, and the connection they came on keeps serving.

(``mock_provider/body.py`` has the rules; the hypothesis fuzz over every route is
``tests/test_mock_fuzz.py``.)
"""

from __future__ import annotations

import gzip
import http.client
import json
import zlib
from typing import Any

import brotli
import pytest
from aiohttp.test_utils import TestClient

from mock_provider.body import BODY_RULES, MiB, decode
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.server import create_app
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
OPENAI = {"Authorization": "Bearer sk-test", "content-type": "application/json"}
ANTHROPIC = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01",
             "content-type": "application/json"}  # fmt: skip
MSG = [{"role": "user", "content": "hi"}]
# (route, family, headers, a body it answers with a 200)
ROUTES: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("/v1/chat/completions", "openai", OPENAI,
     {"model": "gpt-4o-mini", "messages": MSG, "max_tokens": 5}),
    ("/v1/responses", "openai", OPENAI, {"model": "gpt-4o-mini", "input": "hi"}),
    ("/v1/embeddings", "openai", OPENAI, {"model": "text-embedding-3-small", "input": "hi"}),
    ("/v1/messages", "anthropic", ANTHROPIC,
     {"model": "claude-haiku-4-5", "messages": MSG, "max_tokens": 5}),
    ("/v1/messages/count_tokens", "anthropic", ANTHROPIC,
     {"model": "claude-haiku-4-5", "messages": MSG}),
    ("/_stampede/faults", "admin", {}, {"kind": "slow", "factor": 1, "times": 1}),
    ("/_stampede/reset", "admin", {}, {"epoch": 0}),
]  # fmt: skip
ROUTE_IDS = [r[0] for r in ROUTES]


def cfg(**kwargs: Any) -> ProviderConfig:
    models = {m: ModelConfig(latency=INSTANT)
              for m in ("gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5")}  # fmt: skip
    return ProviderConfig(models=models, output_tokens=DistConfig(median=5, spread=0), **kwargs)


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def with_field(body: dict[str, Any], raw_value: bytes) -> bytes:
    """``body`` as JSON with one more field whose value is ``raw_value`` verbatim."""
    return json.dumps(body).encode()[:-1] + b', "extra": ' + raw_value + b"}"


HOSTILE: list[tuple[str, str | None, Any]] = [
    # (id, Content-Encoding, body: bytes, or a function of the route's good body)
    ("gzip-not-gzip", "gzip", b'{"model": "x"}'),
    ("x-gzip-not-gzip", "x-gzip", b"plain bytes"),
    ("deflate-not-deflate", "deflate", b"\x00\x01\x02 not deflate"),
    ("br-not-br", "br", b"\xff\xfe not brotli"),
    ("gzip-cut-short", "gzip", lambda good: gzip.compress(json.dumps(good).encode())[:-12]),
    ("unknown-coding", "garbage", lambda good: json.dumps(good).encode()),
    ("gzip-then-garbage", "gzip, garbage", lambda good: json.dumps(good).encode()),
    ("nested-1000", None, lambda good: with_field(good, deep(1000))),
    ("nested-100000", None, lambda good: with_field(good, deep(100_000))),
    ("nested-body", None, deep(5000)),
    ("nested-gzip", "gzip", lambda good: gzip.compress(with_field(good, deep(3000)))),
]  # fmt: skip


def _shape_ok(family: str, status: int, payload: Any) -> None:
    """The refusal is in the family's own error shape."""
    if family == "anthropic":
        assert payload["type"] == "error", payload
        assert payload["error"]["type"] == "invalid_request_error", payload
        assert payload["request_id"].startswith("req_")
    else:
        assert set(payload) == {"error"}, payload
        assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
        if family == "openai":
            assert payload["error"]["type"] == "invalid_request_error", payload


@pytest.mark.parametrize(("case", "coding", "body"), HOSTILE, ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES, ids=ROUTE_IDS)
async def test_hostile_transport_input_gets_the_providers_400(
    aiohttp_client, path, family, headers, good, case, coding, body
):
    client: TestClient = await aiohttp_client(create_app(cfg()))
    data = body(good) if callable(body) else body
    sent = {**headers, **({"content-encoding": coding} if coding else {})}
    resp = await client.post(path, data=data, headers=sent)
    assert resp.status == 400, await resp.text()
    _shape_ok(family, resp.status, await resp.json())
    again = await client.post(path, json=good, headers=headers)  # the same session: still fine
    assert again.status == 200, await again.text()


CODINGS = [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate-raw", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some clients send it
    ("br", brotli.compress),
    ("identity", lambda b: b),
]


@pytest.mark.parametrize(("coding", "compress"), CODINGS, ids=[c[0] for c in CODINGS])
@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES, ids=ROUTE_IDS)
async def test_a_body_in_a_content_coding_is_read(
    aiohttp_client, path, family, headers, good, coding, compress
):
    client: TestClient = await aiohttp_client(create_app(cfg()))
    sent = {**headers, "content-encoding": coding.removesuffix("-raw")}
    resp = await client.post(path, data=compress(json.dumps(good).encode()), headers=sent)
    assert resp.status == 200, await resp.text()


def test_decode_undoes_codings_in_the_order_applied():
    body = b'{"a": 1}'
    assert decode(brotli.compress(gzip.compress(body)), "gzip, br", 1000) == body
    assert decode(body, "identity", 1000) == body
    assert decode(b"junk", "gzip", 1000) == b""


@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES[:5], ids=ROUTE_IDS[:5])
def test_the_connection_serves_the_next_request_after_a_bad_coding(path, family, headers, good):
    """On one keep-alive connection: a body that is not what its coding says, then a good
    request (aiohttp's own decoder dropped the connection under the second)."""
    with running_mock(cfg()) as m:
        conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10)
        conn.request("POST", path, body=b"not gzip at all",
                     headers={**headers, "Content-Encoding": "gzip"})  # fmt: skip
        first = conn.getresponse()
        assert first.status == 400
        _shape_ok(family, 400, json.loads(first.read()))
        conn.request("POST", path, body=json.dumps(good).encode(), headers=headers)
        second = conn.getresponse()
        assert second.status == 200, second.read()
        conn.close()


# --------------------------------------------------------------------------- body size


def test_each_family_takes_its_documented_limit():
    assert BODY_RULES["anthropic"].max_bytes == 32 * MiB
    assert BODY_RULES["openai"].max_bytes == 50 * MiB


@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES[:5], ids=ROUTE_IDS[:5])
async def test_a_body_past_the_old_4_mib_cap_is_served(aiohttp_client, path, family, headers,
                                                         good):  # fmt: skip
    """6 MiB of prompt: refused by the mock's former 4 MiB cap, well within both services'."""
    client: TestClient = await aiohttp_client(create_app(cfg(default_tpm=10**9)))
    text = "word " * (6 * MiB // 5)
    body = dict(good)
    if "messages" in body:
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["input"] = text
    model = "claude-haiku-4-5" if family == "anthropic" else "gpt-4o-mini"
    if path != "/v1/embeddings":
        body["model"] = model
    resp = await client.post(path, data=json.dumps(body).encode(), headers=headers)
    # served, or refused by the model's context window: not by the size of the body
    assert resp.status in (200, 400), await resp.text()
    assert resp.status != 413


@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES[:5], ids=ROUTE_IDS[:5])
def test_a_body_over_the_limit_gets_the_services_own_413(path, family, headers, good):
    """Announced larger than the family's limit (the bytes need not follow: the service's
    front answers from the Content-Length)."""
    rules = BODY_RULES[family]
    with running_mock(cfg()) as m:
        conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10)
        conn.putrequest("POST", path)
        for k, v in {**headers, "Content-Length": str(rules.max_bytes + 1)}.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    assert resp.status == 413
    assert body == rules.too_large_body
    assert resp.getheader("content-type", "").startswith(rules.too_large_content_type)


@pytest.mark.parametrize(("path", "family", "headers", "good"), ROUTES[:5], ids=ROUTE_IDS[:5])
async def test_a_small_coded_body_that_inflates_past_the_limit_is_too_large(
    aiohttp_client, path, family, headers, good
):
    client: TestClient = await aiohttp_client(create_app(cfg(max_body_bytes=64 * 1024)))
    bomb = gzip.compress(with_field(good, b'"' + b"x" * 200_000 + b'"'))
    assert len(bomb) < 64 * 1024
    resp = await client.post(path, data=bomb, headers={**headers, "content-encoding": "gzip"})
    assert resp.status == 413
    assert await resp.read() == BODY_RULES[family].too_large_body
    again = await client.post(path, json=good, headers=headers)
    assert again.status == 200
