"""The brain's answers beyond one plain text: choices, tool calls, JSON, log probabilities."""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

import jsonschema
import pytest

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.outputs import MAX_PARALLEL_CALLS, OutputSpec, Shaped, Tool, shape
from mock_provider.model.provider import ChatRequest, Completion, Provider
from mock_provider.model.tokens import count_text
from mock_provider.model.vocabulary import END, MAX_TOKENS, TOOL_USE

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
SEARCH = {
    "type": "object",
    "properties": {"query": {"type": "string", "minLength": 3}, "limit": {"type": "integer"}},
    "required": ["query"],
}
TOOLS = (Tool("get_weather", WEATHER), Tool("search", SEARCH))


def _shape(spec: OutputSpec, seed: int = 0, cap: int = 1000, p: float = 0.5) -> Shaped:
    return shape(spec, 20, cap, random.Random(seed), f"key{seed}", p, 20.0, 0.5)


def test_n_choices_are_drawn_apart_and_billed_together() -> None:
    out = _shape(OutputSpec(choices=4))
    assert len(out.choices) == 4
    assert out.choices[0].tokens == 20  # the first keeps the drawn length
    assert len({c.tokens for c in out.choices}) > 1  # the others draw their own
    assert out.tokens == sum(c.tokens for c in out.choices)
    assert out.steps == max(c.tokens for c in out.choices) == len(out.pieces)


@pytest.mark.parametrize(("choice", "name"), [("required", None), ("named", "search")])
def test_required_and_named_always_call_a_tool_with_valid_arguments(choice, name) -> None:
    spec = OutputSpec(choices=2, tools=TOOLS, tool_choice=choice, tool_name=name)
    for seed in range(100):
        for c in _shape(spec, seed).choices:
            assert c.tool_call is not None and c.finish_reason == TOOL_USE and not c.pieces
            assert name is None or c.tool_call.name == name
            schema = {t.name: t.parameters for t in TOOLS}[c.tool_call.name]
            jsonschema.validate(json.loads(c.tool_call.text), schema)
            assert re.fullmatch(r"[A-Za-z0-9]{24}", c.tool_call.key)
            assert c.tokens == count_text(c.tool_call.text)  # billed as its tokens


def test_none_never_calls_and_auto_calls_at_the_configured_rate() -> None:
    never = OutputSpec(tools=TOOLS, tool_choice="none")
    assert all(_shape(never, s).choices[0].tool_call is None for s in range(200))
    auto = OutputSpec(tools=TOOLS, tool_choice="auto")
    for p in (0.0, 0.3, 1.0):
        calls = sum(_shape(auto, s, p=p).choices[0].tool_call is not None for s in range(2000))
        # binomial: 2000 draws at 0.3 have a standard deviation of about 0.01
        assert calls / 2000 == pytest.approx(p, abs=0.04)


def test_an_answer_over_the_cap_is_cut_and_says_so() -> None:
    out = _shape(OutputSpec(choices=3), cap=5)
    for c in out.choices:
        assert c.tokens <= 5
        assert c.finish_reason == (MAX_TOKENS if c.tokens == 5 else END)
    call = _shape(OutputSpec(tools=TOOLS, tool_choice="required"), cap=3).choices[0]
    assert call.finish_reason == MAX_TOKENS and call.tool_call is not None
    assert len(call.tool_call.arguments) == 3


def test_json_mode_and_schema_give_json_content() -> None:
    for seed in range(50):
        text = _shape(OutputSpec(json=True), seed).choices[0].text
        assert isinstance(json.loads(text), dict)
        schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
        value = json.loads(_shape(OutputSpec(json=True, schema=schema), seed).choices[0].text)
        jsonschema.validate(value, schema)


@pytest.mark.parametrize("top", [0, 1, 5, 20])
def test_logprobs_are_a_distribution_over_distinct_tokens(top: int) -> None:
    out = _shape(OutputSpec(choices=2, logprobs=top))
    for c in out.choices:
        assert c.logprobs is not None and len(c.logprobs) == len(c.pieces)
        for piece, lp in zip(c.pieces, c.logprobs, strict=True):
            assert lp.logprob <= 0 and len(lp.top) == top
            if top:
                assert lp.top[0] == (piece, lp.logprob)  # the sampled token is the likeliest
                assert len({t for t, _ in lp.top}) == top
                assert sum(math.exp(v) for _, v in lp.top) <= 1 + 1e-9
                assert [v for _, v in lp.top] == sorted((v for _, v in lp.top), reverse=True)
    assert _shape(OutputSpec(choices=2)).choices[0].logprobs is None  # only when asked


def test_shaping_is_deterministic_per_seed() -> None:
    spec = OutputSpec(choices=3, tools=TOOLS, tool_choice="auto", logprobs=2)
    assert _shape(spec, 7) == _shape(spec, 7)
    assert _shape(spec, 7) != _shape(spec, 8)


# -- through the provider ---------------------------------------------------------------------

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
HELLO: list[dict[str, Any]] = [{"role": "user", "content": "hello"}]


def _provider(**kwargs: Any) -> Provider:
    models = {"gpt-4o-mini": ModelConfig(latency=INSTANT, tpm=100_000)}
    return Provider(ProviderConfig(models=models, **kwargs), 0.0)


def _ask(p: Provider, spec: OutputSpec | None, max_tokens: int = 100, stream: bool = False):
    req = ChatRequest("sk", "gpt-4o-mini", 30, max_tokens, stream, HELLO, output=spec)
    decision = p.chat(req, 0.0)
    assert isinstance(decision, Completion), decision
    return decision


def test_a_completion_bills_every_choice_and_the_estimate_holds_room_for_each() -> None:
    p = _provider()
    c = _ask(p, OutputSpec(choices=3), stream=True)
    assert c.choices is not None and len(c.choices) == 3
    assert c.output_tokens == sum(ch.tokens for ch in c.choices)
    assert c.finish_reason == c.choices[0].finish_reason
    assert c.ratelimit.tokens.remaining == 100_000 - (30 + 3 * 100)  # prompt + n * max_tokens
    assert len(c.plan.gaps_s) == max(ch.tokens for ch in c.choices) - 1  # one step per token
    assert c.tokens_after(2) == sum(min(ch.tokens, 2) for ch in c.choices)
    plain = _ask(p, None)
    assert plain.choices is None and plain.tokens_after(2) == 2


def test_a_structured_answer_bills_the_tokens_of_its_json() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    c = _ask(_provider(), OutputSpec(json=True, schema=schema))
    assert c.choices is not None
    text = c.choices[0].text
    jsonschema.validate(json.loads(text), schema)
    assert c.output_tokens == count_text(text)


def test_the_tool_call_probability_is_a_provider_setting() -> None:
    spec = OutputSpec(tools=TOOLS, tool_choice="auto")
    never, always = _provider(tool_call_probability=0.0), _provider(tool_call_probability=1.0)
    assert all(_ask(never, spec).choices[0].tool_call is None for _ in range(50))  # type: ignore[index]
    assert all(_ask(always, spec).choices[0].tool_call for _ in range(50))  # type: ignore[index]
    assert ProviderConfig().tool_call_probability == 0.5


def _parallel(spec: OutputSpec, seed: int, probability: float, cap: int = 1000) -> Shaped:
    return shape(spec, 20, cap, random.Random(seed), f"key{seed}", 0.5, 20.0, 0.5, probability)


def test_parallel_calls_are_drawn_only_where_allowed_and_billed_together() -> None:
    allowed = OutputSpec(tools=TOOLS, tool_choice="required", max_tool_calls=MAX_PARALLEL_CALLS)
    counts = set()
    for seed in range(50):
        answer = _parallel(allowed, seed, 0.5).choices[0]
        calls = answer.calls
        counts.add(len(calls))
        assert 1 <= len(calls) <= MAX_PARALLEL_CALLS
        assert len({c.key for c in calls}) == len(calls)  # each call its own id
        for call in calls:
            jsonschema.validate(
                json.loads(call.text), {t.name: t.parameters for t in TOOLS}[call.name]
            )
        assert answer.tokens == sum(count_text(c.text) for c in calls)
        assert answer.finish_reason == TOOL_USE
    assert counts > {1}  # some answers make several calls
    always = _parallel(allowed, 0, 1.0)
    assert len(always.choices[0].calls) == MAX_PARALLEL_CALLS
    assert always.pieces == tuple(p for c in always.choices[0].calls for p in c.arguments)
    assert always.steps == always.tokens == len(always.pieces)
    named = OutputSpec(
        tools=TOOLS, tool_choice="named", tool_name="search", max_tool_calls=MAX_PARALLEL_CALLS
    )
    assert {c.name for c in _parallel(named, 1, 1.0).choices[0].calls} == {"search"}
    forbidden = OutputSpec(tools=TOOLS, tool_choice="required")  # parallel left off
    assert all(len(_parallel(forbidden, s, 1.0).choices[0].calls) == 1 for s in range(20))


def test_parallel_calls_stay_within_the_cap() -> None:
    spec = OutputSpec(tools=TOOLS, tool_choice="required", max_tool_calls=MAX_PARALLEL_CALLS)
    for seed in range(30):
        first = _parallel(spec, seed, 1.0, cap=1000).choices[0].calls[0]
        cap = len(first.arguments) + 3  # room for the first call, not for a second
        answer = _parallel(spec, seed, 1.0, cap=cap).choices[0]
        assert answer.tokens <= cap
        assert answer.finish_reason == TOOL_USE
