"""The openai SDK's Responses API against the served mock: function calls (forced, auto,
parallel, streamed), structured text (``text.format``, ``responses.parse``) and stored
responses (retrieve, input_items, delete, ``store: false``)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from mock_provider.model.tokens import count_text
from tests.test_mock_sdk import fast_cfg

MODEL = "gpt-4o-mini"
WEATHER_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
    },
    "required": ["city", "unit"],
}
WEATHER: Any = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMS,
                "strict": False}  # fmt: skip
TIME: Any = {
    "type": "function",
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
                   "required": ["zone"], "additionalProperties": False},
    "strict": True,
}  # fmt: skip
CALL_ID = re.compile(r"^call_[A-Za-z0-9]{24}$")


def _client(m) -> openai.OpenAI:
    return openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)


def _calls(response) -> list[Any]:
    return [item for item in response.output if item.type == "function_call"]


def _check_call(item, tools: list[Any]) -> None:
    """A function_call item as the API sends it, its arguments valid for its tool."""
    tool = next(t for t in tools if t["name"] == item.name)
    assert item.id.startswith("fc_")
    assert CALL_ID.match(item.call_id)
    assert item.status == "completed"
    jsonschema.validate(json.loads(item.arguments), tool["parameters"])


@pytest.mark.parametrize("choice", ["required", {"type": "function", "name": "get_time"}])
def test_a_forced_tool_choice_always_calls_a_tool(mock_server, choice):
    m = mock_server(fast_cfg(tool_call_probability=0.0))  # auto would never call
    client = _client(m)
    for _ in range(5):
        response = client.responses.create(
            model=MODEL, input="Weather?", tools=[WEATHER, TIME], tool_choice=choice
        )
        calls = _calls(response)
        assert calls and len(calls) == len(response.output)  # no text beside the calls
        for call in calls:
            _check_call(call, [WEATHER, TIME])
            if isinstance(choice, dict):
                assert call.name == "get_time"
        assert response.status == "completed"
        assert response.usage is not None
        assert response.usage.output_tokens == sum(count_text(c.arguments) for c in calls)


def test_auto_calls_with_the_configured_probability_and_none_never(mock_server):
    never, always = (
        mock_server(fast_cfg(tool_call_probability=0.0)),
        mock_server(fast_cfg(tool_call_probability=1.0)),
    )
    for _ in range(4):
        text = _client(never).responses.create(model=MODEL, input="x", tools=[WEATHER])
        assert not _calls(text) and text.output_text
        called = _client(always).responses.create(model=MODEL, input="x", tools=[WEATHER])
        assert _calls(called)
        refused = _client(always).responses.create(
            model=MODEL, input="x", tools=[WEATHER], tool_choice="none"
        )
        assert not _calls(refused) and refused.output_text


def test_auto_at_one_half_gives_both_calls_and_text(mock_server):
    m = mock_server(fast_cfg(tool_call_probability=0.5))
    kinds = {
        bool(_calls(_client(m).responses.create(model=MODEL, input="x", tools=[WEATHER])))
        for _ in range(30)
    }
    assert kinds == {True, False}


def test_parallel_calls_unless_parallel_tool_calls_is_false(mock_server):
    m = mock_server(fast_cfg(parallel_tool_call_probability=1.0))
    client = _client(m)
    many = client.responses.create(
        model=MODEL, input="x", tools=[WEATHER, TIME], tool_choice="required"
    )
    calls = _calls(many)
    assert len(calls) > 1
    assert len({c.call_id for c in calls}) == len(calls)  # each call its own id
    assert len({c.id for c in calls}) == len(calls)
    for call in calls:
        _check_call(call, [WEATHER, TIME])
    one = client.responses.create(
        model=MODEL, input="x", tools=[WEATHER, TIME], tool_choice="required",
        parallel_tool_calls=False,
    )  # fmt: skip
    assert len(_calls(one)) == 1
    assert one.parallel_tool_calls is False


def test_allowed_tools_narrows_the_tools_a_forced_choice_calls(mock_server):
    m = mock_server(fast_cfg(parallel_tool_call_probability=1.0))
    choice: Any = {"type": "allowed_tools", "mode": "required",
                   "tools": [{"type": "function", "name": "get_time"}]}  # fmt: skip
    for _ in range(3):
        response = _client(m).responses.create(
            model=MODEL, input="x", tools=[WEATHER, TIME], tool_choice=choice
        )
        assert {c.name for c in _calls(response)} == {"get_time"}


def test_strict_left_out_makes_every_property_required(mock_server):
    """The Responses API normalises a function schema into strict mode when ``strict`` is
    left out (OpenAI's function calling guide): every property is then present."""
    m = mock_server(fast_cfg())
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMS}
    for _ in range(5):
        response = _client(m).responses.create(
            model=MODEL, input="x", tools=[tool], tool_choice="required",
            parallel_tool_calls=False,
        )  # fmt: skip
        arguments = json.loads(_calls(response)[0].arguments)
        assert set(arguments) == {"city", "unit", "days"}


def test_streamed_calls_send_the_api_events_in_order(mock_server):
    m = mock_server(fast_cfg(parallel_tool_call_probability=1.0))
    with _client(m).responses.stream(
        model=MODEL, input="x", tools=[WEATHER, TIME], tool_choice="required"
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    calls = _calls(final)
    assert len(calls) > 1
    assert [e.sequence_number for e in events] == list(range(len(events)))
    expected = ["response.created", "response.in_progress"]
    for index, call in enumerate(calls):
        deltas = [
            e for e in events
            if e.type == "response.function_call_arguments.delta" and e.output_index == index
        ]  # fmt: skip
        assert "".join(d.delta for d in deltas) == call.arguments
        assert {d.item_id for d in deltas} == {call.id}
        expected += [
            "response.output_item.added",
            *["response.function_call_arguments.delta"] * len(deltas),
            "response.function_call_arguments.done",
            "response.output_item.done",
        ]
        added = next(
            e for e in events if e.type == "response.output_item.added" and e.output_index == index
        )
        assert added.item.type == "function_call"
        assert added.item.arguments == "" and added.item.status == "in_progress"
        assert added.item.call_id == call.call_id and added.item.name == call.name
        done = next(
            e for e in events
            if e.type == "response.function_call_arguments.done" and e.output_index == index
        )  # fmt: skip
        assert done.arguments == call.arguments and done.item_id == call.id
    assert [e.type for e in events] == [*expected, "response.completed"]
    assert final.status == "completed"
    assert final.usage is not None
    assert final.usage.output_tokens == sum(count_text(c.arguments) for c in calls)
    stored = _client(m).responses.retrieve(final.id)  # the stream's final snapshot, stored
    assert [(c.call_id, c.arguments) for c in _calls(stored)] == [
        (c.call_id, c.arguments) for c in calls
    ]


def test_the_same_seed_gives_the_same_calls(mock_server):
    """Calls are drawn from the provider's seed and the request's number: a fresh mock with
    the same seed answers the same requests with the same calls."""

    def run() -> list[Any]:
        m = mock_server(fast_cfg(seed=7))
        client = _client(m)
        return [
            [(c.name, c.call_id, c.arguments) for c in _calls(client.responses.create(
                model=MODEL, input="x", tools=[WEATHER, TIME], tool_choice="required"))]
            for _ in range(3)
        ]  # fmt: skip

    assert run() == run()


def test_create_stream_true_with_a_named_tool(mock_server):
    m = mock_server(fast_cfg())
    events = list(
        _client(m).responses.create(
            model=MODEL, input="x", tools=[WEATHER], stream=True,
            tool_choice={"type": "function", "name": "get_weather"},
        )
    )  # fmt: skip
    completed = events[-1]
    assert completed.type == "response.completed"
    calls = _calls(completed.response)
    assert calls and all(c.name == "get_weather" for c in calls)


def test_tool_results_continue_the_conversation(mock_server):
    """function_call_output items answering a previous response's calls are accepted, as
    they are when the calls are sent back in the input; an unanswered id is the API's 400."""
    m = mock_server(fast_cfg())
    client = _client(m)
    first = client.responses.create(model=MODEL, input="x", tools=[WEATHER],
                                    tool_choice="required")  # fmt: skip
    outputs: Any = [
        {"type": "function_call_output", "call_id": c.call_id, "output": "sunny"}
        for c in _calls(first)
    ]
    chained = client.responses.create(
        model=MODEL, input=outputs, previous_response_id=first.id, tools=[WEATHER],
        tool_choice="none",
    )  # fmt: skip
    assert chained.output_text
    sent_back: Any = [*[c.model_dump() for c in _calls(first)], *outputs]
    again = client.responses.create(model=MODEL, input=sent_back, tools=[WEATHER])
    assert again.status == "completed"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input=outputs)  # no calls, no previous response
    assert info.value.message.endswith(
        f"No tool call found for function call output with call_id {outputs[0]['call_id']}."
    )
    assert info.value.param == "input"


# -- structured text ------------------------------------------------------------------------


class Person(BaseModel):
    name: str
    age: int
    tags: list[str]
    nickname: str | None


def test_text_format_json_schema_answers_an_instance(mock_server):
    m = mock_server(fast_cfg())
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "integer", "minimum": 0}},
        "required": ["title", "score"],
        "additionalProperties": False,
    }
    text: Any = {"format": {"type": "json_schema", "name": "review", "schema": schema,
                            "strict": True}}  # fmt: skip
    response = _client(m).responses.create(model=MODEL, input="Review it.", text=text)
    jsonschema.validate(json.loads(response.output_text), schema)
    assert response.text.format.type == "json_schema"
    obj = _client(m).responses.create(
        model=MODEL, input="As JSON.", text={"format": {"type": "json_object"}}
    )
    assert isinstance(json.loads(obj.output_text), dict)


def test_responses_parse_gives_a_pydantic_instance(mock_server):
    m = mock_server(fast_cfg())
    parsed = _client(m).responses.parse(model=MODEL, input="Who?", text_format=Person)
    assert isinstance(parsed.output_parsed, Person)
    with _client(m).responses.stream(model=MODEL, input="Who?", text_format=Person) as stream:
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, Person)


# -- stored responses -----------------------------------------------------------------------


def test_retrieve_answers_the_response_as_created(mock_server):
    m = mock_server(fast_cfg())
    client = _client(m)
    created = client.responses.create(model=MODEL, input="x", tools=[WEATHER],
                                      tool_choice="required")  # fmt: skip
    assert client.responses.retrieve(created.id).model_dump() == created.model_dump()
    with client.responses.stream(model=MODEL, input="y") as stream:
        final = stream.get_final_response()
    got = client.responses.retrieve(final.id)
    assert got.output_text == final.output_text and got.usage == final.usage


def test_input_items_list_pages_newest_first(mock_server):
    m = mock_server(fast_cfg())
    client = _client(m)
    given: Any = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "one"}]},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    created = client.responses.create(model=MODEL, input=given)
    page = client.responses.input_items.list(created.id)
    assert [item.role for item in page.data] == ["user", "assistant", "user", "developer"]
    assert page.data[0].content[0].text == "three"  # a string listed as an input_text part
    assert page.has_more is False
    ids = [item.id for item in page.data]
    assert len(set(ids)) == 4 and all(i.startswith("msg_") for i in ids)
    assert [i.id for i in client.responses.input_items.list(created.id)] == ids  # stable
    # One at a time, oldest first: the SDK follows `after` through every page.
    asc = client.responses.input_items.list(created.id, limit=1, order="asc")
    assert len(asc.data) == 1 and asc.has_more is True
    assert [item.id for item in asc] == ids[::-1]
    raw = client.responses.input_items.with_raw_response.list(created.id, limit=2).parse()
    assert raw.data and raw.has_more is True
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.input_items.list(created.id, limit=101)
    assert info.value.param == "limit"


def test_delete_and_store_false_leave_nothing_to_retrieve(mock_server):
    m = mock_server(fast_cfg())
    client = _client(m)
    created = client.responses.create(model=MODEL, input="x")
    raw = client.responses.with_raw_response.delete(created.id)
    assert raw.status_code == 200
    assert raw.http_response.json() == {"id": created.id, "object": "response", "deleted": True}
    unstored = client.responses.create(model=MODEL, input="x", store=False)
    assert unstored.store is False
    for gone in (created.id, unstored.id):
        with pytest.raises(openai.NotFoundError) as info:
            client.responses.retrieve(gone)
        assert info.value.body == {
            "message": f"Response with id '{gone}' not found.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        with pytest.raises(openai.NotFoundError):
            client.responses.input_items.list(gone)
        with pytest.raises(openai.BadRequestError) as chained:
            client.responses.create(model=MODEL, input="y", previous_response_id=gone)
        assert chained.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)  # already deleted
