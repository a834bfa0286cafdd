"""The chat body's two validators agree: msgspec never admits a body the schema refuses."""

from __future__ import annotations

import json
import random
from typing import Any

import msgspec
import pytest
from pydantic import ValidationError

from mock_provider.dialects.openai import parsing

GOOD: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    "max_tokens": 5,
}
# Values of every JSON kind, and the edge cases where JSON libraries tend to differ.
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 2**64, "", "x", "user", "assistant", "wizard",
    [], [1], ["x"], [{"type": "text", "text": "hi"}], {}, {"a": 1}, {"include_usage": True},
    {"include_usage": 1}, {"role": "user"}, {"role": "user", "content": None},
]  # fmt: skip
FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "stream",
          "stream_options", "n", "temperature"]  # fmt: skip
MESSAGE_FIELDS = ["role", "content", "name", "tool_calls"]


def _value(rng: random.Random) -> Any:
    return json.loads(json.dumps(rng.choice(VALUES)))  # a fresh copy: bodies get mutated


def _mutated(rng: random.Random) -> bytes:
    body: dict[str, Any] = json.loads(json.dumps(GOOD))
    for _ in range(rng.randrange(1, 3)):
        if rng.random() < 0.5:
            body[rng.choice(FIELDS)] = _value(rng)
        elif isinstance(body.get("messages"), list) and body["messages"]:
            message = rng.choice(body["messages"])
            if isinstance(message, dict):
                message[rng.choice(MESSAGE_FIELDS)] = _value(rng)
        else:
            body.pop(rng.choice(FIELDS), None)
    raw = json.dumps(body).encode()
    if rng.random() < 0.1:  # JSON that only some parsers take, or none
        raw = rng.choice([raw.replace(b"5}", b"NaN}"), raw[:-1], raw + b" x", b" " + raw + b"\n"])
    return raw


def _pydantic(raw: bytes) -> Any:
    try:
        return parsing._chat.validate_json(raw)
    except ValidationError:
        return "refused"


def _msgspec(raw: bytes) -> Any:
    try:
        return parsing._decode_chat(raw)
    except msgspec.MsgspecError:
        return "refused"


def test_fast_decoder_admits_only_what_the_schema_admits() -> None:
    rng = random.Random(11)
    outcomes = {"both": 0, "neither": 0, "schema only": 0}
    for _ in range(3000):
        raw = _mutated(rng)
        fast, schema = _msgspec(raw), _pydantic(raw)
        if fast != "refused":
            assert fast == schema, raw  # admitted by both, decoded alike
            outcomes["both"] += 1
        else:
            outcomes["neither" if schema == "refused" else "schema only"] += 1
    # The sample exercises both sides of the schema.
    assert outcomes["both"] > 100 and outcomes["neither"] > 100, outcomes


def test_parse_chat_falls_back_to_the_schema_and_its_refusals() -> None:
    ok, tokens, max_tokens = parsing.parse_chat(json.dumps(GOOD).encode())
    assert ok == GOOD and tokens > 0 and max_tokens == 5
    with pytest.raises(parsing.BadRequest) as refused:
        parsing.parse_chat(json.dumps({**GOOD, "messages": [{"role": "wizard"}]}).encode())
    assert refused.value.param == "messages[0].role"
    assert refused.value.code == "invalid_value"  # the API's word for an unknown role
    assert refused.value.message == (
        "Invalid value: 'wizard'. Supported values are: 'system', 'assistant', 'user', "
        "'function', 'tool', and 'developer'."
    )
