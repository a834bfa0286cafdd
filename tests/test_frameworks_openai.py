"""Unmodified LLM frameworks against the served mock, on OpenAI models: langchain-openai
(chat completions and ``use_responses_api``), LiteLLM, instructor, pydantic-ai (chat and
Responses models) and the openai-agents SDK (its default Responses model).

Each test is a cell of the README's "Frameworks against the mock" table: the framework's own
tool loop, forced tool choice, streaming and structured output, run as an application runs
them, with nothing reaching the network (LiteLLM reads its bundled cost map; the agents SDK's
tracing is off). The mock answers from a fixed seed, so every run is the same run.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from mock_provider.server import APP_STATE
from tests.test_mock_sdk import fast_cfg

MODEL = "gpt-4o-mini"
QUESTION = "What is the weather in Paris?"


class Person(BaseModel):
    name: str
    age: int
    tags: list[str]


def get_weather(city: str, days: int) -> str:
    """Get the weather forecast for a city."""
    return f"sunny in {city} for {days} days"


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
CHAT_WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA},
}


@pytest.fixture
def mock(mock_server) -> Any:
    return mock_server(fast_cfg(output_tokens={"median": 12, "spread": 0.3}))


@pytest.fixture
def base_url(mock) -> str:
    return mock.base_url


def _served(mock: Any) -> set[str]:
    """The API paths the mock answered with a 200: which API a framework used."""
    return {path for path, _, status in mock.app[APP_STATE].counts if status == 200}


def _route(responses: bool) -> str:
    return "/v1/responses" if responses else "/v1/chat/completions"


def _valid_weather(arguments: Any) -> None:
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    jsonschema.validate(args, WEATHER_SCHEMA)


# -- langchain-openai -------------------------------------------------------------------------


def _chat_openai(base_url: str, responses: bool) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=MODEL, base_url=base_url, api_key="sk-test", max_retries=0,
        use_responses_api=responses,
    )  # fmt: skip


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_langchain_plain_and_stream(base_url, responses):
    llm = _chat_openai(base_url, responses)
    assert llm.invoke(QUESTION).text
    chunks = list(llm.stream(QUESTION))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks)


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_langchain_bind_tools_forced_and_streamed(mock, responses):
    llm = _chat_openai(mock.base_url, responses)
    forced = llm.bind_tools([get_weather], tool_choice="any")  # "required" on the wire
    message = forced.invoke(QUESTION)
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"
    for call in message.tool_calls:
        _valid_weather(call["args"])
        assert call["id"].startswith("call_")
    named = llm.bind_tools([get_weather], tool_choice="get_weather")
    total = None
    for chunk in named.stream(QUESTION):
        total = chunk if total is None else total + chunk
    assert total is not None and total.tool_calls
    assert {c["name"] for c in total.tool_calls} == {"get_weather"}
    for call in total.tool_calls:
        _valid_weather(call["args"])
    assert _served(mock) == {_route(responses)}


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_langchain_with_structured_output(base_url, responses):
    llm = _chat_openai(base_url, responses)
    person = llm.with_structured_output(Person).invoke("Describe someone.")
    assert isinstance(person, Person)


# -- LiteLLM ------------------------------------------------------------------------------------


def _litellm(base_url: str, **kwargs: Any) -> Any:
    import litellm

    return litellm.completion(
        model=f"openai/{MODEL}", api_base=base_url, api_key="sk-test", max_retries=0,
        messages=[{"role": "user", "content": QUESTION}], **kwargs,
    )  # fmt: skip


def test_litellm_plain_and_stream(base_url):
    import litellm

    assert _litellm(base_url).choices[0].message.content
    chunks = list(_litellm(base_url, stream=True))
    built = litellm.stream_chunk_builder(chunks)
    assert built is not None and built.choices[0].message.content


def test_litellm_tools_forced_and_streamed(base_url):
    import litellm

    response = _litellm(base_url, tools=[CHAT_WEATHER], tool_choice="required")
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    _valid_weather(choice.message.tool_calls[0].function.arguments)
    named = {"type": "function", "function": {"name": "get_weather"}}
    chunks = list(_litellm(base_url, tools=[CHAT_WEATHER], tool_choice=named, stream=True))
    built = litellm.stream_chunk_builder(chunks)
    assert built is not None
    calls = built.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    _valid_weather(calls[0].function.arguments)


def test_litellm_structured_output(base_url):
    response = _litellm(base_url, response_format=Person)
    assert Person.model_validate_json(response.choices[0].message.content)


# -- instructor (its metadata pins jiter<0.15, which openai>=3.4 cannot install beside) ---------


def _instructor(base_url: str, mode: str) -> Any:
    """instructor's client over the mock; the test skips where instructor is not installed
    (it is not in the dev extra: see the README's Frameworks against the mock)."""
    instructor = pytest.importorskip("instructor", reason="not installable beside openai>=3.4")
    return instructor.from_openai(
        openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0),
        mode=instructor.Mode[mode],
    )


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA", "RESPONSES_TOOLS"])
def test_instructor_modes_give_a_pydantic_instance(base_url, mode):
    client = _instructor(base_url, mode)
    person = client.chat.completions.create(
        model=MODEL, response_model=Person, max_retries=1,
        messages=[{"role": "user", "content": "Describe someone."}],
    )  # fmt: skip
    assert isinstance(person, Person)


# -- pydantic-ai --------------------------------------------------------------------------------


def _pydantic_ai_model(base_url: str, responses: bool) -> Any:
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    provider = OpenAIProvider(openai_client=client)
    kind = OpenAIResponsesModel if responses else OpenAIChatModel
    return kind(MODEL, provider=provider)


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_pydantic_ai_tools_and_output_type(mock, responses):
    from pydantic_ai import Agent

    ran: list[tuple[str, int]] = []

    def weather(city: str, days: int) -> str:
        """Get the weather forecast for a city."""
        ran.append((city, days))
        return "sunny"

    agent = Agent(_pydantic_ai_model(mock.base_url, responses), output_type=Person, tools=[weather])
    outputs = [agent.run_sync("Who lives in Paris?").output for _ in range(4)]
    assert all(isinstance(p, Person) for p in outputs)
    assert ran  # the model called the tool (with arguments of the right types) on some run
    assert all(isinstance(c, str) and isinstance(d, int) for c, d in ran)
    assert _served(mock) == {_route(responses)}


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_pydantic_ai_plain_and_stream(base_url, responses):
    from pydantic_ai import Agent

    agent = Agent(_pydantic_ai_model(base_url, responses))

    async def both() -> tuple[str, list[str]]:  # one event loop: the client is bound to it
        plain = (await agent.run(QUESTION)).output
        async with agent.run_stream(QUESTION) as result:
            return plain, [text async for text in result.stream_text(delta=True, debounce_by=None)]

    plain, pieces = asyncio.run(both())
    assert plain
    assert len(pieces) > 1 and "".join(pieces)


# -- openai-agents ------------------------------------------------------------------------------


@pytest.fixture
def agents_client(base_url) -> Iterator[Any]:
    """The agents SDK pointed at the mock through its default client, tracing off (no
    network call); its globals put back after the test."""
    import agents
    from agents.models import _openai_shared as shared

    before = shared.get_default_openai_client()
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_tracing_disabled(True)
    yield client
    shared.set_default_openai_client(before)  # type: ignore[arg-type]


def _agent(tool_choice: str | None = None) -> tuple[Any, list[str]]:
    from agents import Agent, ModelSettings, function_tool

    ran: list[str] = []

    @function_tool
    def weather(city: str) -> str:
        """Get the weather for a city."""
        ran.append(city)
        return "sunny"

    agent = Agent(
        name="forecaster", instructions="Answer about people.", model=MODEL,
        tools=[weather], output_type=Person,
        model_settings=ModelSettings(tool_choice=tool_choice),
    )  # fmt: skip
    return agent, ran


def test_openai_agents_function_tool_and_output_type(agents_client, mock):
    from agents import Runner

    agent, ran = _agent()

    async def runs() -> list[Any]:  # one event loop: the client is bound to it
        return [await Runner.run(agent, "Who lives in Paris?") for _ in range(3)]

    results = asyncio.run(runs())
    assert all(isinstance(r.final_output, Person) for r in results)
    assert ran  # the tool ran on some turn of some run
    assert _served(mock) == {"/v1/responses"}  # the SDK's default model: the Responses API


def test_openai_agents_forced_tool_then_output(agents_client):
    from agents import Runner

    agent, ran = _agent(tool_choice="required")  # reset to auto after the call, by default
    result = asyncio.run(Runner.run(agent, "Who lives in Paris?"))
    assert ran and isinstance(result.final_output, Person)


def test_openai_agents_streamed_run(agents_client):
    from agents import Runner

    agent, ran = _agent(tool_choice="required")

    async def run() -> tuple[Any, list[str]]:
        result = Runner.run_streamed(agent, "Who lives in Paris?")
        kinds = [event.type async for event in result.stream_events()]
        return result, kinds

    result, kinds = asyncio.run(run())
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert ran and isinstance(result.final_output, Person)


def test_openai_agents_plain_text_answer(agents_client):
    from agents import Agent, Runner

    agent = Agent(name="plain", instructions="Be brief.", model=MODEL)
    result = asyncio.run(Runner.run(agent, QUESTION))
    assert isinstance(result.final_output, str) and result.final_output


@pytest.mark.parametrize("mode", ["TOOLS", "RESPONSES_TOOLS"])
def test_instructor_streams_partial_objects(base_url, mode):
    client = _instructor(base_url, mode)
    partials = list(
        client.chat.completions.create_partial(
            model=MODEL, response_model=Person, max_retries=1,
            messages=[{"role": "user", "content": "Describe someone."}],
        )
    )  # fmt: skip
    assert len(partials) > 1
    last = partials[-1]
    assert Person.model_validate(last.model_dump())  # the last partial is whole
