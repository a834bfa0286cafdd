"""Hostile and malformed chat, embeddings and model requests get OpenAI-shaped 4xx, never 5xx.

A table of hand-picked cases, each with the status, ``code`` and ``param`` the real API
gives, then hypothesis fuzzes bodies near the valid shape (every option the mock reads, with
hostile values and schemas) and raw bytes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.server import create_app

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODEL = "gpt-4o-mini"  # writes at most 16,384 tokens
EMBED = "text-embedding-3-small"  # 1536 dimensions
AUTH = {"Authorization": "Bearer sk-test", "content-type": "application/json"}
MSG = [{"role": "user", "content": "hi"}]
GOOD: dict[str, Any] = {"model": MODEL, "messages": MSG, "max_tokens": 5}
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _cfg() -> ProviderConfig:
    return ProviderConfig(
        models={MODEL: ModelConfig(latency=INSTANT), EMBED: ModelConfig(latency=INSTANT)},
        max_body_bytes=64 * 1024,
        output_tokens=DistConfig(median=5, spread=0),
    )


def _with(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


def CALLS(*ids: str) -> dict[str, Any]:
    """An assistant message calling ``get_weather`` once per id."""
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in ids]}  # fmt: skip


def TOOL_REPLY(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "sunny"}


def _schema_format(schema: Any, strict: bool = True) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "Out", "schema": schema,
                                                   "strict": strict}}  # fmt: skip


NOT_JSON = 400, None, None  # "We could not parse the JSON body of your request. ..."
CHAT_CASES: list[tuple[str, Any, int, str | None, str | None]] = [
    # (id, body (bytes or JSON), status, code, param)
    ("temperature-9", _with(temperature=9), 400, "decimal_above_max_value", "temperature"),
    ("temperature-negative", _with(temperature=-0.5), 400, "decimal_below_min_value",
     "temperature"),
    ("top-p-2", _with(top_p=2), 400, "decimal_above_max_value", "top_p"),
    ("presence-penalty-3", _with(presence_penalty=3), 400, "decimal_above_max_value",
     "presence_penalty"),
    ("frequency-penalty--3", _with(frequency_penalty=-3), 400, "decimal_below_min_value",
     "frequency_penalty"),
    ("n-0", _with(n=0), 400, "integer_below_min_value", "n"),
    ("n-129", _with(n=129), 400, "integer_above_max_value", "n"),
    ("n-string", _with(n="3"), 400, "invalid_type", "n"),
    ("nan", b'{"model": "gpt-4o-mini", "messages": [], "temperature": NaN}', *NOT_JSON),
    ("infinity", b'{"model": "gpt-4o-mini", "max_tokens": Infinity}', *NOT_JSON),
    ("minus-infinity", b'{"model": "gpt-4o-mini", "top_p": -Infinity}', *NOT_JSON),
    ("unknown-content-part",
     _with(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
     400, "invalid_value", "messages[0].content[0].type"),
    ("content-part-without-type",
     _with(messages=[{"role": "user", "content": [{"text": "hi"}]}]),
     400, "missing_required_parameter", "messages[0].content[0].type"),
    ("text-part-without-text",
     _with(messages=[{"role": "user", "content": [{"type": "text"}]}]),
     400, "invalid_type", "messages[0].content[0].text"),
    ("logit-bias-key", _with(logit_bias={"hello": 5}), 400, None, "logit_bias"),
    ("logit-bias-value", _with(logit_bias={"50256": 101}), 400, "decimal_above_max_value",
     "logit_bias.50256"),
    ("logit-bias-type", _with(logit_bias=[1, 2]), 400, "invalid_type", "logit_bias"),
    ("seed-string", _with(seed="42"), 400, "invalid_type", "seed"),
    ("seed-decimal", _with(seed=1.5), 400, "invalid_type", "seed"),
    ("top-logprobs-without-logprobs", _with(top_logprobs=3), 400, None, "top_logprobs"),
    ("top-logprobs-21", _with(logprobs=True, top_logprobs=21), 400, "integer_above_max_value",
     "top_logprobs"),
    ("top-logprobs--1", _with(logprobs=True, top_logprobs=-1), 400, "integer_below_min_value",
     "top_logprobs"),
    ("max-tokens-over-cap", _with(max_tokens=100_000), 400, "invalid_value", "max_tokens"),
    ("max-completion-tokens-over-cap", {**GOOD, "max_tokens": None,
                                        "max_completion_tokens": 20_000},
     400, "invalid_value", "max_completion_tokens"),
    ("tool-choice-without-tools", _with(tool_choice="required"), 400, None, "tool_choice"),
    ("tool-choice-unknown", _with(tools=[TOOL], tool_choice="sometimes"), 400, "invalid_value",
     "tool_choice"),
    ("tool-choice-names-no-tool",
     _with(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}),
     400, None, "function_call"),
    ("tool-name-with-space",
     _with(tools=[{"type": "function", "function": {"name": "get weather"}}]),
     400, "invalid_value", "tools[0].function.name"),
    ("tool-without-function", _with(tools=[{"type": "function"}]), 400,
     "missing_required_parameter", "tools[0].function"),
    ("tool-type-unknown", _with(tools=[{"type": "robot"}]), 400, "invalid_value",
     "tools[0].type"),
    ("response-format-xml", _with(response_format={"type": "xml"}), 400, "invalid_value",
     "response_format.type"),
    ("json-schema-without-name",
     _with(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
     400, "missing_required_parameter", "response_format.json_schema.name"),
    ("strict-schema-optional-key",
     _with(response_format=_schema_format({"type": "object", "additionalProperties": False,
                                           "properties": {"a": {"type": "string"}}})),
     400, None, "response_format"),
    ("strict-schema-open-object",
     _with(response_format=_schema_format({"type": "object", "properties": {}})),
     400, None, "response_format"),
    ("strict-schema-oneof",
     _with(response_format=_schema_format(
         {"type": "object", "additionalProperties": False, "required": ["a"],
          "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}})),
     400, None, "response_format"),
    ("strict-schema-array-root",
     _with(response_format=_schema_format({"type": "array", "items": {"type": "string"}})),
     400, None, "response_format"),
    ("strict-tool-open-object",
     _with(tools=[{"type": "function", "function": {
         "name": "f", "strict": True, "parameters": {"type": "object", "properties": {}}}}]),
     400, "invalid_function_parameters", "tools[0].function.parameters"),
    ("stream-options-type", _with(stream=True, stream_options={"include_usage": "yes"}), 400,
     "invalid_type", "stream_options.include_usage"),
    # Broken agent loops (the real wording and its sources: parsing.check_conversation).
    ("tool-without-tool-calls", _with(messages=[*MSG, TOOL_REPLY("call_1")]), 400, None,
     "messages.[1].role"),
    ("tool-answers-another-call", _with(messages=[*MSG, CALLS("call_1"), TOOL_REPLY("call_2")]),
     400, None, "messages.[2].role"),
    ("tool-answers-twice", _with(messages=[*MSG, CALLS("call_1"), TOOL_REPLY("call_1"),
                                           TOOL_REPLY("call_1")]), 400, None, "messages.[3].role"),
    ("tool-after-a-user-message", _with(messages=[*MSG, CALLS("call_1"), TOOL_REPLY("call_1"),
                                                  *MSG, TOOL_REPLY("call_1")]),
     400, None, "messages.[4].role"),
    ("tool-calls-unanswered", _with(messages=[*MSG, CALLS("call_1"), *MSG]), 400, None,
     "messages.[1].role"),
    ("tool-calls-partly-answered",
     _with(messages=[*MSG, CALLS("call_1", "call_2"), TOOL_REPLY("call_2"), *MSG]),
     400, None, "messages.[1].role"),
    ("tool-calls-last", _with(messages=[*MSG, CALLS("call_1")]), 400, None, "messages.[1].role"),
    ("tool-without-tool-call-id",
     _with(messages=[*MSG, CALLS("call_1"), {"role": "tool", "content": "x"}]),
     400, "missing_required_parameter", "messages[2].tool_call_id"),
    # Options the API refuses together, or empty, or too many.
    ("max-tokens-and-max-completion-tokens", _with(max_completion_tokens=5), 400,
     "invalid_parameter_combination", "max_tokens"),
    ("json-object-without-json", _with(response_format={"type": "json_object"}), 400, None,
     "messages"),
    ("stream-options-without-stream", _with(stream_options={"include_usage": True}), 400, None,
     "stream_options"),
    ("stream-options-stream-false", _with(stream=False, stream_options={"include_usage": True}),
     400, None, "stream_options"),
    ("tools-empty", _with(tools=[]), 400, "empty_array", "tools"),
    ("five-stop-sequences", _with(stop=["a", "b", "c", "d", "e"]), 400,
     "array_above_max_length", "stop"),
]  # fmt: skip

GOOD_CASES: list[tuple[str, Any]] = [
    # (id, body): near the refusals above, and served
    ("tool-conversation", _with(messages=[*MSG, CALLS("call_1", "call_2"), TOOL_REPLY("call_2"),
                                          TOOL_REPLY("call_1"), *MSG])),
    ("tool-conversation-twice", _with(messages=[*MSG, CALLS("a"), TOOL_REPLY("a"), CALLS("b"),
                                                TOOL_REPLY("b")])),
    ("max-completion-tokens-with-null-max-tokens",
     {**GOOD, "max_tokens": None, "max_completion_tokens": 5}),
    ("json-object-with-json-in-a-part",
     _with(response_format={"type": "json_object"}, messages=[
         {"role": "user", "content": [{"type": "text", "text": "Answer in JSON."}]}])),
    ("json-schema-needs-no-word", _with(response_format=_schema_format(
        {"type": "object", "properties": {}, "additionalProperties": False, "required": []}))),
    ("stream-options-with-stream", _with(stream=True, stream_options={"include_usage": True})),
    ("four-stop-sequences", _with(stop=["a", "b", "c", "d"])),
    ("stop-string", _with(stop="the")),
]  # fmt: skip


@pytest.mark.parametrize("body", [c[1] for c in GOOD_CASES], ids=[c[0] for c in GOOD_CASES])
def test_a_request_near_a_refusal_is_served(body: Any) -> None:
    status, payload, _ = asyncio.run(_post("/v1/chat/completions", _bytes(body)))
    assert status == 200, payload


def test_the_real_wording_of_the_conversation_and_option_refusals() -> None:
    cases = {
        "tool-without-tool-calls": "Invalid parameter: messages with role 'tool' must be a "
        "response to a preceeding message with 'tool_calls'.",
        "tool-calls-partly-answered": "An assistant message with 'tool_calls' must be followed "
        "by tool messages responding to each 'tool_call_id'. The following tool_call_ids did "
        "not have response messages: call_1",
        "max-tokens-and-max-completion-tokens": "Setting 'max_tokens' and "
        "'max_completion_tokens' at the same time is not supported.",
        "json-object-without-json": "'messages' must contain the word 'json' in some form, to "
        "use 'response_format' of type 'json_object'.",
        "stream-options-without-stream": "The 'stream_options' parameter is only allowed when "
        "'stream' is enabled.",
        "tools-empty": "Invalid 'tools': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead.",
        "five-stop-sequences": "Invalid 'stop': array too long. Expected an array with maximum "
        "length 4, but got an array with length 5 instead.",
    }
    bodies = {c[0]: c[1] for c in CHAT_CASES}
    for case, message in cases.items():
        _, payload, _ = asyncio.run(_post("/v1/chat/completions", _bytes(bodies[case])))
        assert payload["error"]["message"] == message, case
    _, payload, _ = asyncio.run(_post("/v1/embeddings", _bytes({"model": EMBED, "input": ""})))
    assert payload["error"]["message"] == (
        "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference."
    )


def test_a_stop_sequence_cuts_the_drawn_text_there() -> None:
    """The same request under the same seed, without and with a stop sequence found in its
    text: the second answer is the first up to that sequence, finished (``stop``)."""
    body = _with(max_tokens=50, stop=["@@never@@"])
    _, full, _ = asyncio.run(_post("/v1/chat/completions", _bytes(body)))
    text = full["choices"][0]["message"]["content"]
    words = text.split()
    stop = " " + words[len(words) // 2]
    assert stop in text
    _, cut, _ = asyncio.run(_post("/v1/chat/completions", _bytes({**body, "stop": [stop, "@@"]})))
    choice = cut["choices"][0]
    assert choice["message"]["content"] == text[: text.index(stop)]
    assert choice["finish_reason"] == "stop"
    assert cut["usage"]["completion_tokens"] < full["usage"]["completion_tokens"]


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [case[1:] for case in CHAT_CASES],
    ids=[case[0] for case in CHAT_CASES],
)
def test_a_bad_chat_request_gets_the_apis_400(body: Any, status: int, code: Any, param: Any):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, payload, headers = asyncio.run(_post("/v1/chat/completions", data))
    assert got == status, payload
    _check_error(got, payload, headers)
    assert (payload["error"]["code"], payload["error"]["param"]) == (code, param), payload


def test_the_real_wording_of_a_range_and_a_cap() -> None:
    _, payload, _ = asyncio.run(_post("/v1/chat/completions", _bytes(_with(temperature=9))))
    assert payload["error"]["message"] == (
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 9 "
        "instead."
    )
    _, payload, _ = asyncio.run(_post("/v1/chat/completions", _bytes(_with(max_tokens=100_000))))
    assert payload["error"]["message"] == (
        "max_tokens is too large: 100000. This model supports at most 16384 completion tokens, "
        "whereas you provided 100000."
    )


def test_the_responses_api_names_its_own_cap_field() -> None:
    body = {"model": MODEL, "input": "hi", "max_output_tokens": 100_000}
    status, payload, headers = asyncio.run(_post("/v1/responses", _bytes(body)))
    assert status == 400
    _check_error(status, payload, headers)
    assert payload["error"]["param"] == "max_output_tokens"
    assert payload["error"]["message"].startswith("max_output_tokens is too large: 100000.")


EMBEDDING_CASES: list[tuple[str, Any, str | None, str | None]] = [
    # (id, body, code, param): all 400
    ("dimensions--1", {"model": EMBED, "input": "hi", "dimensions": -1},
     "integer_below_min_value", "dimensions"),
    ("dimensions-0", {"model": EMBED, "input": "hi", "dimensions": 0},
     "integer_below_min_value", "dimensions"),
    ("dimensions-over-the-models", {"model": EMBED, "input": "hi", "dimensions": 4096},
     "integer_above_max_value", "dimensions"),
    ("dimensions-string", {"model": EMBED, "input": "hi", "dimensions": "64"}, "invalid_type",
     "dimensions"),
    ("input-number", {"model": EMBED, "input": 42}, "invalid_type", "input"),
    # "'$.input' is invalid. ...", param and code null (aryn-ai/sycamore#943, mteb#1200)
    ("input-empty-list", {"model": EMBED, "input": []}, None, None),
    ("input-empty-token-list", {"model": EMBED, "input": [[1, 2], []]}, None, None),
    ("input-negative-token", {"model": EMBED, "input": [[5, -1]]}, None, None),
    ("input-empty-string", {"model": EMBED, "input": ""}, None, None),
    ("input-empty-string-in-list", {"model": EMBED, "input": ["a", ""]}, None, None),
    ("input-2049-texts", {"model": EMBED, "input": ["a"] * 2049}, None, None),
    ("input-mixed", {"model": EMBED, "input": ["a", [1, 2]]}, "invalid_type", "input"),
    ("encoding-format", {"model": EMBED, "input": "hi", "encoding_format": "hex"},
     "invalid_value", "encoding_format"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [case[1:] for case in EMBEDDING_CASES],
    ids=[case[0] for case in EMBEDDING_CASES],
)
def test_a_bad_embeddings_request_gets_the_apis_400(body: Any, code: Any, param: Any) -> None:
    status, payload, headers = asyncio.run(_post("/v1/embeddings", _bytes(body)))
    assert status == 400, payload
    _check_error(status, payload, headers)
    assert (payload["error"]["code"], payload["error"]["param"]) == (code, param), payload


def test_an_unknown_model_id_is_openais_404() -> None:
    status, payload, headers = asyncio.run(_get("/v1/models/gpt-9"))
    assert status == 404
    _check_error(status, payload, headers)
    assert payload["error"]["code"] == "model_not_found"
    assert payload["error"]["message"] == "The model 'gpt-9' does not exist"


# -- fuzzing ----------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)  # fmt: skip
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip
# JSON schemas near the shapes the instance generator reads, with hostile values in them.
_schema_types = st.sampled_from(
    ["object", "array", "string", "integer", "number", "boolean", "null", "nope"]
)
_schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": _schema_types | st.lists(_schema_types, max_size=3) | _json,
            "enum": st.lists(_json_leaf, max_size=3) | _json,
            "const": _json_leaf, "format": st.sampled_from(["date-time", "email", "uuid", "x"]),
            "pattern": st.sampled_from(["^[a-z]+$", "((", "\\d{3}", "a{99999}"]) | _json,
            "minimum": _json_leaf, "maximum": _json_leaf, "minLength": _json_leaf,
            "maxLength": _json_leaf, "minItems": _json_leaf, "maxItems": _json_leaf,
            "$ref": st.sampled_from(["#/$defs/a", "#/$defs/nope", "#", "http://x"]) | _json,
            "required": st.lists(st.text(max_size=4), max_size=3) | _json,
            "additionalProperties": st.booleans() | _json,
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": _schema_types, "properties": st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
            "items": inner | _json, "anyOf": st.lists(inner, max_size=3) | _json,
            "$defs": st.fixed_dictionaries({"a": inner}) | _json,
            "required": st.lists(st.text(max_size=4), max_size=3),
            "additionalProperties": st.booleans(),
        },
    ),
    max_leaves=12,
)  # fmt: skip
_formats = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object", "json_schema", "x"])}),
    st.fixed_dictionaries(
        {"type": st.just("json_schema"),
         "json_schema": st.fixed_dictionaries(
             {"name": st.sampled_from(["Out", "Out", "", "bad name"])},
             optional={"schema": _schemas, "strict": st.booleans()})},
    ),
)  # fmt: skip
_tools = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["function", "function", "custom", "x"])},
        optional={"function": st.fixed_dictionaries(
            {"name": st.sampled_from(["f", "g", "f", "", "a b"])},
            optional={"parameters": _schemas, "strict": st.booleans()})},
    ),
    max_size=3,
)  # fmt: skip
_tool_choices = st.one_of(
    st.sampled_from(["none", "auto", "required", "x"]),
    st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
        {"name": st.sampled_from(["f", "g", "h"])})}),
)  # fmt: skip
_parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=12)}),
        st.fixed_dictionaries({"type": st.just("image_url"),
                               "image_url": st.fixed_dictionaries({"url": st.just("x")})}),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "input_audio", "file", "video", ""])},
            optional={"text": _json, "image_url": _json},
        ),
    ),
    min_size=1, max_size=3,
)  # fmt: skip
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "developer"]),
         "content": st.text(max_size=20) | _parts},
    ),
    min_size=1, max_size=3,
)  # fmt: skip
# Bodies that are nearly right, every option the mock reads near or past its range, so the
# fuzz reaches the option checks, the schema reader and the instance generator (a body with
# a mistyped top-level field is refused before any of them)...
_near_valid = st.fixed_dictionaries(
    {"model": st.just(MODEL), "messages": _messages},
    optional={
        "max_tokens": st.integers(1, 20_000) | st.none(),
        "max_completion_tokens": st.integers(-1, 20_000),
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "n": st.integers(0, 130), "temperature": st.floats(-0.5, 2.5),
        "top_p": st.floats(-0.2, 1.2), "presence_penalty": st.floats(-2.5, 2.5),
        "frequency_penalty": st.floats(-2.5, 2.5),
        "logit_bias": st.dictionaries(st.sampled_from(["1", "50256", "x", "-1"]),
                                      st.floats(-120, 120), max_size=3),
        "seed": st.integers(-(2**64), 2**64),
        "logprobs": st.booleans(), "top_logprobs": st.integers(-1, 22),
        "response_format": _formats, "tools": _tools, "tool_choice": _tool_choices,
        "parallel_tool_calls": st.booleans(),
    },
)  # fmt: skip
# ... and the same with one field anything at all.
_FIELDS = ["messages", "max_tokens", "max_completion_tokens", "stream", "stream_options", "n",
           "temperature", "top_p", "logit_bias", "seed", "logprobs", "top_logprobs",
           "response_format", "tools", "tool_choice", "stop", "user", "model"]  # fmt: skip
_mutated = st.builds(
    lambda body, key, junk: {**body, key: junk}, _near_valid, st.sampled_from(_FIELDS), _json
)
_bodies = _near_valid | _mutated


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(body=_bodies | _json)
def test_fuzzed_chat_bodies_get_a_4xx_or_a_200_never_a_5xx(body: Any) -> None:
    status, payload, headers = asyncio.run(_post("/v1/chat/completions", _bytes(body)))
    assert status < 500, (status, payload, body)
    if status >= 400:
        _check_error(status, payload, headers)


_embedding_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from([EMBED, MODEL, "x"]) | _json},
    optional={
        "input": st.text(max_size=20) | st.lists(st.text(max_size=8), max_size=3)
        | st.lists(st.integers(-2, 300_000), max_size=4)
        | st.lists(st.lists(st.integers(-2, 300_000), max_size=4), max_size=3) | _json,
        "dimensions": st.integers(-3, 5000) | _json,
        "encoding_format": st.sampled_from(["float", "base64", "x"]) | _json,
        "user": _json,
    },
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_embedding_bodies | _json)
def test_fuzzed_embeddings_bodies_get_a_4xx_or_a_200_never_a_5xx(body: Any) -> None:
    status, payload, headers = asyncio.run(_post("/v1/embeddings", _bytes(body)))
    assert status < 500, (status, payload, body)
    if status >= 400:
        _check_error(status, payload, headers)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200), path=st.sampled_from(["/v1/chat/completions",
                                                          "/v1/embeddings"]))  # fmt: skip
def test_fuzzed_bytes_get_a_4xx_never_a_5xx(raw: bytes, path: str) -> None:
    status, payload, headers = asyncio.run(_post(path, raw))
    assert 400 <= status < 500, (status, payload)
    _check_error(status, payload, headers)


# -- helpers ----------------------------------------------------------------------------------


def _bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


def _check_error(status: int, payload: Any, headers: Any) -> None:
    """OpenAI's error shape: one ``error`` object of four fields; the headers every
    response of the service carries."""
    assert 400 <= status < 500, status
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    err = payload["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"] == "invalid_request_error", err
    assert headers.get("x-request-id", "").startswith("req_")
    assert headers.get("openai-version") == "2020-10-01"


async def _post(path: str, data: bytes) -> tuple[int, Any, Any]:
    """One request to a mock app served in-process (a fresh server per call is cheap)."""
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(create_app(_cfg()))) as c:
        resp = await c.post(path, data=data, headers=AUTH)
        text = await resp.text()
        return resp.status, _parsed(text), resp.headers


async def _get(path: str) -> tuple[int, Any, Any]:
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(create_app(_cfg()))) as c:
        resp = await c.get(path, headers=AUTH)
        return resp.status, _parsed(await resp.text()), resp.headers


def _parsed(text: str) -> Any:
    if not text:
        return None
    if text.startswith("data:"):  # a stream that was admitted: its events, not one body
        return text
    return json.loads(text)
