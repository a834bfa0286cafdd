"""Claude's tool use, stop sequences and structured output on the wire, as the Messages API
sends them: bodies and the exact streamed events, served in-process."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects.anthropic.conversation import check_tool_turns
from mock_provider.dialects.protocol import BadRequest
from mock_provider.model.structured import instance
from mock_provider.model.tokens import count_text
from mock_provider.server import create_app

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODEL = "claude-sonnet-4-6"
AUTH = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 2},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city"],
    },
}
ADD = {
    "name": "add",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "number"},
                       "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["a", "b", "tags"],
        "additionalProperties": False,
    },
}  # fmt: skip
TOOLS = [WEATHER, ADD]
SCHEMAS = {t["name"]: t["input_schema"] for t in TOOLS}


def _cfg(probability: float = 0.5, seed: int = 0) -> ProviderConfig:
    return ProviderConfig(
        models={MODEL: ModelConfig(latency=INSTANT)},
        output_tokens=DistConfig(median=12, spread=0),
        tool_call_probability=probability,
        seed=seed,
    )


def _app(probability: float = 0.5, seed: int = 0) -> Any:
    return create_app(_cfg(probability, seed))


async def _message(client: Any, **fields: Any) -> dict[str, Any]:
    body = {"model": MODEL, "max_tokens": 300, "messages": ASK, **fields}
    resp = await client.post("/v1/messages", json=body, headers=AUTH)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _tool_uses(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in msg["content"] if b["type"] == "tool_use"]


def _check_tool_use(block: dict[str, Any]) -> None:
    """A tool_use block as the API writes it, whose input validates against its tool."""
    assert set(block) == {"type", "id", "name", "input"}
    assert block["id"].startswith("toolu_01") and len(block["id"]) == 30
    assert block["id"][6:].isalnum()
    jsonschema.validate(block["input"], SCHEMAS[block["name"]])


@pytest.mark.parametrize(
    "choice",
    [{"type": "any"}, {"type": "tool", "name": "add"}, {"type": "tool", "name": "get_weather"}],
)
async def test_a_forced_choice_always_calls_a_tool_with_valid_input_and_no_text(
    aiohttp_client, choice
):
    client = await aiohttp_client(_app(probability=0.0))  # auto would never call one
    names = set()
    for _ in range(25):
        msg = await _message(client, tools=TOOLS, tool_choice=choice)
        # The API prefills the assistant turn for any and tool: no text before the call
        # (docs.claude.com tool-use "Forcing tool use").
        assert msg["content"] and all(b["type"] == "tool_use" for b in msg["content"])
        assert msg["stop_reason"] == "tool_use" and msg["stop_sequence"] is None
        for block in msg["content"]:
            _check_tool_use(block)
            names.add(block["name"])
        if choice["type"] == "tool":
            assert len(msg["content"]) == 1 and msg["content"][0]["name"] == choice["name"]
        # Usage bills the calls' input JSON as output tokens.
        rendered = [json.dumps(b["input"], separators=(",", ":")) for b in msg["content"]]
        assert msg["usage"]["output_tokens"] == sum(count_text(r) for r in rendered)
    assert names == ({"add", "get_weather"} if choice["type"] == "any" else {choice["name"]})


async def test_none_never_calls_and_auto_follows_the_configured_probability(aiohttp_client):
    never = await aiohttp_client(_app(probability=1.0))
    for _ in range(20):
        msg = await _message(never, tools=TOOLS, tool_choice={"type": "none"})
        assert [b["type"] for b in msg["content"]] == ["text"]
        assert msg["stop_reason"] == "end_turn"
    always = await aiohttp_client(_app(probability=1.0))
    for _ in range(20):
        msg = await _message(always, tools=TOOLS)  # no tool_choice: auto
        assert _tool_uses(msg) and msg["stop_reason"] == "tool_use"
    silent = await aiohttp_client(_app(probability=0.0))
    for _ in range(20):
        msg = await _message(silent, tools=TOOLS, tool_choice={"type": "auto"})
        assert not _tool_uses(msg) and msg["stop_reason"] == "end_turn"
    half = await aiohttp_client(_app(probability=0.5))
    called = 0
    for _ in range(200):
        called += bool(_tool_uses(await _message(half, tools=TOOLS)))
    assert 70 <= called <= 130  # binomial(200, 0.5): outside this, p < 1e-4


async def test_auto_may_write_text_before_its_calls_and_calls_in_parallel(aiohttp_client):
    client = await aiohttp_client(_app(probability=1.0))
    shapes = set()
    for _ in range(60):
        msg = await _message(client, tools=TOOLS, tool_choice={"type": "auto"})
        kinds = [b["type"] for b in msg["content"]]
        assert "tool_use" in kinds and kinds.index("tool_use") == kinds.count("text")
        for block in _tool_uses(msg):
            _check_tool_use(block)
        assert len({b["id"] for b in _tool_uses(msg)}) == len(_tool_uses(msg))
        shapes.add((kinds[0], len(_tool_uses(msg)) > 1))
    # Seen, with these seeds: a call alone, text then a call, and parallel calls.
    assert {("tool_use", False), ("text", False)} <= shapes
    assert any(parallel for _, parallel in shapes)


@pytest.mark.parametrize("kind", ["auto", "any"])
async def test_disable_parallel_tool_use_makes_one_call_at_most(aiohttp_client, kind):
    client = await aiohttp_client(_app(probability=1.0))
    for _ in range(60):
        choice = {"type": kind, "disable_parallel_tool_use": True}
        msg = await _message(client, tools=TOOLS, tool_choice=choice)
        assert len(_tool_uses(msg)) == 1


async def test_same_seed_same_calls_other_seed_other_calls(aiohttp_client):
    runs = []
    for seed in (0, 0, 1):
        client = await aiohttp_client(_app(seed=seed))
        runs.append([await _message(client, tools=TOOLS, tool_choice={"type": "any"})
                     for _ in range(5)])  # fmt: skip
    strip = [[(m["content"], m["usage"]) for m in run] for run in runs]
    assert strip[0] == strip[1] and strip[0] != strip[2]


async def test_max_tokens_cuts_a_call_short(aiohttp_client):
    client = await aiohttp_client(_app())
    msg = await _message(client, max_tokens=3, tools=[ADD], tool_choice={"type": "any"})
    assert msg["stop_reason"] == "max_tokens"
    assert msg["usage"]["output_tokens"] == 3
    assert _tool_uses(msg)[0]["input"] == {}  # cut JSON: not an object yet


async def _stream(client: Any, **fields: Any) -> list[tuple[str, dict[str, Any]]]:
    body = {"model": MODEL, "max_tokens": 300, "messages": ASK, "stream": True, **fields}
    resp = await client.post("/v1/messages", json=body, headers=AUTH)
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = []
    for raw in (await resp.text()).split("\n\n"):
        if raw:
            name, data = raw.split("\n")
            payload = json.loads(data.removeprefix("data: "))
            assert payload["type"] == name.removeprefix("event: ")
            events.append((payload["type"], payload))
    return events


async def test_a_streamed_forced_call_is_the_exact_event_sequence(aiohttp_client):
    """message_start, content_block_start (tool_use, input {}), ping, input_json_delta ("",
    then one per token), content_block_stop, message_delta (tool_use), message_stop."""
    client = await aiohttp_client(_app())
    events = await _stream(client, tools=TOOLS, tool_choice={"type": "tool", "name": "add"})
    names = [n for n, _ in events]
    deltas = [d for n, d in events if n == "content_block_delta"]
    assert names == ["message_start", "content_block_start", "ping",
                     *["content_block_delta"] * len(deltas), "content_block_stop",
                     "message_delta", "message_stop"]  # fmt: skip
    start = events[1][1]
    assert start["index"] == 0
    block = start["content_block"]
    assert set(block) == {"type", "id", "name", "input"}
    assert block["type"] == "tool_use" and block["name"] == "add" and block["input"] == {}
    assert block["id"].startswith("toolu_01")
    assert all(d["index"] == 0 and d["delta"]["type"] == "input_json_delta" for d in deltas)
    assert deltas[0]["delta"]["partial_json"] == ""
    arguments = json.loads("".join(d["delta"]["partial_json"] for d in deltas))
    jsonschema.validate(arguments, ADD["input_schema"])
    done = events[-2][1]
    assert done["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert done["usage"]["output_tokens"] == len(deltas) - 1  # every token but the empty one
    # The same request, not streamed, answers the same call.
    client = await aiohttp_client(_app())
    msg = await _message(client, tools=TOOLS, tool_choice={"type": "tool", "name": "add"})
    assert msg["content"][0]["input"] == arguments and msg["content"][0]["id"] == block["id"]


async def test_a_streamed_answer_with_text_then_calls_indexes_each_block(aiohttp_client):
    client = await aiohttp_client(_app(probability=1.0))
    seen_text_then_calls = False
    for _ in range(40):
        events = await _stream(client, tools=TOOLS)
        opened = [d for n, d in events if n == "content_block_start"]
        stopped = [d["index"] for n, d in events if n == "content_block_stop"]
        assert [d["index"] for d in opened] == stopped == list(range(len(opened)))
        kinds = [d["content_block"]["type"] for d in opened]
        if kinds[0] == "text" and len(kinds) > 1:
            seen_text_then_calls = True
        for d in (d for n, d in events if n == "content_block_delta"):
            want = "text_delta" if kinds[d["index"]] == "text" else "input_json_delta"
            assert d["delta"]["type"] == want
        # Blocks follow one another: each is stopped before the next starts.
        order = [(n, d.get("index")) for n, d in events if n.startswith("content_block_s")]
        assert order == [(n, i) for i in range(len(opened))
                         for n in ("content_block_start", "content_block_stop")]  # fmt: skip
        assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert seen_text_then_calls


async def test_a_stop_sequence_in_the_drawn_text_ends_the_answer_there(aiohttp_client):
    never = ["this sequence is never drawn"]
    plain = await _message(await aiohttp_client(_app()), stop_sequences=never)
    text = plain["content"][0]["text"]
    assert plain["stop_reason"] == "end_turn" and plain["stop_sequence"] is None
    word = text.split()[3]  # a vocabulary word the same draw is known to contain
    cut = await _message(await aiohttp_client(_app()), stop_sequences=[*never, word])
    assert cut["content"] == [{"type": "text", "text": text[: text.index(word)]}]
    assert cut["stop_reason"] == "stop_sequence" and cut["stop_sequence"] == word
    assert cut["usage"]["output_tokens"] < plain["usage"]["output_tokens"]
    # Streamed: the deltas stop at the same place, and message_delta names the sequence.
    events = await _stream(await aiohttp_client(_app()), stop_sequences=[*never, word])
    streamed = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert streamed == text[: text.index(word)]
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": word}


async def test_output_config_json_schema_answers_valid_json(aiohttp_client):
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer", "minimum": 0}},
              "required": ["name", "age"], "additionalProperties": False}  # fmt: skip
    client = await aiohttp_client(_app())
    for _ in range(10):
        msg = await _message(
            client, output_config={"format": {"type": "json_schema", "schema": schema}}
        )
        assert [b["type"] for b in msg["content"]] == ["text"]
        jsonschema.validate(json.loads(msg["content"][0]["text"]), schema)
        assert msg["stop_reason"] == "end_turn"


async def test_a_tool_loop_conversation_is_accepted(aiohttp_client):
    """A whole agent turn: the call, its result, the next answer."""
    client = await aiohttp_client(_app(probability=0.0))
    first = await _message(client, tools=TOOLS, tool_choice={"type": "any"})
    results = [{"type": "tool_result", "tool_use_id": b["id"], "content": "sunny"}
               for b in _tool_uses(first)]  # fmt: skip
    messages = [*ASK, {"role": "assistant", "content": first["content"]},
                {"role": "user", "content": results}]  # fmt: skip
    final = await _message(client, tools=TOOLS, messages=messages)
    assert final["stop_reason"] == "end_turn" and final["content"][0]["type"] == "text"


def test_constraints_the_sdk_moved_into_a_description_are_followed():
    """anthropic's transform_schema writes unsupported keywords into the description."""
    import random

    schema = {"type": "object", "additionalProperties": False, "required": ["n", "s", "x"],
              "properties": {
                  "n": {"type": "integer", "description": "A count\n\n{minimum: 5, maximum: 6}"},
                  "s": {"type": "string", "description": "{maxLength: 3}"},
                  "x": {"type": "number", "description": "{minimum: 0.5, maximum: nan}"},
              }}  # fmt: skip
    for seed in range(50):
        value = instance(schema, random.Random(seed))
        assert value["n"] in (5, 6) and len(value["s"]) <= 3 and value["x"] >= 0.5


# -- tool turns, as a property ------------------------------------------------------------

_turns = st.lists(st.tuples(st.integers(0, 3), st.randoms(use_true_random=False)),
                  min_size=1, max_size=4)  # fmt: skip


def _conversation(rounds: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    """User asks; per round the assistant calls n tools (text first when n is 0), and the
    user answers every call, in some order, maybe with text after the results."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for r, (n, rnd) in enumerate(rounds):
        ids = [f"toolu_01r{r}c{i}" for i in range(n)]
        uses = [{"type": "tool_use", "id": i, "name": "add", "input": {}} for i in ids]
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}, *uses]})
        results: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": i} for i in ids]
        rnd.shuffle(results)
        if not results or rnd.random() < 0.5:
            results.append({"type": "text", "text": "and?"})
        messages.append({"role": "user", "content": results})
    return messages


@settings(max_examples=200, deadline=None)
@given(rounds=_turns, data=st.data())
def test_paired_tool_turns_pass_and_any_broken_pair_is_named(rounds, data):
    messages = _conversation(rounds)
    check_tool_turns(messages)  # every call answered in the next turn: accepted
    answers = [(i, j) for i, m in enumerate(messages) for j, b in enumerate(m["content"])
               if isinstance(b, dict) and b["type"] == "tool_result"]  # fmt: skip
    if not answers:
        return
    i, j = data.draw(st.sampled_from(answers))
    dropped = messages[i]["content"][j]["tool_use_id"]
    broken = [dict(m) for m in messages]
    broken[i] = {**messages[i], "content": [b for k, b in enumerate(messages[i]["content"])
                                            if k != j] or "thanks"}  # fmt: skip
    with pytest.raises(BadRequest) as info:
        check_tool_turns(broken)
    assert info.value.message.startswith(f"messages.{i - 1}: `tool_use` ids were found")
    assert dropped in info.value.message
    stray = [dict(m) for m in messages]
    content = list(messages[i]["content"])
    content[j] = {**content[j], "tool_use_id": "toolu_01stray"}
    stray[i] = {**messages[i], "content": content}
    with pytest.raises(BadRequest) as info:
        check_tool_turns(stray)
    assert info.value.message.startswith(
        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
        "toolu_01stray."
    )
