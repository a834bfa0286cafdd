"""The client side of the wire formats, without a network."""

from __future__ import annotations

import json

from simulator.client.events import AttemptSpec
from simulator.wire import SSEReader, build_call, read_body, read_headers


def spec(**kw: object) -> AttemptSpec:
    base: dict[str, object] = dict(
        attempt=1,
        model="gpt-4o-mini",
        dialect="openai",
        messages=(("system", "Be brief."), ("user", "Hello")),
        max_tokens=64,
        stream=False,
        input_tokens=20,
        connect_timeout_s=5.0,
        read_timeout_s=30.0,
        api_key="sk-k",
    )
    base.update(kw)
    return AttemptSpec(**base)  # type: ignore[arg-type]


def test_openai_call_shape():
    call = build_call(spec(stream=True))
    body = json.loads(call.body)
    assert call.path == "/v1/chat/completions"
    assert call.headers["authorization"] == "Bearer sk-k"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_tokens"] == 64
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_anthropic_call_moves_system_out_of_messages():
    call = build_call(spec(dialect="anthropic", model="claude-haiku-4-5"))
    body = json.loads(call.body)
    assert call.path == "/v1/messages"
    assert call.headers["x-api-key"] == "sk-k"
    # The system prompt is a text block marked as a cache breakpoint (default TTL).
    assert body["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_anthropic_usage_counts_cache_reads_and_writes_in_the_prompt():
    usage = {"input_tokens": 10, "cache_read_input_tokens": 2000, "output_tokens": 7,
             "cache_creation_input_tokens": 300}  # fmt: skip
    body = {"type": "message", "stop_reason": "max_tokens", "usage": usage}
    facts = read_body(200, json.dumps(body).encode())
    assert (facts.input_tokens, facts.cached_tokens, facts.output_tokens) == (2310, 2000, 7)
    assert facts.cache_write_tokens == 300
    assert facts.finish_reason == "length"
    reader = SSEReader()
    start = {"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}}
    reader.feed(b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n")
    assert (reader.input_tokens, reader.cached_tokens, reader.cache_write_tokens) == (
        2310, 2000, 300
    )  # fmt: skip


def test_retry_after_ms_preferred_over_seconds():
    facts = read_headers(
        {"retry-after": "2", "retry-after-ms": "1250", "x-ratelimit-remaining-requests": "7"}
    )
    assert facts.retry_after_s == 1.25
    assert facts.remaining_requests == 7
    assert read_headers({"retry-after": "3"}).retry_after_s == 3.0
    assert read_headers({"retry-after": "soon"}).retry_after_s is None


def test_read_body_usage_and_errors():
    ok = json.dumps(
        {
            "choices": [{"finish_reason": "length"}],
            "usage": {
                "prompt_tokens": 30,
                "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 16},
            },
        }
    ).encode()
    facts = read_body(200, ok)
    assert (facts.input_tokens, facts.output_tokens, facts.cached_tokens) == (30, 9, 16)
    assert facts.finish_reason == "length"
    err = json.dumps({"error": {"code": "rate_limit_exceeded", "type": "requests"}}).encode()
    assert read_body(429, err).error == "rate_limit_exceeded"
    assert read_body(502, b"<html>bad gateway</html>").error == "http_502"


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_sse_reader_detects_first_content_across_split_chunks():
    role = _event({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
    first = _event({"choices": [{"delta": {"content": " Hello"}}]})
    stop = _event({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    usage = _event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}})
    stream = role + first + stop + usage + b"data: [DONE]\n\n"
    reader = SSEReader()
    cut = len(role) + 10  # the first content event arrives in two pieces
    assert reader.feed(stream[:cut]) is False  # an empty role delta is not the first token
    assert reader.feed(stream[cut:]) is True
    assert reader.done and reader.finish_reason == "stop"
    assert (reader.input_tokens, reader.output_tokens) == (5, 1)


def test_sse_reader_without_done_is_not_done():
    reader = SSEReader()
    reader.feed(_event({"choices": [{"delta": {"content": "x"}}]}))
    assert not reader.done
    assert reader.content_deltas == 1


def test_trace_record_json_round_trips_awkward_values():
    """The hand-rolled serialiser must agree with json for every kind of field value."""
    import math

    from simulator.traces import TRACE_FIELDS, TraceRecord

    values = {
        "kind": "attempt", "trace_id": 'q"uote\\back\nline\u00e9\u2603', "timestamp": "t",
        "t": 1 / 3, "strategy": "s", "user_id": "u", "feature": "f", "model": None,
        "prompt_version": "v", "provider": "openai", "attempt": 2, "status": 429,
        "error": "rate_limit_exceeded", "retry_after_s": float("nan"), "slept_s": 1e-7,
        "input_tokens": 10, "output_tokens": 0, "cached_tokens": 0, "cost_usd": 12345678.9,
        "latency_ms": float("inf"), "ttft_ms": None, "finish_reason": None,
        "fallback_used": None, "start_t": -0.0, "remaining_requests": 0,
        "remaining_tokens": None, "success": False, "worker": 3,
    }  # fmt: skip
    record = TraceRecord(**values)  # type: ignore[arg-type]
    back = json.loads(record.to_json())
    assert list(back) == list(TRACE_FIELDS)
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            assert back[name] is None, name  # JSON has no NaN/inf: written as null
        else:
            assert back[name] == value and type(back[name]) is type(value), name


def test_the_journal_reads_back_what_was_written_and_skips_a_torn_line(tmp_path) -> None:
    from mock_provider.journal import JournalEntry, fingerprint, read_journal, write_entry

    path = tmp_path / "requests.jsonl"
    messages = [{"role": "user", "content": "hi"}]
    with open(path, "w") as fh:
        write_entry(fh, JournalEntry(t=1.5, path="/v1/chat/completions", status=429,
                                     model="m", prompt=fingerprint(messages)))  # fmt: skip
        write_entry(fh, JournalEntry(t=2.0, path="/v1/chat/completions", status=200))
        fh.write('{"t": 3.0, "path": "/v1/chat')  # a run killed mid-write
    entries = list(read_journal(path))
    assert [(e.t, e.status) for e in entries] == [(1.5, 429), (2.0, 200)]
    # the same messages, the same fingerprint; other messages, another
    assert entries[0].prompt == fingerprint([{"role": "user", "content": "hi"}])
    assert entries[0].prompt != fingerprint([{"role": "user", "content": "hi!"}])
