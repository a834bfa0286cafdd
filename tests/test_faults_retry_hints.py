"""An injected refusal tells the retry hints the service sends with its status, by the rule
the limiter's 429 follows (``mock_provider/model/family.py``), and the real SDKs retry it.

The SDKs' attempts are counted twice: by the SDK (``retries_taken``) and by the mock's
journal (one entry per attempt, each with the SDK's ``x-stainless-retry-count``).
"""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import openai
import pytest

from mock_provider.config import DistConfig, FaultWindowConfig, LatencyConfig, ModelConfig
from mock_provider.config import ProviderConfig as PC
from mock_provider.journal import read_journal
from mock_provider.model.family import DEFAULT_429_WAIT_S, FAMILIES
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
MESSAGES = [{"role": "user", "content": "Say something."}]
MODELS = {"gpt-4o-mini": ModelConfig(latency=INSTANT),
          "claude-haiku-4-5": ModelConfig(latency=INSTANT)}  # fmt: skip


def cfg(*faults: FaultWindowConfig, **kwargs: object) -> PC:
    return PC.model_validate({"models": MODELS, "output_tokens": {"median": 5, "spread": 0},
                              "faults": list(faults), **kwargs})  # fmt: skip


def journal(path: Path, count: int, timeout: float = 5.0) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = [e for e in read_journal(path) if e.path.startswith("/v1/")]
        if len(entries) >= count:
            return entries
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} journal entries")


def call(dialect: str, base_url: str, max_retries: int):  # type: ignore[no-untyped-def]
    """One chat call through the dialect's real SDK; its raw response (retries_taken)."""
    if dialect == "anthropic":
        ant = anthropic.Anthropic(base_url=base_url.removesuffix("/v1"), api_key="sk-ant-test",
                                  max_retries=max_retries)  # fmt: skip
        return ant.messages.with_raw_response.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    oai = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=max_retries)
    return oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- the rule


RULE_CASES = [
    # (family, status, waiting helps, override, x-should-retry)
    ("anthropic", 429, True, None, True),
    ("anthropic", 429, False, None, False),  # a request larger than the bucket
    ("anthropic", 529, True, None, True),
    ("anthropic", 503, True, None, True),
    ("anthropic", 500, True, None, True),
    ("anthropic", 408, True, None, True),
    ("anthropic", 409, True, None, True),
    ("anthropic", 400, True, None, False),
    ("anthropic", 402, True, None, False),
    ("anthropic", 500, True, False, False),  # a fault's own should_retry
    ("openai", 429, True, None, None),  # OpenAI sends no x-should-retry
    ("openai", 500, True, None, None),
    ("openai", 400, True, True, True),
]  # fmt: skip


@pytest.mark.parametrize(("family", "status", "helps", "override", "expected"), RULE_CASES)
def test_should_retry_header_follows_the_family_rule(family, status, helps, override, expected):
    rules = FAMILIES[family]
    assert rules.should_retry_header(status, helps, override) is expected
    assert rules.retryable(status) == (status in (408, 409, 429) or status >= 500)


def test_an_injected_429_tells_the_wait_the_limiters_429_would():
    # OpenAI's profile rounding applies to both: whole seconds, at least one.
    oai, ant = FAMILIES["openai"], FAMILIES["anthropic"]
    assert oai.told_wait("seconds", 0.2) == oai.fault_wait("seconds", 429, 0.2) == 1
    assert oai.told_wait("exact", 0.2) == oai.fault_wait("exact", 429, 0.2) == 0.2
    assert oai.fault_wait("none", 429, None) is None  # a profile that tells none
    assert oai.fault_wait("seconds", 429, None) == DEFAULT_429_WAIT_S
    assert ant.fault_wait("seconds", 429, None) == DEFAULT_429_WAIT_S
    assert ant.fault_wait("seconds", 503, None) is None  # no wait but a 429's
    assert ant.fault_wait("seconds", 503, 7.0) == 7.0  # unless the fault names one
    # Anthropic tells whole seconds, at least one, in scenario time, whatever the profile
    assert ant.told_wait("exact", 2.4) == ant.fault_wait("exact", 429, 2.4) == 3.0
    assert ant.told_wait("none", 0.2) == 1.0


# --------------------------------------------------------------------------- the SDKs


@pytest.mark.parametrize("status", [429, 529, 503, 500])
@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_the_real_sdk_retries_an_injected_status(tmp_path, dialect, status):
    log = tmp_path / "requests.jsonl"
    rule = FaultWindowConfig(kind="error", status=status, times=1)
    with running_mock(cfg(rule), str(log)) as m:
        raw = call(dialect, m.base_url, max_retries=2)
        entries = journal(log, 2)
    assert raw.retries_taken == 1
    assert [(e.status, e.fault, e.retry_count) for e in entries] == [
        (status, "error", "0"), (200, None, "1")
    ]  # fmt: skip


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_an_outage_is_retried_until_the_sdk_gives_up(tmp_path, dialect):
    log = tmp_path / "requests.jsonl"
    status = 529 if dialect == "anthropic" else 503
    outage = FaultWindowConfig(kind="outage", status=status)
    with running_mock(cfg(outage), str(log)) as m:
        with pytest.raises((anthropic.APIStatusError, openai.APIStatusError)) as info:
            call(dialect, m.base_url, max_retries=2)
        entries = journal(log, 3)
    assert info.value.status_code == status
    assert [e.retry_count for e in entries] == ["0", "1", "2"]  # three attempts
    if dialect == "anthropic":
        assert info.value.response.headers["x-should-retry"] == "true"


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_an_injected_429_carries_the_limiters_hints(mock_server, dialect):
    """The limiter's 429 and an injected one, side by side: the same retry headers."""
    m = mock_server(cfg(default_rpm=1, time_scale=60.0))
    call(dialect, m.base_url, max_retries=0)  # uses up an RPM of 1
    with pytest.raises((anthropic.RateLimitError, openai.RateLimitError)) as limited:
        call(dialect, m.base_url, max_retries=0)
    m2 = mock_server(cfg(FaultWindowConfig(kind="error", status=429)))
    with pytest.raises((anthropic.RateLimitError, openai.RateLimitError)) as injected:
        call(dialect, m2.base_url, max_retries=0)
    for err in (limited.value, injected.value):
        h = err.response.headers
        assert float(h["retry-after"]) > 0
        assert "retry-after-ms" not in h  # neither service's default profile sends it
        assert h.get("x-should-retry") == ("true" if dialect == "anthropic" else None)
    assert injected.value.response.headers["retry-after"] == "1"  # DEFAULT_429_WAIT_S


def test_a_faults_own_should_retry_false_stops_the_sdk(tmp_path):
    log = tmp_path / "requests.jsonl"
    rule = FaultWindowConfig(kind="error", status=429, should_retry=False)
    with running_mock(cfg(rule), str(log)) as m:
        with pytest.raises(anthropic.RateLimitError) as info:
            call("anthropic", m.base_url, max_retries=2)
        entries = journal(log, 1)
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(entries) == 1


def test_a_stream_error_answered_whole_tells_the_same_hints(mock_server):
    m = mock_server(cfg())
    ant = anthropic.Anthropic(base_url=m.base_url.removesuffix("/v1"), api_key="sk-ant-test",
                              max_retries=0)  # fmt: skip
    with pytest.raises(anthropic.RateLimitError) as info:
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-stampede-fault": "stream_error;status=429"},
        )  # fmt: skip
    h = info.value.response.headers
    assert (h["x-should-retry"], h["retry-after"]) == ("true", "1")
