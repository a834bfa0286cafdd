"""The official openai SDK's Responses API (``client.responses``) against the served mock."""

from __future__ import annotations

import openai
import pytest

from mock_provider.dialects.openai.tokens import count_chat_tokens
from mock_provider.model.tokens import count_text
from mock_provider.plan_header import PLAN_HEADER
from tests.test_mock_sdk import MESSAGES, fast_cfg

INSTRUCTIONS = "You are terse."
QUESTION = "Say something."
# The order of a streamed text answer's events (see dialects/openai/responses/sse.py).
OPENING = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
]
CLOSING = [
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


def _client(m) -> openai.OpenAI:
    return openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)


def _expected_order(tokens: int, final: str = "response.completed") -> list[str]:
    return [*OPENING, *["response.output_text.delta"] * tokens, *CLOSING, final]


def test_create_plain_has_output_text_usage_and_id(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 12, "spread": 0}))
    raw = _client(m).responses.with_raw_response.create(
        model="gpt-4o-mini", input=QUESTION, instructions=INSTRUCTIONS
    )
    response = raw.parse()
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.incomplete_details is None
    assert response.output_text and count_text(response.output_text) == 12
    usage = response.usage
    assert usage is not None
    # OpenAI's chat counting over the instructions (a system message) and the input.
    prompt = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}]
    assert usage.input_tokens == count_chat_tokens(prompt)
    assert usage.output_tokens == 12
    assert usage.total_tokens == usage.input_tokens + 12
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert response.instructions == INSTRUCTIONS
    for name in ("x-request-id", "x-ratelimit-limit-requests", "x-ratelimit-remaining-tokens"):
        assert raw.headers.get(name), name
    assert raw.headers[PLAN_HEADER] == "0"  # the mock's planned latency: none at all here


def test_input_items_are_billed_like_the_same_chat(mock_server):
    m = mock_server(fast_cfg())
    items = [
        {"role": "system", "content": MESSAGES[0]["content"]},
        {"role": "user", "content": [{"type": "input_text", "text": MESSAGES[1]["content"]}]},
    ]
    response = _client(m).responses.create(model="gpt-4o-mini", input=items)  # type: ignore[arg-type]
    assert response.usage is not None
    assert response.usage.input_tokens == count_chat_tokens(MESSAGES)


def test_max_output_tokens_reached_is_incomplete(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 500, "spread": 0}))
    client = _client(m)
    cut = client.responses.create(model="gpt-4o-mini", input=QUESTION, max_output_tokens=20)
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"
    assert cut.usage is not None and cut.usage.output_tokens == 20
    assert cut.output[0].status == "incomplete"  # type: ignore[union-attr]
    whole = client.responses.create(model="gpt-4o-mini", input=QUESTION, max_output_tokens=900)
    assert whole.status == "completed"
    assert whole.usage is not None and whole.usage.output_tokens == 500


def test_stream_events_arrive_in_order_and_match_the_final_response(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 9, "spread": 0}))
    with _client(m).responses.stream(model="gpt-4o-mini", input=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.type for e in events] == _expected_order(9)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert final.output_text == deltas
    assert count_text(deltas) == 9
    created = events[0]
    assert created.type == "response.created"
    assert created.response.status == "in_progress"
    assert created.response.id == final.id
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == deltas  # type: ignore[union-attr]
    assert final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens == 9
    assert final.usage.input_tokens == count_chat_tokens([{"role": "user", "content": QUESTION}])


def test_create_with_stream_true_accumulates_output_text(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 7, "spread": 0}))
    stream = _client(m).responses.create(model="gpt-4o-mini", input=QUESTION, stream=True)
    events = list(stream)
    assert [e.type for e in events] == _expected_order(7)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == text
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == 7
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert item_ids == {completed.response.output[0].id}  # type: ignore[union-attr]


def test_stream_cut_at_max_output_tokens_ends_incomplete(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 300, "spread": 0}))
    stream = _client(m).responses.create(
        model="gpt-4o-mini", input=QUESTION, stream=True, max_output_tokens=16
    )
    events = list(stream)
    assert [e.type for e in events] == _expected_order(16, "response.incomplete")
    final = events[-1].response  # type: ignore[union-attr]
    assert final.status == "incomplete"
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.usage.output_tokens == 16


def test_429_on_the_responses_path_shares_the_chat_limits(mock_server):
    """An RPM of 5 spent by three chat completions and two responses refuses the sixth."""
    m = mock_server(fast_cfg(default_rpm=5, time_scale=20.0))
    client = _client(m)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    for _ in range(2):
        client.responses.create(model="gpt-4o-mini", input=QUESTION, max_output_tokens=16)
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model="gpt-4o-mini", input=QUESTION, max_output_tokens=16)
    err = info.value
    assert err.code == "rate_limit_exceeded"
    assert err.type == "requests"
    assert "Limit 5, Used 5, Requested 1" in err.message
    h = err.response.headers
    assert h["x-ratelimit-limit-requests"] == "5"
    assert h["x-ratelimit-remaining-requests"] == "0"
    # a whole scenario second or more, in wall seconds at the fixture's time scale
    assert float(h["retry-after"]) > 0
    assert "retry-after-ms" not in h  # api.openai.com sends whole seconds only
    assert h.get("x-request-id")
    assert PLAN_HEADER in h  # a refusal states its planned round trip too
    # and a chat completion is refused by the same bucket
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)


def test_previous_response_id_continues_a_stored_response(mock_server):
    m = mock_server(fast_cfg(output_tokens={"median": 10, "spread": 0}))
    client = _client(m)
    first = client.responses.create(model="gpt-4o-mini", input=QUESTION, instructions="Be kind.")
    second = client.responses.create(
        model="gpt-4o-mini", input="And again?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    # The first turn and its answer are input now; its instructions are not carried over.
    conversation = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "And again?"},
    ]
    assert second.usage is not None
    assert second.usage.input_tokens == count_chat_tokens(conversation)
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model="gpt-4o-mini", input="x", previous_response_id="resp_nope")
    assert unknown.value.code == "previous_response_not_found"
    assert unknown.value.param == "previous_response_id"
    unstored = client.responses.create(model="gpt-4o-mini", input=QUESTION, store=False)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4o-mini", input="x", previous_response_id=unstored.id)


def test_a_repeated_long_prompt_reports_cached_tokens(mock_server):
    m = mock_server(fast_cfg())
    client = _client(m)
    instructions = "Follow the house style guide closely. " * 200  # well past 1024 tokens
    first = client.responses.create(model="gpt-4o-mini", input="a", instructions=instructions)
    again = client.responses.create(model="gpt-4o-mini", input="b", instructions=instructions)
    assert first.usage is not None and again.usage is not None
    assert first.usage.input_tokens_details.cached_tokens == 0
    cached = again.usage.input_tokens_details.cached_tokens
    assert 1024 <= cached <= again.usage.input_tokens
    assert cached % 128 == 0
