"""Unmodified agent frameworks against the served mock, speaking Anthropic's Messages API.

Each framework is installed as released and pointed at the mock's base URL: the anthropic
SDK, langchain-anthropic, LiteLLM (``anthropic/<model>``), instructor
(``instructor.from_anthropic``) and pydantic-ai (``AnthropicModel``). Nothing reaches the
network: LiteLLM reads its bundled cost map (``LITELLM_LOCAL_MODEL_COST_MAP``). The README's
"Frameworks against the mock" table names the test behind each cell.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported
os.environ.setdefault("LITELLM_LOG", "ERROR")

import anthropic
import jsonschema
import litellm
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider

from mock_provider.config import ProviderConfig
from mock_provider.model.tokens import count_text
from tests.test_anthropic_sdk import INSTANT, MODEL

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string",
                                                        "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}  # fmt: skip
TOOLS: list[Any] = [
    {"name": "get_weather", "description": "The weather in a city.",
     "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "description": "The time in a city.", "strict": True,
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                      "required": ["city"], "additionalProperties": False}},
]  # fmt: skip


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(description="The city's name")
    degrees: int = Field(ge=-50, le=60)
    sunny: bool


def cfg(probability: float = 0.5) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"models": {MODEL: {"latency": INSTANT.model_dump()}},
         "output_tokens": {"median": 12, "spread": 0}, "tool_call_probability": probability}
    )  # fmt: skip


def base(m: Any) -> str:
    return str(m.base_url.removesuffix("/v1"))


def sdk(m: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base(m), api_key="sk-ant-test", max_retries=0)


# -- the anthropic SDK --------------------------------------------------------------------


def test_sdk_tools_auto_calls_a_tool(mock_server):
    msg = sdk(mock_server(cfg(probability=1.0))).messages.create(
        model=MODEL, max_tokens=300, messages=ASK, tools=TOOLS
    )
    assert msg.stop_reason == "tool_use"
    calls = [b for b in msg.content if b.type == "tool_use"]
    assert calls and all(b.id.startswith("toolu_01") for b in calls)
    for call in calls:
        schema = next(t["input_schema"] for t in TOOLS if t["name"] == call.name)
        jsonschema.validate(call.input, schema)


def test_sdk_forced_tool_then_its_result_continues_the_conversation(mock_server):
    c = sdk(mock_server(cfg()))
    msg = c.messages.create(model=MODEL, max_tokens=300, messages=ASK, tools=TOOLS,
                            tool_choice={"type": "tool", "name": "get_weather"})  # fmt: skip
    assert msg.stop_reason == "tool_use" and [b.type for b in msg.content] == ["tool_use"]
    call = msg.content[0]
    assert call.type == "tool_use" and call.name == "get_weather"
    jsonschema.validate(call.input, WEATHER_SCHEMA)
    assert msg.usage.output_tokens == count_text(json.dumps(call.input, separators=(",", ":")))
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "18C, sunny"}
    answer = c.messages.create(
        model=MODEL, max_tokens=300, tools=TOOLS,
        messages=[*ASK, msg.to_param(), {"role": "user", "content": [result]}],
    )  # fmt: skip
    assert answer.stop_reason in ("end_turn", "tool_use")
    # The same turn without the result is refused, as the API refuses it.
    with pytest.raises(anthropic.BadRequestError) as info:
        unanswered = [*ASK, msg.to_param(), {"role": "user", "content": "so?"}]
        c.messages.create(model=MODEL, max_tokens=300, tools=TOOLS, messages=unanswered)
    assert "`tool_use` ids were found without `tool_result` blocks" in info.value.message


def test_sdk_messages_stream_accumulates_a_forced_tool_call(mock_server):
    c = sdk(mock_server(cfg()))
    kinds = []
    with c.messages.stream(model=MODEL, max_tokens=300, messages=ASK, tools=TOOLS,
                           tool_choice={"type": "any"}) as stream:  # fmt: skip
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_message()
    assert "input_json" in kinds  # the SDK's own event per input_json_delta
    assert final.stop_reason == "tool_use"
    calls = [b for b in final.content if b.type == "tool_use"]
    assert calls and all(isinstance(b.input, dict) and b.input for b in calls)
    for call in calls:
        schema = next(t["input_schema"] for t in TOOLS if t["name"] == call.name)
        jsonschema.validate(call.input, schema)
    # The accumulated message is the one the same request gets unstreamed.
    again = sdk(mock_server(cfg())).messages.create(
        model=MODEL, max_tokens=300, messages=ASK, tools=TOOLS, tool_choice={"type": "any"}
    )
    assert again.content == final.content and again.usage.output_tokens == final.usage.output_tokens


def test_sdk_parse_gives_the_pydantic_object(mock_server):
    c = sdk(mock_server(cfg()))
    parsed = c.messages.parse(model=MODEL, max_tokens=300, messages=ASK, output_format=Weather)
    assert isinstance(parsed.parsed_output, Weather)
    assert -50 <= parsed.parsed_output.degrees <= 60


# -- langchain-anthropic ------------------------------------------------------------------


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather in a city."""
    return f"18 {unit} in {city}"


def chat(m: Any) -> ChatAnthropic:
    return ChatAnthropic(model_name=MODEL, base_url=base(m), api_key="sk-ant-test",  # type: ignore[arg-type]
                         max_retries=0, max_tokens=300, timeout=10, stop=None)  # fmt: skip


def test_langchain_plain_and_stream(mock_server):
    llm = chat(mock_server(cfg()))
    reply = llm.invoke("Say something.")
    assert count_text(reply.text) == 12
    assert reply.response_metadata["stop_reason"] == "end_turn"
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == 12
    chunks = list(llm.stream("Say something."))
    assert count_text("".join(c.text for c in chunks)) == 12


def test_langchain_bind_tools_auto_calls_the_tool(mock_server):
    reply = (
        chat(mock_server(cfg(probability=1.0)))
        .bind_tools([get_weather])
        .invoke("Weather in Paris?")
    )
    assert reply.tool_calls and {c["name"] for c in reply.tool_calls} == {"get_weather"}
    assert all(isinstance(c["args"].get("city"), str) for c in reply.tool_calls)
    assert reply.response_metadata["stop_reason"] == "tool_use"


def test_langchain_bind_tools_forced_streams_the_call(mock_server):
    llm = chat(mock_server(cfg(probability=0.0))).bind_tools(
        [get_weather], tool_choice="get_weather"
    )
    reply = llm.invoke("Weather?")
    assert [c["name"] for c in reply.tool_calls] == ["get_weather"]
    assert isinstance(reply.tool_calls[0]["args"]["city"], str)
    total: Any = None
    for chunk in llm.stream("Weather?"):
        assert isinstance(chunk, AIMessageChunk)
        total = chunk if total is None else total + chunk
    assert [c["name"] for c in total.tool_calls] == ["get_weather"]
    assert isinstance(total.tool_calls[0]["args"]["city"], str)


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_langchain_with_structured_output_returns_the_pydantic_object(mock_server, method):
    m = mock_server(cfg())
    structured = chat(m).with_structured_output(Weather, method=method)
    for _ in range(5):
        out = structured.invoke("Weather in Paris?")
        assert isinstance(out, Weather)  # not None, as it was while Claude never called tools


# -- LiteLLM ------------------------------------------------------------------------------

OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather",
                                                  "description": "The weather in a city.",
                                                  "parameters": WEATHER_SCHEMA}}]  # fmt: skip


def _litellm(m: Any, **kwargs: Any) -> Any:
    return litellm.completion(model=f"anthropic/{MODEL}", api_base=base(m), api_key="sk-ant",
                              messages=ASK, max_tokens=300, **kwargs)  # fmt: skip


def test_litellm_tools_auto_and_forced(mock_server):
    m = mock_server(cfg(probability=1.0))
    r = _litellm(m, tools=OPENAI_TOOLS)
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert calls and all(c.id.startswith("toolu_01") for c in calls)
    jsonschema.validate(json.loads(calls[0].function.arguments), WEATHER_SCHEMA)
    r = _litellm(m, tools=OPENAI_TOOLS,
                 tool_choice={"type": "function", "function": {"name": "get_weather"}})  # fmt: skip
    assert [c.function.name for c in r.choices[0].message.tool_calls] == ["get_weather"]
    assert r.usage.completion_tokens == count_text(
        json.dumps(json.loads(r.choices[0].message.tool_calls[0].function.arguments),
                   separators=(",", ":"))
    )  # fmt: skip


def test_litellm_streams_a_forced_tool_call(mock_server):
    m = mock_server(cfg())
    stream = _litellm(m, tools=OPENAI_TOOLS, tool_choice="required", stream=True)
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or ():
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
            if call.function.name:
                names[call.index] = call.function.name
    assert names and set(names.values()) == {"get_weather"}
    for text in arguments.values():
        jsonschema.validate(json.loads(text), WEATHER_SCHEMA)


def test_litellm_response_format_gives_json_of_the_schema(mock_server):
    m = mock_server(cfg())
    r = _litellm(m, response_format=Weather)
    out = Weather.model_validate_json(r.choices[0].message.content)
    assert -50 <= out.degrees <= 60


# -- instructor ---------------------------------------------------------------------------

INSTRUCTOR = "instructor is installed with --no-deps (see .ci/run), not by the dev extra"


def test_instructor_tools_mode_returns_a_validated_model(mock_server):
    instructor = pytest.importorskip("instructor", reason=INSTRUCTOR)
    m = mock_server(cfg())
    client = instructor.from_anthropic(sdk(m), mode=instructor.Mode.TOOLS)
    for _ in range(5):
        out = client.messages.create(model=MODEL, max_tokens=300, messages=ASK,
                                     response_model=Weather, max_retries=0)  # fmt: skip
        assert isinstance(out, Weather) and -50 <= out.degrees <= 60


def test_instructor_streams_a_partial_model(mock_server):
    instructor = pytest.importorskip("instructor", reason=INSTRUCTOR)
    m = mock_server(cfg())
    client = instructor.from_anthropic(sdk(m), mode=instructor.Mode.TOOLS)
    partials = list(client.messages.create_partial(
        model=MODEL, max_tokens=300, messages=ASK, response_model=Weather, max_retries=0,
    ))  # fmt: skip
    assert len(partials) > 1
    final = Weather.model_validate(partials[-1].model_dump())
    assert isinstance(final, Weather)


# -- pydantic-ai --------------------------------------------------------------------------


def agent_model(m: Any) -> AnthropicModel:
    return AnthropicModel(MODEL, provider=AnthropicProvider(base_url=base(m), api_key="sk-ant"))


def test_pydantic_ai_plain_and_stream(mock_server):
    agent = Agent(agent_model(mock_server(cfg())))
    result = agent.run_sync("Say something.")
    assert count_text(result.output) == 12
    assert result.usage.output_tokens == 12

    async def streamed() -> str:
        async with agent.run_stream("Say something.") as run:
            return "".join([piece async for piece in run.stream_text(delta=True)])

    assert count_text(asyncio.run(streamed())) == 12


def test_pydantic_ai_tools_and_output_type(mock_server):
    agent = Agent(agent_model(mock_server(cfg())), output_type=Weather)
    looked_up: list[str] = []

    @agent.tool_plain
    def lookup(city: str) -> str:
        """Look the weather up in a city."""
        looked_up.append(city)
        return "18C, sunny"

    for _ in range(6):  # tool_choice any: each step calls lookup or the output tool
        result = agent.run_sync("Weather in Paris?")
        assert isinstance(result.output, Weather)
    assert looked_up  # the function tool ran, its result went back, the run still ended
    parts = [p for msg in result.all_messages() for p in msg.parts]
    assert any(isinstance(p, ToolCallPart) for p in parts)

    async def streamed() -> Weather:
        async with agent.run_stream("Weather in Paris?") as run:
            return await run.get_output()

    assert isinstance(asyncio.run(streamed()), Weather)
