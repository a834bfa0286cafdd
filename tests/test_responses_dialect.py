"""The Responses dialect's parts on their own: the fast stream path, input items, the store."""

from __future__ import annotations

import json
import typing
import urllib.request

import msgspec
import openai
from openai.types.responses import response_input_item_param

from mock_provider.dialects.openai.responses import ResponsesDialect, ResponseStore
from mock_provider.dialects.openai.responses.parsing import ITEM_TYPES
from mock_provider.dialects.openai.responses.sse import DELTA, ResponsesStream, event
from mock_provider.model.provider import ChatRequest, Completion, Provider
from tests.test_mock_responses import QUESTION
from tests.test_mock_sdk import fast_cfg


def _completion(dialect: ResponsesDialect, body: dict[str, typing.Any]) -> Completion:
    call = dialect.parse_chat(json.dumps(body).encode())
    decision = Provider(fast_cfg()).chat(
        ChatRequest("sk-test", call.model, call.input_tokens, call.max_tokens, call.stream,
                    call.messages, dialect.cache_prefixes),
        0.0,
    )  # fmt: skip
    assert isinstance(decision, Completion)
    return decision


def test_delta_fast_path_matches_the_reference_event():
    dialect = ResponsesDialect()
    body = {"model": "gpt-4o-mini", "input": QUESTION, "stream": True}
    call = dialect.parse_chat(json.dumps(body).encode())
    writer = dialect.stream(_completion(dialect, body), call, 1_700_000_000)
    assert isinstance(writer, ResponsesStream)
    opening = writer.opening()
    assert opening.count(b"\nevent: ") == 3  # four events, each "event: ..." then "data: ..."
    for piece in [" fox", ' "quoted"', " é", "\n", "\\", ""]:
        seq = writer.seq
        fields = {"item_id": writer.message_id, "output_index": 0, "content_index": 0,
                  "delta": piece, "logprobs": []}  # fmt: skip
        assert writer.token(piece) == event(DELTA, seq, fields)
        assert writer.seq == seq + 1


def test_item_types_are_the_installed_sdks():
    """When a new openai SDK adds or drops an input item type, this says so."""

    def literals(annotation: typing.Any) -> set[str]:
        if typing.get_origin(annotation) is typing.Literal:
            return set(typing.get_args(annotation))
        return set().union(*(literals(a) for a in typing.get_args(annotation)))

    sdk: set[str] = set()
    for item in typing.get_args(response_input_item_param.ResponseInputItemParam):
        hints = typing.get_type_hints(item, include_extras=True)
        sdk |= literals(hints["type"])
    assert sdk == ITEM_TYPES


def test_images_are_unbilled_but_part_of_the_cache_key():
    dialect = ResponsesDialect()

    def call(url: str):
        content = [{"type": "input_text", "text": "What is this?"},
                   {"type": "input_image", "image_url": url}]  # fmt: skip
        body = {"model": "gpt-4o-mini", "input": [{"role": "user", "content": content}]}
        return dialect.parse_chat(json.dumps(body).encode())

    cat, dog = call("https://example.invalid/cat.png"), call("https://example.invalid/dog.png")
    text_only = dialect.parse_chat(
        json.dumps({"model": "gpt-4o-mini", "input": "What is this?"}).encode()
    )
    assert cat.input_tokens == dog.input_tokens == text_only.input_tokens
    assert dialect.cache_prefixes(cat.messages) != dialect.cache_prefixes(dog.messages)


def test_function_call_items_are_billed_as_their_text():
    dialect = ResponsesDialect()
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"q":"Paris"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny, 21 C"},
    ]
    call = dialect.parse_chat(json.dumps({"model": "gpt-4o-mini", "input": items}).encode())
    from mock_provider.dialects.openai.tokens import count_chat_tokens

    as_chat = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": 'weather{"q":"Paris"}'},
        {"role": "tool", "content": "sunny, 21 C"},
    ]
    assert call.input_tokens == count_chat_tokens(as_chat)


def test_store_keeps_the_last_responses_only():
    store = ResponseStore(capacity=3)
    for i in range(5):
        store.remember(f"resp_{i}", ({"role": "user", "content": str(i)},))
    assert len(store) == 3
    assert store.conversation("resp_0") is None and store.conversation("resp_1") is None
    assert store.conversation("resp_4") == ({"role": "user", "content": "4"},)


def test_ids_are_never_reused_across_resets(mock_server):
    """After a reset request ids restart; response ids do not, and the store still answers."""
    m = mock_server(fast_cfg())
    client = openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)
    before = client.responses.create(model="gpt-4o-mini", input=QUESTION)
    reset = urllib.request.Request(f"http://127.0.0.1:{m.port}/_stampede/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    after = client.responses.create(model="gpt-4o-mini", input=QUESTION)
    assert before.id != after.id
    continued = client.responses.create(
        model="gpt-4o-mini", input="more", previous_response_id=before.id
    )
    assert continued.previous_response_id == before.id


def test_rendered_body_is_the_sdks_response_type():
    """The plain body validates as the SDK's own pydantic model, not just its lenient parse."""
    dialect = ResponsesDialect()
    body = {"model": "gpt-4o-mini", "input": QUESTION, "metadata": {"k": "v"}}
    call = dialect.parse_chat(json.dumps(body).encode())
    raw = dialect.completion(_completion(dialect, body), call, 1_700_000_000)
    response = openai.types.responses.Response.model_validate(msgspec.json.decode(raw))
    assert response.metadata == {"k": "v"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "text"


def test_every_stream_event_is_the_sdks_event_type():
    """Each event validates as the SDK's own ResponseStreamEvent, and its ``event:`` line names
    its type; a cut answer ends in ``response.incomplete``."""
    from pydantic import TypeAdapter

    adapter: TypeAdapter[typing.Any] = TypeAdapter(openai.types.responses.ResponseStreamEvent)
    dialect = ResponsesDialect()
    body = {"model": "gpt-4o-mini", "input": QUESTION, "stream": True, "max_output_tokens": 16}
    call = dialect.parse_chat(json.dumps(body).encode())
    c = _completion(dialect, body)
    writer = dialect.stream(c, call, 1_700_000_000)
    raw = writer.opening() + b"".join(map(writer.token, c.pieces)) + writer.closing(len(c.pieces))
    chunks = raw.decode().split("\n\n")
    assert chunks[-1] == ""  # every event ends with a blank line
    types = []
    for chunk in chunks[:-1]:
        event_line, data_line = chunk.split("\n")
        parsed = adapter.validate_python(json.loads(data_line.removeprefix("data: ")))
        assert event_line == f"event: {parsed.type}"
        types.append(parsed.type)
    assert c.output_tokens == 16  # the default answer is longer: cut at max_output_tokens
    assert types[-1] == "response.incomplete"
    assert len(types) == 8 + len(c.pieces)
