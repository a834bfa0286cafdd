"""Malformed and hostile Messages API requests get Anthropic-shaped 4xx bodies, never a 5xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.catalog import DEFAULT_CATALOG
from mock_provider.server import create_app

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODEL = "claude-sonnet-4-6"
NO_THINKING = "claude-3-5-haiku-20241022"
CAP = DEFAULT_CATALOG[MODEL].max_output_tokens  # the catalogue's, 64,000
AUTH = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
MSG = [{"role": "user", "content": "hi"}]
GOOD: dict[str, Any] = {"model": MODEL, "max_tokens": 5, "messages": MSG}
CC = {"type": "ephemeral"}
TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {}}}
USE = {"type": "tool_use", "id": "toolu_01A", "name": "lookup", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "found"}


def _cfg() -> ProviderConfig:
    return ProviderConfig(
        models={
            MODEL: ModelConfig(latency=INSTANT, context_window=3000),
            # Retired, so served only because the config declares it: a model without thinking
            NO_THINKING: ModelConfig(latency=INSTANT),
        },
        max_body_bytes=64 * 1024,
        output_tokens=DistConfig(median=3, spread=0),
    )


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(create_app(_cfg()))


def _with(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != name}


def _block(text: str = "x", **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, **extra}


# (id, body bytes or JSON, headers, status, error type, message or its start)
BAD_REQUESTS: list[tuple[str, Any, dict[str, str], int, str, str]] = [
    ("malformed-json", b'{"model": "x", "messages": [', AUTH, 400, "invalid_request_error",
     "There was an error parsing the body"),
    ("nan-literal", b'{"model": "claude-sonnet-4-6", "max_tokens": NaN, "messages": []}', AUTH,
     400, "invalid_request_error", "There was an error parsing the body"),
    ("not-an-object", b"[1, 2]", AUTH, 400, "invalid_request_error",
     "Input should be a valid dictionary"),
    ("missing-max-tokens", _without("max_tokens"), AUTH, 400, "invalid_request_error",
     "max_tokens: Field required"),
    ("missing-model", _without("model"), AUTH, 400, "invalid_request_error",
     "model: Field required"),
    ("missing-messages", _without("messages"), AUTH, 400, "invalid_request_error",
     "messages: Field required"),
    ("unknown-field", _with(n=2), AUTH, 400, "invalid_request_error",
     "n: Extra inputs are not permitted"),
    ("max-tokens-string", _with(max_tokens="lots"), AUTH, 400, "invalid_request_error",
     "max_tokens: Input should be a valid integer"),
    ("max-tokens-bool", _with(max_tokens=True), AUTH, 400, "invalid_request_error",
     "max_tokens: Input should be a valid integer"),
    ("max-tokens-zero", _with(max_tokens=0), AUTH, 400, "invalid_request_error",
     "max_tokens: Input should be greater than or equal to 1"),
    ("max-tokens-over-cap", _with(max_tokens=CAP + 1), AUTH, 400, "invalid_request_error",
     f"max_tokens: {CAP + 1} > {CAP}, which is the maximum allowed number of output tokens for "
     "claude-sonnet-4-6"),
    ("empty-messages", _with(messages=[]), AUTH, 400, "invalid_request_error",
     "messages: at least one message is required"),
    ("messages-string", _with(messages="hi"), AUTH, 400, "invalid_request_error",
     "messages: Input should be a valid list"),
    ("bad-role", _with(messages=[{"role": "system", "content": "x"}]), AUTH, 400,
     "invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'"),
    ("role-is-a-list", _with(messages=[{"role": ["user"], "content": "x"}]), AUTH, 400,
     "invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'"),
    ("empty-content", _with(messages=[{"role": "user", "content": ""}]), AUTH, 400,
     "invalid_request_error", "messages.0: all messages must have non-empty content"),
    ("empty-text-block", _with(messages=[{"role": "user", "content": [_block("")]}]), AUTH,
     400, "invalid_request_error", "messages: text content blocks must be non-empty"),
    ("unknown-block", _with(messages=[{"role": "user", "content": [{"type": "video"}]}]),
     AUTH, 400, "invalid_request_error", "messages.0.content.0: Input tag 'video' found"),
    ("block-without-type", _with(messages=[{"role": "user", "content": [{"text": "x"}]}]),
     AUTH, 400, "invalid_request_error", "messages.0.content.0.type: Field required"),
    ("tool-use-no-id", _with(messages=[{"role": "assistant", "content": [
        {"type": "tool_use", "name": "f", "input": {}}]}]), AUTH, 400, "invalid_request_error",
     "messages.0.content.0.id: Field required"),
    ("system-number", _with(system=5), AUTH, 400, "invalid_request_error",
     "system: Input should be a valid list"),
    ("system-image", _with(system=[{"type": "image", "source": {}}]), AUTH, 400,
     "invalid_request_error", "system.0.type: Input should be 'text'"),
    ("temperature-high", _with(temperature=1.5), AUTH, 400, "invalid_request_error",
     "temperature: Input should be less than or equal to 1"),
    ("temperature-negative", _with(temperature=-1), AUTH, 400, "invalid_request_error",
     "temperature: Input should be greater than or equal to 0"),
    ("top-p-high", _with(top_p=2), AUTH, 400, "invalid_request_error",
     "top_p: Input should be less than or equal to 1"),
    ("top-k-negative", _with(top_k=-1), AUTH, 400, "invalid_request_error",
     "top_k: Input should be greater than or equal to 0"),
    ("top-k-float", _with(top_k=1.5), AUTH, 400, "invalid_request_error",
     "top_k: Input should be a valid integer"),
    ("stream-string", _with(stream="yes"), AUTH, 400, "invalid_request_error",
     "stream: Input should be a valid boolean"),
    ("metadata-extra", _with(metadata={"user": "a"}), AUTH, 400, "invalid_request_error",
     "metadata.user: Extra inputs are not permitted"),
    ("stop-sequences-number", _with(stop_sequences=[1]), AUTH, 400, "invalid_request_error",
     "stop_sequences.0: Input should be a valid string"),
    ("cache-control-type", _with(system=[_block(cache_control={"type": "forever"})]), AUTH,
     400, "invalid_request_error", "system.0.cache_control.type: Input should be 'ephemeral'"),
    ("cache-control-ttl", _with(system=[_block(cache_control={"type": "ephemeral",
                                                              "ttl": "2h"})]),
     AUTH, 400, "invalid_request_error", "system.0.cache_control.ttl: Input should be '5m' or"),
    ("five-breakpoints", _with(system=[_block(str(i), cache_control=CC) for i in range(5)]),
     AUTH, 400, "invalid_request_error",
     "A maximum of 4 blocks with cache_control may be provided. Found 5."),
    ("tool-no-schema", _with(tools=[{"name": "f"}]), AUTH, 400, "invalid_request_error",
     "tools.0.input_schema: Field required"),
    ("tool-choice-bad", _with(tool_choice={"type": "sometimes"}), AUTH, 400,
     "invalid_request_error", "tool_choice: Input tag 'sometimes' found"),
    ("thinking-budget", _with(max_tokens=2000, thinking={"type": "enabled",
                                                         "budget_tokens": 4000}),
     AUTH, 400, "invalid_request_error", "`max_tokens` must be greater than"),
    ("prompt-too-long", _with(messages=[{"role": "user", "content": "word " * 4000}]), AUTH,
     400, "invalid_request_error", "prompt is too long: "),
    ("input-plus-max-tokens", _with(max_tokens=2000, messages=[
        {"role": "user", "content": "word " * 1500}]), AUTH, 400, "invalid_request_error",
     "input length and `max_tokens` exceed context limit: "),
    ("unknown-model", _with(model="claude-9"), AUTH, 404, "not_found_error", "model: claude-9"),
    ("openai-model", _with(model="gpt-4o"), AUTH, 404, "not_found_error", "model: gpt-4o"),
    ("missing-key", GOOD, {"anthropic-version": "2023-06-01"}, 401, "authentication_error",
     "x-api-key header is required"),
    # -- headers, tools and conversations: each rule's source is cited beside it in
    # mock_provider/dialects/anthropic/options.py and conversation.py.
    ("missing-version", GOOD, {"x-api-key": "sk-ant-test"}, 400, "invalid_request_error",
     "anthropic-version: header is required"),
    ("bogus-version", GOOD, {**AUTH, "anthropic-version": "2023-10-01"}, 400,
     "invalid_request_error", 'anthropic-version: "2023-10-01" is not a valid version'),
    ("doubled-version", GOOD, {**AUTH, "anthropic-version": "2023-06-01, 2023-06-01"}, 400,
     "invalid_request_error",
     'anthropic-version: "2023-06-01, 2023-06-01" is not a valid version'),
    ("tool-choice-without-tools", _with(tool_choice={"type": "any"}), AUTH, 400,
     "invalid_request_error", "tool_choice.any may only be specified while providing tools"),
    ("tool-choice-empty-tools", _with(tools=[], tool_choice={"type": "auto"}), AUTH, 400,
     "invalid_request_error", "tool_choice.auto may only be specified while providing tools"),
    ("tool-choice-unknown-tool", _with(tools=[TOOL], tool_choice={"type": "tool",
                                                                 "name": "search"}),
     AUTH, 400, "invalid_request_error", "Tool 'search' not found in provided tools"),
    ("input-schema-array", _with(tools=[{**TOOL, "input_schema": {"type": "array"}}]), AUTH,
     400, "invalid_request_error", "tools.0.custom.input_schema.type: Input should be 'object'"),
    ("input-schema-untyped", _with(tools=[TOOL, {**TOOL, "name": "g", "input_schema": {
        "anyOf": [{"type": "object"}]}}]), AUTH, 400, "invalid_request_error",
     "tools.1.custom.input_schema.type: Field required"),
    ("thinking-unsupported", _with(model=NO_THINKING, max_tokens=2000,
                                   thinking={"type": "enabled", "budget_tokens": 1024}),
     AUTH, 400, "invalid_request_error",
     "'claude-3-5-haiku-20241022' does not support thinking."),
    ("thinking-with-forced-tool", _with(model="claude-opus-4-6", max_tokens=2000,
                                        thinking={"type": "adaptive"}, tools=[TOOL],
                                        tool_choice={"type": "any"}),
     AUTH, 400, "invalid_request_error",
     "Thinking may not be enabled when tool_choice forces tool use."),
    ("tool-result-first", _with(messages=[{"role": "user", "content": [RESULT]}]), AUTH, 400,
     "invalid_request_error",
     "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
     "toolu_01A. Each `tool_result` block must have a corresponding `tool_use` block in the "
     "previous message."),
    ("tool-result-wrong-id", _with(messages=[*MSG, {"role": "assistant", "content": [
        {**USE, "id": "toolu_01B"}]}, {"role": "user", "content": [_block("ok"), RESULT]}]),
     AUTH, 400, "invalid_request_error",
     "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01A."),
    ("tool-result-not-after-its-call", _with(messages=[
        *MSG, {"role": "assistant", "content": [USE]}, {"role": "user", "content": [RESULT]},
        {"role": "assistant", "content": "done"}, {"role": "user", "content": [RESULT]}]),
     AUTH, 400, "invalid_request_error", "messages.4.content.0: unexpected `tool_use_id`"),
    ("tool-use-unanswered", _with(messages=[*MSG, {"role": "assistant", "content": [USE]},
                                            {"role": "user", "content": "and then?"}]),
     AUTH, 400, "invalid_request_error",
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
     "toolu_01A. Each `tool_use` block must have a corresponding `tool_result` block in the "
     "next message."),
    ("tool-use-half-answered", _with(messages=[
        *MSG, {"role": "assistant", "content": [_block("two calls"), USE,
                                                {**USE, "id": "toolu_01B"},
                                                {**USE, "id": "toolu_01C"}]},
        {"role": "user", "content": [RESULT]}]), AUTH, 400, "invalid_request_error",
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
     "toolu_01B, toolu_01C."),
]  # fmt: skip


def _check_error(status: int, payload: Any, headers: Any) -> dict[str, Any]:
    """An Anthropic error body whose request_id is the response's request-id header."""
    assert set(payload) == {"type", "error", "request_id"}, payload
    assert payload["type"] == "error"
    assert set(payload["error"]) == {"type", "message"}
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert payload["request_id"] == headers["request-id"]
    return payload["error"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_input_gets_an_anthropic_error_then_the_server_still_serves(
    client, body, headers, status, kind, message
):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(
        "/v1/messages", data=data, headers={**headers, "content-type": "application/json"}
    )
    assert resp.status == status
    error = _check_error(status, await resp.json(), resp.headers)
    assert error["type"] == kind
    assert error["message"].startswith(message), error["message"]
    ok = await client.post("/v1/messages", json=GOOD, headers=AUTH)
    assert ok.status == 200


async def test_count_tokens_refuses_what_messages_refuses_and_max_tokens(client):
    resp = await client.post("/v1/messages/count_tokens", json=GOOD, headers=AUTH)
    assert resp.status == 400
    error = _check_error(400, await resp.json(), resp.headers)
    assert error["message"] == "max_tokens: Extra inputs are not permitted"
    resp = await client.post(
        "/v1/messages/count_tokens", json={"model": MODEL, "messages": []}, headers=AUTH
    )
    assert resp.status == 400
    resp = await client.post(
        "/v1/messages/count_tokens", json={"model": "gpt-4o", "messages": MSG}, headers=AUTH
    )
    assert resp.status == 404
    ok = await client.post(
        "/v1/messages/count_tokens", json={"model": MODEL, "messages": MSG}, headers=AUTH
    )
    assert ok.status == 200 and set(await ok.json()) == {"input_tokens"}


@pytest.mark.parametrize("body", [
    GOOD,
    _with(tools=[TOOL], tool_choice={"type": "tool", "name": "lookup"}),
    _with(tools=[TOOL], tool_choice={"type": "none"}),
    _with(tools=[{"type": "web_search_20250305", "name": "web_search"}],
          tool_choice={"type": "tool", "name": "web_search"}),
    _with(max_tokens=2000, thinking={"type": "disabled"}),
    _with(messages=[*MSG, {"role": "assistant", "content": [_block("calling"), USE]},
                    {"role": "user", "content": [RESULT, _block("thanks")]}]),
    _with(messages=[*MSG, {"role": "assistant", "content": [USE]}]),  # a prefill: not judged
], ids=["plain", "named-tool", "choice-none", "server-tool", "thinking-disabled",
        "tool-turns-paired", "ends-on-a-call"])  # fmt: skip
async def test_the_same_fields_used_rightly_are_served(client, body):
    resp = await client.post("/v1/messages", json=body, headers=AUTH)
    assert resp.status == 200, await resp.text()
    for version in ("2023-06-01", "2023-01-01", "2026-10-21"):
        resp = await client.post("/v1/messages", json=GOOD,
                                  headers={**AUTH, "anthropic-version": version})  # fmt: skip
        assert resp.status == 200


@pytest.mark.parametrize("case", ["tool-choice-without-tools", "input-schema-array",
                                  "tool-result-first", "tool-use-unanswered",
                                  "thinking-unsupported"])  # fmt: skip
async def test_count_tokens_keeps_the_same_rules(client, case):
    body = {k: v for k, v in next(c[1] for c in BAD_REQUESTS if c[0] == case).items()
            if k != "max_tokens"}  # fmt: skip
    resp = await client.post("/v1/messages/count_tokens", json=body, headers=AUTH)
    assert resp.status == 400
    error = _check_error(400, await resp.json(), resp.headers)
    assert error["message"] == next(c[5] for c in BAD_REQUESTS if c[0] == case)


async def test_count_tokens_needs_a_version_too(client):
    body = {"model": MODEL, "messages": MSG}
    resp = await client.post("/v1/messages/count_tokens", json=body, headers={"x-api-key": "k"})
    assert resp.status == 400
    error = _check_error(400, await resp.json(), resp.headers)
    assert error["message"] == "anthropic-version: header is required"


async def test_wrong_method_and_paths_are_anthropic_shaped(client):
    resp = await client.get("/v1/messages", headers=AUTH)
    assert resp.status == 405
    _check_error(405, await resp.json(), resp.headers)
    resp = await client.get("/v1/models?limit=0", headers=AUTH)
    assert resp.status == 400
    assert _check_error(400, await resp.json(), resp.headers)["type"] == "invalid_request_error"
    resp = await client.get("/v1/models?after_id=nope", headers=AUTH)
    assert resp.status == 400


# -- fuzzing ----------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)  # fmt: skip
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip
_block_types = st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking",
                                "document", "video", ""])  # fmt: skip
# Bodies near the valid shape, so the fuzz reaches deep into validation, not only the top.
_blocks = st.lists(
    st.fixed_dictionaries(
        {"type": _block_types},
        optional={"text": _json, "cache_control": _json, "content": _json, "input": _json,
                  "name": _json, "id": _json, "source": _json, "tool_use_id": _json},
    ),
    max_size=4,
)  # fmt: skip
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", ""]) | _json,
         "content": st.text(max_size=30) | _blocks | _json},
    ),
    max_size=4,
)  # fmt: skip
_tools = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["lookup", "f"]) | _json},
        optional={"input_schema": st.fixed_dictionaries({}, optional={
                      "type": st.sampled_from(["object", "array"]) | _json,
                      "properties": _json, "required": _json}) | _json,
                  "type": st.sampled_from(["custom", "web_search_20250305"]) | _json,
                  "strict": _json},
    ),
    max_size=3,
)  # fmt: skip
_tool_choices = st.fixed_dictionaries(
    {"type": st.sampled_from(["auto", "any", "tool", "none"]) | _json},
    optional={"name": st.sampled_from(["lookup", "g"]) | _json,
              "disable_parallel_tool_use": _json},
)  # fmt: skip
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from([MODEL, "claude-haiku-4-5", "gpt-4o"]) | _json,
        "max_tokens": st.integers(-5, 10_000) | _json,
        "messages": _messages | _json,
        "system": st.text(max_size=30) | _blocks | _json,
        "stream": st.booleans() | _json,
        "temperature": st.floats(-2, 3) | _json,
        "top_p": _json, "top_k": _json, "metadata": _json, "stop_sequences": _json,
        "tools": _tools | _json, "tool_choice": _tool_choices | _json, "thinking": _json,
        "cache_control": _json, "service_tier": _json, "output_config": _json, "extra": _json,
    },
)  # fmt: skip


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies | _json, path=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]))
def test_fuzzed_bodies_get_a_4xx_or_a_200_never_a_5xx(body: Any, path: str) -> None:
    status, payload, headers = asyncio.run(_post(path, json.dumps(body).encode()))
    assert status < 500, (status, payload)
    if status >= 400:
        _check_error(status, payload, headers)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_fuzzed_bytes_get_a_4xx_never_a_5xx(raw: bytes) -> None:
    status, payload, headers = asyncio.run(_post("/v1/messages", raw))
    assert 400 <= status < 500, (status, payload)
    _check_error(status, payload, headers)


async def _post(path: str, data: bytes) -> tuple[int, Any, Any]:
    """One request to a mock app served in-process (a fresh server per call is cheap)."""
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(create_app(_cfg()))) as c:
        headers = {**AUTH, "content-type": "application/json"}
        resp = await c.post(path, data=data, headers=headers)
        text = await resp.text()
        payload = json.loads(text) if text else None
        return resp.status, payload, resp.headers
