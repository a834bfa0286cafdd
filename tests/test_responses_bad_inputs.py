"""Malformed Responses API requests get OpenAI-shaped 4xx bodies; nothing gets a 5xx."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from mock_provider.config import ModelConfig, ProviderConfig
from mock_provider.server import create_app
from tests.test_mock_bad_inputs import INSTANT

AUTH = {"Authorization": "Bearer sk-test"}
GOOD: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 16}
PATH = "/v1/responses"


@pytest.fixture
async def client(aiohttp_client):
    cfg = ProviderConfig(
        models={"gpt-4o-mini": ModelConfig(latency=INSTANT, context_window=2000)},
        max_body_bytes=64 * 1024,
    )
    return await aiohttp_client(create_app(cfg))


def _with(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != name}


def _user(content: Any) -> dict[str, Any]:
    return _with(input=[{"role": "user", "content": content}])


BAD_REQUESTS = [
    # (id, body bytes or json, headers, status, code, param)
    ("malformed-json", b'{"model": "gpt-4o-mini", "input": [', AUTH, 400, None, None),
    ("nan-literal", b'{"model": "gpt-4o-mini", "input": "x", "temperature": NaN}', AUTH, 400,
     None, None),
    ("deeply-nested", b'{"model":"gpt-4o-mini","input":' + b"[" * 5000 + b"]" * 5000 + b"}",
     AUTH, 400, None, None),
    ("not-an-object", b"[1, 2, 3]", AUTH, 400, "invalid_type", None),
    ("missing-model", _without("model"), AUTH, 400, "missing_required_parameter", "model"),
    ("model-wrong-type", _with(model=4), AUTH, 400, "invalid_type", "model"),
    ("missing-input", _without("input"), AUTH, 400, "missing_required_parameter", "input"),
    ("input-wrong-type", _with(input=42), AUTH, 400, "invalid_type", "input"),
    ("empty-input", _with(input=[]), AUTH, 400, "empty_array", "input"),
    ("item-not-object", _with(input=["hi"]), AUTH, 400, "invalid_type", "input[0]"),
    ("item-unknown-type", _with(input=[{"type": "telepathy"}]), AUTH, 400, "invalid_value",
     "input[0].type"),
    ("bad-role", _with(input=[{"role": "wizard", "content": "x"}]), AUTH, 400, "invalid_value",
     "input[0].role"),
    ("missing-content", _with(input=[{"role": "user"}]), AUTH, 400,
     "missing_required_parameter", "input[0].content"),
    ("content-wrong-type", _user(5), AUTH, 400, "invalid_type", "input[0].content"),
    ("unknown-part", _user([{"type": "input_hologram"}]), AUTH, 400, "invalid_value",
     "input[0].content[0].type"),
    ("part-text-wrong-type", _user([{"type": "input_text", "text": 3}]), AUTH, 400,
     "invalid_type", "input[0].content[0].text"),
    ("function-call-no-name", _with(input=[{"type": "function_call", "call_id": "c",
                                            "arguments": "{}"}]),
     AUTH, 400, "missing_required_parameter", "input[0].name"),
    ("max-output-below-16", _with(max_output_tokens=10), AUTH, 400, "integer_below_min_value",
     "max_output_tokens"),
    ("max-output-wrong-type", _with(max_output_tokens="lots"), AUTH, 400, "invalid_type",
     "max_output_tokens"),
    ("temperature-too-high", _with(temperature=9), AUTH, 400, "decimal_above_max_value",
     "temperature"),
    ("top-p-negative", _with(top_p=-0.5), AUTH, 400, "decimal_below_min_value", "top_p"),
    ("stream-wrong-type", _with(stream="yes"), AUTH, 400, "invalid_type", "stream"),
    ("bad-tool-choice", _with(tool_choice="sometimes"), AUTH, 400, "invalid_value",
     "tool_choice"),
    ("bad-text-format", _with(text={"format": {"type": "yaml"}}), AUTH, 400, "invalid_value",
     "text.format.type"),
    ("bad-verbosity", _with(text={"verbosity": "chatty"}), AUTH, 400, "invalid_value",
     "text.verbosity"),
    ("json-schema-without-schema", _with(text={"format": {"type": "json_schema", "name": "x"}}),
     AUTH, 400, "missing_required_parameter", "text.format.schema"),
    ("background-not-imitated", _with(background=True), AUTH, 400, "unsupported_parameter",
     "background"),
    ("unknown-previous-response", _with(previous_response_id="resp_missing"), AUTH, 400,
     "previous_response_not_found", "previous_response_id"),
    ("unknown-model", _with(model="gpt-9"), AUTH, 404, "model_not_found", None),
    ("embedding-model", _with(model="text-embedding-3-small"), AUTH, 404, "model_not_found",
     None),
    ("context-overflow", _with(input="word " * 2500), AUTH, 400, "context_length_exceeded",
     "input"),
    # Tools and conversations (dialects/openai/responses/tools.py cites each rule's source).
    ("call-output-without-call", _with(input=[
        {"type": "function_call_output", "call_id": "call_x", "output": "ok"}]),
     AUTH, 400, None, "input"),
    ("call-output-for-another-call", _with(input=[
        {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_b", "output": "ok"}]),
     AUTH, 400, None, "input"),
    ("tool-choice-not-in-tools", _with(tools=[{"type": "function", "name": "f"}],
                                       tool_choice={"type": "function", "name": "g"}),
     AUTH, 400, None, "tool_choice"),
    ("tool-without-name", _with(tools=[{"type": "function", "parameters": {}}]), AUTH, 400,
     "missing_required_parameter", "tools[0].name"),
    ("strict-tool-not-strict-schema", _with(tools=[{
        "type": "function", "name": "f", "strict": True,
        "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}]),
     AUTH, 400, "invalid_function_parameters", "tools[0].parameters"),
    ("strict-text-format-not-strict-schema", _with(text={"format": {
        "type": "json_schema", "name": "x", "strict": True,
        "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
     AUTH, 400, None, "text.format.schema"),
    ("missing-key", GOOD, {}, 401, "invalid_api_key", None),
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
        PATH, data=data, headers={**headers, "Content-Type": "application/json"}
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
    ok = await client.post(PATH, json=GOOD, headers=AUTH)
    assert ok.status == 200
    assert (await ok.json())["status"] in ("completed", "incomplete")


async def test_wrong_method_and_subpaths_are_openai_shaped(client):
    resp = await client.get(PATH, headers=AUTH)
    assert resp.status == 405
    assert (await resp.json())["error"]["type"] == "invalid_request_error"
    resp = await client.get(PATH + "/resp_123", headers=AUTH)  # no such stored response
    assert resp.status == 404
    assert (await resp.json())["error"]["message"] == "Response with id 'resp_123' not found."
    resp = await client.post(PATH + "/resp_123", headers=AUTH)
    assert resp.status == 404
    assert "error" in await resp.json()


# Values a fuzzed field may take: every JSON kind, and edge values of each.
SHAPES: list[Any] = [
    None, True, 0, -1, 15, 16, 2**70, 1.5, -0.0, 1e300, "", "x", "\u0000", [], [1], [[]],
    {}, {"type": 1}, {"type": "message"}, {"role": "user"}, {"role": "user", "content": []},
    [{"type": "input_text"}], [{"role": "assistant", "content": [{"type": "refusal"}]}],
    [{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_file"}]}],
    [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]}],
]  # fmt: skip
# Values the API accepts, per field: half the fuzzed fields take one, so bodies get past the
# first check and reach the deeper ones (items, parts, ranges) and the brain.
VALID: dict[str, list[Any]] = {
    "model": ["gpt-4o-mini"], "instructions": ["Be terse.", ""],
    "input": ["x", [{"role": "developer", "content": [{"type": "input_text", "text": "t"}]}],
              [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
               {"type": "function_call_output", "call_id": "c", "output": "ok"}]],
    "max_output_tokens": [16, 400], "stream": [True, False], "store": [False],
    "temperature": [0, 1.5], "top_p": [0.5], "tools": [[{"type": "function", "name": "f"}]],
    "tool_choice": ["auto", "none", "required", {"type": "function", "name": "f"},
                    {"type": "allowed_tools", "mode": "required", "tools": 5}],
    "parallel_tool_calls": [False, True],
    "text": [{"format": {"type": "json_object"}}, {"verbosity": "low"},
             {"format": {"type": "json_schema", "name": "s", "strict": True, "schema": {
                 "type": "object", "properties": {"a": {"type": "integer"}},
                 "required": ["a"], "additionalProperties": False}}}],
    "previous_response_id": [None], "metadata": [{"k": "v"}], "truncation": ["auto"],
    "reasoning": [{"effort": "low"}], "service_tier": ["flex"], "top_logprobs": [3],
    "background": [False], "prompt": [None], "conversation": [None],
}  # fmt: skip
FIELDS = list(VALID)


def _fuzzed(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.2:  # bytes that are rarely JSON
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
    body: dict[str, Any] = dict(GOOD)
    for key in rng.sample(FIELDS, rng.randrange(1, 4)):
        body[key] = rng.choice(VALID[key] if rng.random() < 0.5 else SHAPES)
    data = json.dumps(body).encode()
    if pick < 0.35:  # a truncated or spliced copy
        cut = rng.randrange(len(data))
        data = data[:cut] + data[rng.randrange(len(data)) :]
    return data


async def test_fuzzed_bodies_get_a_4xx_or_a_200_never_a_5xx(client):
    """Seeded random bodies (a fixed seed: a failure replays): always answered, never a 5xx."""
    rng = random.Random(10)
    statuses: set[int] = set()
    for _ in range(300):
        data = _fuzzed(rng)
        resp = await client.post(PATH, data=data, headers=AUTH)
        statuses.add(resp.status)
        assert resp.status == 200 or 400 <= resp.status < 500, (resp.status, data[:120])
        if resp.content_type == "text/event-stream":  # a streamed 200
            assert resp.status == 200
            events = await resp.text()
            assert (
                events.rstrip()
                .rsplit("event: ", 1)[-1]
                .startswith(("response.completed", "response.incomplete"))
            ), data[:120]
            continue
        payload = await resp.json()
        if resp.status == 200:
            assert payload["object"] == "response", data[:120]
        else:
            assert set(payload) == {"error"} and payload["error"]["message"], data[:120]
    assert 200 in statuses and 400 in statuses  # the fuzz reached both sides
