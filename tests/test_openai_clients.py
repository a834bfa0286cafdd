"""The openai SDK and langchain-openai against the served mock: structured output, tools,
several choices, log probabilities, embeddings from tokens, models, the headers of a
response; each parsed by the client's own types and helpers, as an application would."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import jsonschema
import openai
import pytest
import tiktoken
from pydantic import BaseModel

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.tokens import ENCODING_NAME, count_text

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODEL = "gpt-4o-mini"
EMBED = "text-embedding-3-small"
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me about a person."}]
WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
    },
    "required": ["city", "unit"],
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}}


class Address(BaseModel):
    street: str
    zip_code: str


class Person(BaseModel):
    name: str
    age: int
    role: Literal["admin", "user", "guest"]
    tags: list[str]
    address: Address  # a nested model: a $ref into $defs in the SDK's schema
    nickname: str | None  # anyOf with null


@pytest.fixture
def client(mock_server) -> openai.OpenAI:
    cfg = ProviderConfig(
        models={MODEL: ModelConfig(latency=INSTANT), EMBED: ModelConfig(latency=INSTANT)},
        output_tokens=DistConfig(median=40, spread=0.5),
        seed=5,
    )
    m = mock_server(cfg)
    return openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)


def test_parse_gives_an_instance_of_the_pydantic_model_billed_by_its_tokens(client) -> None:
    for _ in range(5):  # several seeded draws, each a valid instance
        completion = client.chat.completions.parse(
            model=MODEL, messages=MESSAGES, response_format=Person
        )
        message = completion.choices[0].message
        assert isinstance(message.parsed, Person)
        assert completion.choices[0].finish_reason == "stop"
        assert message.content is not None
        assert completion.usage is not None
        assert completion.usage.completion_tokens == count_text(message.content)


def test_a_streamed_parse_gives_the_same_kind_of_instance(client) -> None:
    with client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, response_format=Person,
        stream_options={"include_usage": True},
    ) as stream:  # fmt: skip
        deltas = [e.delta for e in stream if e.type == "content.delta" and e.delta]
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert isinstance(message.parsed, Person)
    assert len(deltas) > 1 and "".join(deltas) == message.content  # one token at a time
    assert final.usage is not None and final.usage.completion_tokens == len(deltas)


def test_json_mode_answers_valid_json(client) -> None:
    # JSON mode needs the word in the conversation, as the API does (params.py)
    asked = [{"role": "user", "content": "Say something, as JSON."}]
    completion = client.chat.completions.create(
        model=MODEL, messages=asked, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_tool_choice_required_always_calls_with_valid_arguments(client) -> None:
    for _ in range(5):
        completion = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=[WEATHER], tool_choice="required"
        )
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        calls = choice.message.tool_calls
        assert calls and all(c.type == "function" for c in calls)
        for call in calls:
            assert call.function.name == "get_weather"
            assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id)
            jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMS)
        assert completion.usage is not None
        assert completion.usage.completion_tokens >= sum(
            count_text(c.function.arguments) for c in calls
        )


def test_tool_none_never_calls(client) -> None:
    for _ in range(5):
        completion = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=[WEATHER], tool_choice="none"
        )
        assert not completion.choices[0].message.tool_calls
        assert completion.choices[0].message.content


def test_streamed_tool_calls_arrive_as_the_sdk_assembles_them(client) -> None:
    with client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, tools=[WEATHER], tool_choice="required"
    ) as stream:
        pieces = [e.arguments_delta for e in stream
                  if e.type == "tool_calls.function.arguments.delta"]  # fmt: skip
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls"
    assert calls and calls[0].function.name == "get_weather"
    assert len(pieces) > 1  # the arguments come in pieces
    assert "".join(pieces) == "".join(c.function.arguments for c in calls)
    for call in calls:
        jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMS)


def test_the_first_tool_call_delta_carries_id_type_and_name_then_arguments_only(client) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=[WEATHER], tool_choice="required", stream=True
        )
    )
    deltas = [tc for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or ())]
    first, rest = deltas[0], deltas[1:]
    assert first.id and first.type == "function" and first.function is not None
    assert first.function.name == "get_weather"
    for d in rest:
        assert d.function is not None and d.function.arguments is not None
        if d.id is None:  # a later piece of the same call: its index and arguments only
            assert d.type is None and d.function.name is None
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_pydantic_function_tool_parses_arguments(client) -> None:
    completion = client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, tools=[openai.pydantic_function_tool(Address)],
        tool_choice="required",
    )  # fmt: skip
    calls = completion.choices[0].message.tool_calls
    assert calls and isinstance(calls[0].function.parsed_arguments, Address)


def test_n_3_gives_three_choices_billed_together(client) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    texts = [c.message.content or "" for c in completion.choices]
    assert len(set(texts)) > 1  # three answers, not one thrice
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens == sum(count_text(t) for t in texts)
    one = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert one.usage is not None and usage.prompt_tokens == one.usage.prompt_tokens


def test_a_streamed_n_3_tags_each_chunk_with_its_choice(client) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, n=3, stream=True, stream_options={"include_usage": True}
    )
    texts: dict[int, str] = {}
    finished: set[int] = set()
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                finished.add(ch.index)
    assert sorted(texts) == [0, 1, 2] and finished == {0, 1, 2}
    assert usage is not None
    assert usage.completion_tokens == sum(count_text(t) for t in texts.values())


def test_logprobs_come_per_token_with_alternatives(client) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, logprobs=True, top_logprobs=3
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert "".join(e.token for e in entries) == choice.message.content
    assert completion.usage is not None and len(entries) == completion.usage.completion_tokens
    for e in entries:
        assert e.logprob <= 0 and e.bytes == list(e.token.encode())
        assert len(e.top_logprobs) == 3
        assert len({t.token for t in e.top_logprobs}) == 3
        assert e.logprob == max(t.logprob for t in e.top_logprobs)  # the chosen is the likeliest
    plain = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert plain.choices[0].logprobs is None


def test_streamed_logprobs_arrive_with_their_tokens(client) -> None:
    with client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, logprobs=True, top_logprobs=2
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    assert "".join(e.token for e in choice.logprobs.content) == choice.message.content
    assert all(len(e.top_logprobs) == 2 for e in choice.logprobs.content)


def test_embeddings_from_token_arrays_equal_those_of_their_text(client) -> None:
    enc = tiktoken.get_encoding(ENCODING_NAME)  # cl100k_base, from the installed copy
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    ids = [enc.encode(t) for t in texts]
    from_text = client.embeddings.create(model=EMBED, input=texts)
    from_ids = client.embeddings.create(model=EMBED, input=ids)
    assert [d.embedding for d in from_ids.data] == [d.embedding for d in from_text.data]
    assert from_ids.usage.prompt_tokens == sum(map(len, ids))
    one = client.embeddings.create(model=EMBED, input=ids[0], dimensions=256)  # one token list
    assert len(one.data) == 1 and len(one.data[0].embedding) == 256
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model=EMBED, input="x", dimensions=4096)
    assert info.value.code == "integer_above_max_value" and info.value.param == "dimensions"


def test_models_retrieve_and_the_404(client) -> None:
    model = client.models.retrieve(MODEL)
    assert (model.id, model.object) == (MODEL, "model")
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-9")
    assert info.value.code == "model_not_found"


def test_every_response_has_the_services_headers_and_id_shapes(client) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    completion = raw.parse()
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", completion.id)
    assert re.fullmatch(r"req_[0-9a-f]{32}", raw.headers["x-request-id"])
    assert raw.request_id == raw.headers["x-request-id"]
    assert raw.headers["openai-version"] == "2020-10-01"
    assert raw.headers["openai-organization"]
    assert int(raw.headers["openai-processing-ms"]) >= 0
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=9)
    headers = info.value.response.headers
    assert headers["openai-version"] == "2020-10-01" and headers["x-request-id"]
    second = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert second.id != completion.id


# -- langchain-openai -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_langchain_with_structured_output(mock_server, method: str) -> None:
    from langchain_openai import ChatOpenAI

    m = mock_server(
        ProviderConfig(models={MODEL: ModelConfig(latency=INSTANT)}, output_tokens=ZERO_SPREAD)
    )
    llm = ChatOpenAI(model=MODEL, base_url=m.base_url, api_key="sk-test", max_retries=0)
    if method == "json_mode":  # a JSON object, not held to the model: LangChain's dict
        out: Any = llm.with_structured_output(method=method).invoke("Give me JSON.")
        assert isinstance(out, dict)
        return
    structured = llm.with_structured_output(Person, method=method)
    for _ in range(3):
        assert isinstance(structured.invoke("Tell me about a person."), Person)


ZERO_SPREAD = DistConfig(median=30, spread=0)


def _offline_cl100k(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's cache holds cl100k_base (the installed offline copy, byte for byte), so
    LangChain's tiktoken.encoding_for_model finds it there instead of downloading it."""
    import tiktoken_ext

    data = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    shutil.copyfile(data, cache / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))


def test_langchain_default_embeddings_send_tokens_and_get_vectors(
    mock_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_openai import OpenAIEmbeddings

    _offline_cl100k(tmp_path, monkeypatch)
    m = mock_server(ProviderConfig(models={EMBED: ModelConfig(latency=INSTANT)}))
    seen: list[Any] = []

    def record(request: Any) -> None:
        if request.url.path.endswith("/embeddings"):
            seen.append(json.loads(request.read()))

    import httpx

    http = httpx.Client(event_hooks={"request": [record]})
    embeddings = OpenAIEmbeddings(
        model=EMBED,
        base_url=m.base_url,
        api_key="sk-test",
        http_client=http,  # type: ignore[arg-type]
    )
    docs = ["the quick brown fox", "jumps over the lazy dog", "the quick brown fox"]
    vectors = embeddings.embed_documents(docs)
    assert len(vectors) == 3 and all(len(v) == 1536 for v in vectors)
    assert vectors[0] == pytest.approx(vectors[2]) and vectors[0] != pytest.approx(vectors[1])
    assert seen and all(isinstance(x, list) for b in seen for x in b["input"])  # token arrays
    query = embeddings.embed_query("the quick brown fox")
    assert query == pytest.approx(vectors[0], abs=1e-6)
