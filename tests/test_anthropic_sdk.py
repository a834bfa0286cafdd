"""The official anthropic SDK (and LiteLLM) against the real mock server over loopback."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from datetime import date
from typing import Any

import anthropic
import pytest

from mock_provider.config import DistConfig, LatencyConfig, ProviderConfig
from mock_provider.dialects.anthropic.tokens import count_request
from mock_provider.model.catalog import DEFAULT_CATALOG
from mock_provider.model.tokens import count_text
from mock_provider.server import APP_STATE

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MODEL = "claude-haiku-4-5"
MESSAGES: list[Any] = [{"role": "user", "content": "Say something."}]


def fast_cfg(model: dict[str, Any] | None = None, **kwargs: Any) -> ProviderConfig:
    models = {MODEL: {"latency": INSTANT.model_dump(), **(model or {})}}
    return ProviderConfig.model_validate(
        {"models": models, "output_tokens": {"median": 12, "spread": 0}, **kwargs}
    )


def client(m: Any, **kwargs: Any) -> anthropic.Anthropic:
    """The SDK pointed at the mock (its base URL has no /v1: the SDK adds it)."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("api_key", "sk-ant-test")
    return anthropic.Anthropic(base_url=m.base_url.removesuffix("/v1"), **kwargs)


def reset(m: Any) -> None:
    """Restart the mock's scenario clock (and limits) at 0, now."""
    req = urllib.request.Request(m.base_url.removesuffix("/v1") + "/_stampede/reset", data=b"")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def counts(m: Any, status: int) -> int:
    return sum(n for (path, _, s), n in m.app[APP_STATE].counts.items()
               if path == "/v1/messages" and s == status)  # fmt: skip


def test_plain_message_has_usage_headers_and_request_id(mock_server):
    m = mock_server(fast_cfg())
    raw = client(m).messages.with_raw_response.create(
        model=MODEL, max_tokens=50, system="You are terse.", messages=MESSAGES
    )
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant" and msg.model == MODEL
    assert msg.id.startswith("msg_")
    assert msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"]
    assert count_text(msg.content[0].text) == 12
    assert msg.usage.output_tokens == 12
    body = {"model": MODEL, "system": "You are terse.", "messages": MESSAGES}
    assert msg.usage.input_tokens == count_request(body)
    assert msg.usage.cache_read_input_tokens == 0 == msg.usage.cache_creation_input_tokens
    assert msg.usage.service_tier == "standard"
    assert msg._request_id == raw.headers["request-id"]
    for bucket in ("requests", "tokens", "input-tokens", "output-tokens"):
        for field in ("limit", "remaining", "reset"):
            assert raw.headers.get(f"anthropic-ratelimit-{bucket}-{field}"), (bucket, field)
    assert raw.headers["anthropic-ratelimit-requests-reset"].endswith("Z")


def test_max_tokens_cut_gives_stop_reason_max_tokens(mock_server):
    m = mock_server(fast_cfg())
    msg = client(m).messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 5


def test_messages_stream_accumulates_the_message(mock_server):
    m = mock_server(fast_cfg())
    events = []
    with client(m).messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        for event in stream:
            events.append(event.type)
        text = stream.get_final_text()
        final = stream.get_final_message()
        assert stream.request_id and stream.request_id.startswith("req_")
    assert count_text(text) == 12
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 12
    assert final.usage.input_tokens == count_request({"messages": MESSAGES})
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_start" in events and "content_block_stop" in events
    assert events.count("text") == 12  # the SDK's own event per text delta


def test_raw_stream_is_the_exact_event_sequence(mock_server):
    """message_start, content_block_start, ping, deltas, content_block_stop, message_delta,
    message_stop: each as ``event: <type>`` + ``data: {"type": <type>, ...}``."""
    m = mock_server(fast_cfg(output_tokens={"median": 3, "spread": 0}))
    body = {"model": MODEL, "max_tokens": 50, "messages": MESSAGES, "stream": True}
    req = urllib.request.Request(
        m.base_url + "/messages", data=json.dumps(body).encode(),
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01",
                 "content-type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    names = [e.split("\n")[0].removeprefix("event: ") for e in events]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta",
                     "content_block_delta", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]  # fmt: skip
    datas = [json.loads(e.split("\n")[1].removeprefix("data: ")) for e in events]
    assert all(d["type"] == n for d, n in zip(datas, names, strict=True))
    assert (
        datas[0]["message"]["content"] == [] and datas[0]["message"]["usage"]["output_tokens"] == 1
    )
    assert datas[3]["delta"]["type"] == "text_delta"
    assert datas[7]["delta"]["stop_reason"] == "end_turn"
    assert datas[7]["usage"]["output_tokens"] == 3  # cumulative


def _third_call_refused(m: Any) -> tuple[anthropic.Anthropic, anthropic.RateLimitError]:
    """Two calls use up an RPM of 2; the third is refused. (The client, and its error.)"""
    c = client(m)
    for _ in range(2):
        c.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError) as info:
        c.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    return c, info.value


def test_429_is_a_rate_limit_error_with_anthropic_headers(mock_server):
    _, err = _third_call_refused(mock_server(fast_cfg({"rpm": 2}, time_scale=30.0)))
    assert err.status_code == 429
    assert err.type == "rate_limit_error"
    assert "of 2 requests per minute" in (err.api_message or "")
    h = err.response.headers
    assert h["anthropic-ratelimit-requests-limit"] == "2"
    assert h["anthropic-ratelimit-requests-remaining"] == "0"
    assert h["x-should-retry"] == "true"
    # One request refills in 30 scenario seconds: 1 wall second at time scale 30.
    assert h["retry-after"] == "1"
    assert "retry-after-ms" not in h  # the API sends whole seconds only
    assert err.request_id == h["request-id"]
    assert err.body["request_id"] == err.request_id  # type: ignore[index]


def test_sdk_retry_succeeds_after_retry_after(mock_server):
    m = mock_server(fast_cfg({"rpm": 2}, time_scale=30.0))
    _third_call_refused(m)
    patient = client(m, max_retries=2)
    start = time.perf_counter()
    msg = patient.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    waited = time.perf_counter() - start
    assert msg.content[0].type == "text"
    assert waited >= 0.9  # it waited the whole-second retry-after, not its own 0.5 s backoff
    assert counts(m, 429) == 2 and counts(m, 200) == 3


def test_529_overloaded_is_retried_by_the_sdk(mock_server):
    # 529 for the first scenario second, at time scale 4: a quarter of a wall second.
    outage = {"kind": "outage", "model": MODEL, "start": 0, "end": 1, "status": 529}
    m = mock_server(fast_cfg(faults=[outage], time_scale=4.0))
    with pytest.raises(anthropic.OverloadedError) as info:
        reset(m)
        client(m).messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    assert info.value.status_code == 529 and info.value.type == "overloaded_error"
    reset(m)
    msg = client(m, max_retries=2).messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    assert msg.stop_reason == "max_tokens"
    # (reset cleared the counts) refused once, retried by the SDK, served
    assert counts(m, 529) == 1 and counts(m, 200) == 1


def test_every_error_type(mock_server, tmp_path):
    faults = [{"kind": "outage", "model": "claude-sonnet-4-6", "status": 500}]
    cfg = fast_cfg(
        {"api_keys": ["sk-ant-test"], "rpm": 1, "context_window": 5000},
        api_keys=["sk-ant-test", "sk-other"], faults=faults, max_body_bytes=20_000,
    )  # fmt: skip
    m = mock_server(cfg)
    c = client(m)
    c.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)  # uses the 1 RPM
    huge = [{"role": "user", "content": "x" * 30_000}]
    cases: list[tuple[type[anthropic.APIStatusError], int, str, Any]] = [
        (anthropic.BadRequestError, 400, "invalid_request_error",
         lambda: c.messages.create(model=MODEL, max_tokens=0, messages=MESSAGES)),
        (anthropic.AuthenticationError, 401, "authentication_error",
         lambda: client(m, api_key="sk-wrong").messages.create(
             model=MODEL, max_tokens=5, messages=MESSAGES)),
        (anthropic.PermissionDeniedError, 403, "permission_error",
         lambda: client(m, api_key="sk-other").messages.create(
             model=MODEL, max_tokens=5, messages=MESSAGES)),
        (anthropic.NotFoundError, 404, "not_found_error",
         lambda: c.messages.create(model="claude-9", max_tokens=5, messages=MESSAGES)),
        (anthropic.RateLimitError, 429, "rate_limit_error",
         lambda: c.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)),
        (anthropic.InternalServerError, 500, "api_error",
         lambda: c.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=MESSAGES)),
    ]  # fmt: skip
    for cls, status, kind, call in cases:
        with pytest.raises(cls) as info:
            call()
        err = info.value
        assert (err.status_code, err.type) == (status, kind), (cls, err.body)
        assert err.api_message
        assert err.request_id and err.request_id == err.response.headers["request-id"]
        assert err.body["request_id"] == err.request_id  # type: ignore[index]
        assert err.body["type"] == "error"  # type: ignore[index]
    # (529 overloaded_error: test_529_overloaded_is_retried_by_the_sdk.)
    # A body over the limit is refused by the API's front (Cloudflare) before the API: the
    # real body has no top-level type and no request id (mock_provider/body.py).
    with pytest.raises(anthropic.ContentTooLargeError) as too_large:
        c.messages.create(model=MODEL, max_tokens=5, messages=huge)
    assert too_large.value.body == {  # type: ignore[comparison-overlap]
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}
    }


def test_cache_control_reads_and_writes_through_the_sdk(mock_server):
    m = mock_server(fast_cfg())
    stable = " ".join(["policy"] * 4500)  # above Haiku 4.5's 4096-token minimum
    system: Any = [{"type": "text", "text": stable, "cache_control": {"type": "ephemeral"}}]
    c = client(m)
    first = c.messages.create(model=MODEL, max_tokens=5, system=system, messages=MESSAGES)
    second = c.messages.create(
        model=MODEL, max_tokens=5, system=system,
        messages=[{"role": "user", "content": "Something else."}],
    )  # fmt: skip
    written = first.usage.cache_creation_input_tokens
    assert written and written >= 4096 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == written
    assert second.usage.cache_read_input_tokens == written
    assert second.usage.cache_creation_input_tokens == 0
    total = count_request({"system": system, "messages": MESSAGES})
    assert first.usage.input_tokens + written == total
    # Five breakpoints are one too many.
    five: Any = [{"type": "text", "text": f"b{i}", "cache_control": {"type": "ephemeral"}}
                 for i in range(5)]  # fmt: skip
    with pytest.raises(anthropic.BadRequestError) as info:
        c.messages.create(model=MODEL, max_tokens=5, system=five, messages=MESSAGES)
    assert info.value.api_message == (
        "A maximum of 4 blocks with cache_control may be provided. Found 5."
    )


def test_count_tokens_and_models(mock_server):
    m = mock_server(fast_cfg())
    c = client(m)
    counted = c.messages.count_tokens(model=MODEL, system="Be brief.", messages=MESSAGES)
    assert counted.input_tokens == count_request({"system": "Be brief.", "messages": MESSAGES})
    models = list(c.models.list())  # auto-paging, 20 a page
    ids = [x.id for x in models]
    claude = {s.snapshot for s in DEFAULT_CATALOG.values() if s.dialect == "anthropic"}
    assert sorted(ids) == sorted(claude)  # each Claude ID once, no alias, no OpenAI model
    released = [DEFAULT_CATALOG[i].released or date.max for i in ids]
    assert released == sorted(released, reverse=True)  # newest first, as the real list
    assert all(x.type == "model" and x.display_name for x in models)
    first, second = ids[0], ids[1]
    page = c.models.list(limit=1)
    assert [x.id for x in page.data] == [first] and page.has_more
    assert [x.id for x in c.models.list(limit=1, after_id=first).data] == [second]
    assert [x.id for x in c.models.list(before_id=second).data] == [first]
    # An alias resolves to its dated snapshot, as models.retrieve does on the real API.
    haiku = c.models.retrieve(MODEL)
    assert (haiku.id, haiku.max_tokens) == ("claude-haiku-4-5-20251001", 64_000)
    assert haiku.created_at.date() == date(2025, 10, 1)
    with pytest.raises(anthropic.NotFoundError):
        c.models.retrieve("gpt-4o")  # an OpenAI model is not one of Anthropic's


def test_litellm_completion_for_an_anthropic_model(mock_server, monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm

    m = mock_server(fast_cfg())
    base = m.base_url.removesuffix("/v1")
    messages = [{"role": "system", "content": "Be terse."}, *MESSAGES]
    r: Any = litellm.completion(
        model=f"anthropic/{MODEL}", api_base=base, api_key="sk-ant", messages=messages,
        max_tokens=40,
    )  # fmt: skip
    assert count_text(r.choices[0].message.content) == 12
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 12
    assert r.usage.prompt_tokens == count_request({"system": "Be terse.", "messages": MESSAGES})
    stream: Any = litellm.completion(
        model=f"anthropic/{MODEL}", api_base=base, api_key="sk-ant", messages=messages,
        max_tokens=40, stream=True,
    )  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert count_text(text) == 12
    assert counts(m, 200) == 2


def test_memoised_text_delta_equals_the_structured_event():
    """A stream's text deltas, rendered once per piece, are the structured event's bytes."""
    from mock_provider.dialects.anthropic.sse import AnthropicStream, event
    from mock_provider.model.provider import ChatRequest, Completion, Provider

    provider = Provider(fast_cfg())
    c = provider.chat(ChatRequest("k", MODEL, 30, 50, True, (), dialect="anthropic"), 0.0)
    assert isinstance(c, Completion)
    writer = AnthropicStream(c)
    for piece in (*c.pieces, 'quo"te', "\n", "é"):
        data = {"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}}  # fmt: skip
        assert writer.token(piece) == event("content_block_delta", data)


def test_templated_message_equals_the_structured_message():
    """The memoised message bytes say exactly what the structured body says."""
    from mock_provider.dialects.anthropic.bodies import message_body, message_bytes
    from mock_provider.model.provider import ChatRequest, Completion, Provider

    provider = Provider(fast_cfg(output_tokens={"median": 40, "spread": 0.5}))
    blocks = ((1, 4200, 300.0), (2, 4400, 0.0))  # over Haiku 4.5's 4096-token minimum
    for i in range(20):
        req = ChatRequest("k", MODEL, 4400, 10 + i * 5, False, blocks, lambda b: b, "anthropic")
        c = provider.chat(req, float(i))
        assert isinstance(c, Completion)
        assert json.loads(message_bytes(c)) == message_body(c)
    assert c.cached_tokens and message_body(c)["usage"]["cache_read_input_tokens"]


def test_openai_dialect_words_a_529_as_an_overloaded_engine(mock_server):
    """A 529 fault window on an OpenAI model: the openai SDK reads a server error."""
    import openai

    outage = {"kind": "outage", "model": "gpt-4o-mini", "status": 529}
    cfg = ProviderConfig.model_validate(
        {"models": {"gpt-4o-mini": {"latency": INSTANT.model_dump()}}, "faults": [outage]}
    )
    m = mock_server(cfg)
    oai = openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert info.value.status_code == 529
    assert info.value.type == "server_error"
    assert "overloaded" in info.value.message
