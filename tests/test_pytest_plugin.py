"""The pytest plugin, used the way a team's own suite would use it (the plugin is loaded
through its ``pytest11`` entry point, as in any project that installs llm-stampede)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openai import OpenAI

from simulator.pytest_plugin import StampedeMock, assert_audit_passes

# A provider whose gpt-4o is down (503) for the first second after a reset.
OUTAGE = {"faults": [{"kind": "outage", "model": "gpt-4o", "start": 0, "end": 1.0}]}


@pytest.fixture
def stampede_provider() -> dict[str, Any]:
    return OUTAGE


def sdk_answer(model: str) -> str | None:
    """The team's client: the openai SDK with its defaults, built from the environment."""
    client = OpenAI()
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello"}], max_tokens=50
    )
    return reply.choices[0].message.content


def naive_answer(mock: StampedeMock, model: str) -> None:
    """A hand-written loop: no max_tokens, retries at once, ignores everything it is told."""
    for _ in range(20):
        resp = httpx.post(
            mock.openai_base_url + "/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hello"}]},
            headers={"authorization": f"Bearer {mock.api_key}"},
        )
        if resp.status_code == 200:
            return


def test_the_fixture_points_the_sdks_at_the_mock(stampede_mock: StampedeMock) -> None:
    import os

    assert os.environ["OPENAI_BASE_URL"] == stampede_mock.host + "/v1"
    assert os.environ["ANTHROPIC_BASE_URL"] == stampede_mock.host
    assert sdk_answer("gpt-4o-mini")
    [entry] = stampede_mock.entries()
    assert entry.status == 200 and entry.max_tokens == 50 and entry.retry_count == "0"


def test_an_outage_window_sdk_passes_and_a_naive_loop_fails(stampede_mock: StampedeMock) -> None:
    stampede_mock.reset()  # the outage starts now
    assert sdk_answer("gpt-4o")  # 503s, jittered waits that outlast the outage, a 200
    result = assert_audit_passes(stampede_mock)
    assert result.requests == 1 and result.attempts in (2, 3)
    mark = stampede_mock.mark()
    stampede_mock.reset()
    naive_answer(stampede_mock, "gpt-4o")
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_audit_passes(stampede_mock, since=mark)
    text = " ".join(str(failed.value).split())
    assert "max_tokens on every request" in text and "set no max_tokens" in text
    assert "none of the 1 requests struck by the outage of gpt-4o tried another model" in text


def test_a_queued_429_then_a_reset(stampede_mock: StampedeMock) -> None:
    """The issue's case: a 429 with Retry-After, then a connection reset; the SDK waits the
    Retry-After, retries the reset and passes; a naive client in the same test fails."""
    stampede_mock.queue_fault("error", status=429, retry_after=1)  # skips until the queue exists
    stampede_mock.queue_fault("reset")
    assert sdk_answer("gpt-4o-mini")
    result = assert_audit_passes(stampede_mock)
    assert result.attempts == 3
    mark = stampede_mock.mark()
    stampede_mock.queue_fault("error", status=429, retry_after=1)
    naive_answer(stampede_mock, "gpt-4o-mini")
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_audit_passes(stampede_mock, since=mark)
    assert "sent before the Retry-After" in " ".join(str(failed.value).split())
