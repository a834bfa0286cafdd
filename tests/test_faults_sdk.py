"""Each fault kind against the served mock, as the real openai and anthropic SDKs see it.

The header ``x-stampede-fault`` asks for a fault on one request; rules in the config strike
the requests they select. Each test asserts the exception (or the short stream) the SDK
raises, and what the mock's journal says about the request.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from mock_provider.config import DistConfig, FaultWindowConfig, LatencyConfig, ModelConfig
from mock_provider.config import ProviderConfig as PC
from mock_provider.journal import read_journal
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MESSAGES = [{"role": "user", "content": "Say something."}]
MODELS = {
    "gpt-4o-mini": ModelConfig(latency=INSTANT),
    "claude-haiku-4-5": ModelConfig(latency=INSTANT),
}


def cfg(*faults: FaultWindowConfig, **kwargs: object) -> PC:
    return PC.model_validate(
        {"models": MODELS, "output_tokens": {"median": 20, "spread": 0}, "faults": list(faults),
         **kwargs}
    )  # fmt: skip


def fault(value: str) -> dict[str, str]:
    return {"x-stampede-fault": value}


def oai(base_url: str, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="sk-test", **kwargs)  # type: ignore[arg-type]


def wait_for(condition, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def journal(path: Path) -> list:  # type: ignore[type-arg]
    return [e for e in read_journal(path) if e.path.startswith("/v1/")]


def test_reset_is_an_api_connection_error_and_the_sdk_retries_it(tmp_path):
    log = tmp_path / "requests.jsonl"
    rule = FaultWindowConfig(kind="reset", times=2)  # the first two requests, then none
    with running_mock(cfg(rule), str(log)) as m:
        client = oai(m.base_url, max_retries=0)
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        retrying = oai(m.base_url, max_retries=2)
        raw = retrying.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        assert raw.retries_taken == 1  # the second reset, then the answer
        entries = wait_for(lambda: (e := journal(log)) and len(e) == 3 and e)
    assert [(e.status, e.fault) for e in entries] == [(0, "reset"), (0, "reset"), (200, None)]
    assert entries[2].retry_count == "1"


def test_hang_with_a_short_timeout_is_an_api_timeout_error(tmp_path):
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(), str(log)) as m:
        client = oai(m.base_url, max_retries=0, timeout=2)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, extra_headers=fault("hang;max_hang=30")
            )
        assert time.monotonic() - started < 5
        # the mock notices the client left: a 499, released long before its 30 s bound
        (entry,) = wait_for(lambda: journal(log))
    assert (entry.status, entry.fault, entry.disconnected) == (499, "hang", True)


@pytest.mark.parametrize("stream", [True, False])
def test_cut_stream_ends_early_without_the_final_chunk(mock_server, stream):
    m = mock_server(cfg())
    client = oai(m.base_url, max_retries=0)
    if not stream:  # a request that does not stream is reset after its headers
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, extra_headers=fault("cut_stream")
            )
        return
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True,
            extra_headers=fault("cut_stream;after_tokens=5"),
        )
    )  # fmt: skip
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 5
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)


def test_anthropic_sdk_raises_a_mid_stream_overloaded_error(tmp_path):
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(), str(log)) as m:
        client = anthropic.Anthropic(
            base_url=m.base_url.removesuffix("/v1"), api_key="sk-ant-test", max_retries=0
        )
        got: list[str] = []
        stream = client.messages.stream(
            model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES,
            extra_headers=fault("stream_error;after_tokens=3"),
        )  # fmt: skip
        with pytest.raises(anthropic.APIStatusError) as info, stream as s:
            for text in s.text_stream:
                got.append(text)
        (entry,) = wait_for(lambda: journal(log))
    assert len(got) == 3
    assert "overloaded_error" in str(info.value)
    assert (entry.status, entry.fault, entry.output_tokens) == (200, "stream_error", 3)


def test_openai_sdk_raises_a_mid_stream_error_event(mock_server):
    m = mock_server(cfg())
    client = oai(m.base_url, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True,
        extra_headers=fault("stream_error;after_tokens=2;status=500"),
    )  # fmt: skip
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_malformed_bodies_fail_to_parse(mock_server):
    m = mock_server(cfg())
    client = oai(m.base_url, max_retries=0)
    with pytest.raises(ValueError):  # json.JSONDecodeError: the body is not JSON
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=fault("malformed")
        )
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True,
        extra_headers=fault("malformed;after_tokens=2"),
    )  # fmt: skip
    with pytest.raises(ValueError):
        for _ in stream:
            pass


def test_error_fault_scripts_status_type_and_retry_after(mock_server):
    m = mock_server(cfg())
    client = oai(m.base_url, max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES,
            extra_headers=fault("error;status=429;error_type=insufficient_quota;retry_after=7"),
        )  # fmt: skip
    assert info.value.code == "insufficient_quota"
    assert info.value.response.headers["retry-after"] == "7"
    ant = anthropic.Anthropic(
        base_url=m.base_url.removesuffix("/v1"), api_key="sk-ant-test", max_retries=0
    )
    with pytest.raises(anthropic.APIStatusError) as err:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES,
                            extra_headers=fault("error;status=402"))  # fmt: skip
    assert err.value.status_code == 402 and err.value.type == "billing_error"  # type: ignore[attr-defined]


def test_empty_closes_with_no_response(mock_server):
    m = mock_server(cfg())
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{m.base_url}/chat/completions", headers={
            "authorization": "Bearer sk-test", **fault("empty")},
            json={"model": "gpt-4o-mini", "messages": MESSAGES})  # fmt: skip


def test_an_unknown_fault_in_the_header_is_a_400_naming_it(mock_server):
    m = mock_server(cfg())
    with pytest.raises(openai.BadRequestError) as info:
        oai(m.base_url, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=fault("explode")
        )
    assert "unknown fault kind 'explode'" in str(info.value)


def test_a_client_closing_a_stream_midway_is_a_499_without_traceback(tmp_path, caplog):
    log = tmp_path / "requests.jsonl"
    slow = ModelConfig(latency=LatencyConfig(decode_ms_per_token=DistConfig(median=20)))
    config = PC.model_validate(
        {"models": {"gpt-4o-mini": slow}, "output_tokens": {"median": 200, "spread": 0},
         "default_tpm": 100_000}
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with running_mock(config, str(log)) as m:
        client = oai(m.base_url, max_retries=0)
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                stream=True)  # fmt: skip
        seen = 0
        for chunk in stream:
            seen += bool(chunk.choices and chunk.choices[0].delta.content)
            if seen == 5:
                break
        stream.close()
        (entry,) = wait_for(lambda: journal(log), timeout=10)
        state = m.app[__import__("mock_provider.server").server.APP_STATE]
        limits = next(iter(state.provider._limits.values()))
        wait_for(lambda: limits.in_flight == 0)
        view = state.provider.view("sk-test", "gpt-4o-mini", state.clock.now())
    assert (entry.status, entry.disconnected) == (499, True)
    assert 5 <= entry.output_tokens < 200
    assert "Traceback" not in caplog.text and "Error handling request" not in caplog.text
    # the limiter settled on what was produced, not on the input + 4096 tokens it charged at
    # admission: unsettled, over 4106 - 1667 (a second of refill at 100k TPM) would be used
    used = 100_000 - view.tokens.remaining
    assert used < 1_000


def test_a_request_abandoned_after_the_client_timeout_is_a_499_not_a_200(tmp_path, caplog):
    log = tmp_path / "requests.jsonl"
    slow = ModelConfig(latency=LatencyConfig(network_ms=DistConfig(median=800)))
    config = PC.model_validate({"models": {"gpt-4o-mini": slow}})
    caplog.set_level(logging.DEBUG)
    with running_mock(config, str(log)) as m:
        client = oai(m.base_url, max_retries=0, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        (entry,) = wait_for(lambda: journal(log), timeout=10)
    assert (entry.status, entry.disconnected, entry.output_tokens) == (499, True, 0)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    "header",
    ["error;status=503", "reset", "reset;after_bytes=40", "hang;max_hang=0.2", "empty",
     "malformed", "slow;delay=0.01", "cut_stream;after_tokens=2", "stream_error;after_tokens=2"],
)  # fmt: skip
@pytest.mark.parametrize("stream", [False, True])
def test_a_header_fault_strikes_that_request_only(tmp_path, header, stream):
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(), str(log)) as m:
        url = f"{m.base_url}/chat/completions"
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": stream}
        auth = {"authorization": "Bearer sk-test"}
        # a reset, an empty answer, a hang that ends in a close: a transport error
        with contextlib.suppress(httpx.TransportError):
            httpx.post(url, json=body, headers={**auth, **fault(header)}, timeout=5)
        clean = httpx.post(url, json=body, headers=auth, timeout=5)
        assert clean.status_code == 200
        entries = wait_for(lambda: (e := journal(log)) and len(e) == 2 and e)
    kind = header.split(";")[0]
    first, second = sorted(entries, key=lambda e: e.start_t or 0.0)
    assert (first.fault, second.fault) == (kind, None)
