"""The audit on clients that are not in its corpus: the real openai and anthropic SDKs, with
their own retries, against the served mock with faults and limits forced.

Each test drives the SDK, reads the journal the mock wrote, and checks the audit's logical
requests against what the SDK itself reports (``retries_taken``, or the attempts it must have
made), or the audit's verdict on a client whose behaviour is known.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import tenacity

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig
from mock_provider.config import ProviderConfig as PC
from mock_provider.journal import read_journal
from simulator.audit.findings import audit
from simulator.audit.grouping import group_requests
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
GPT, CLAUDE = "gpt-4o-mini", "claude-haiku-4-5"


def cfg(*faults: dict[str, Any], **kwargs: Any) -> PC:
    models = {GPT: ModelConfig(latency=INSTANT), CLAUDE: ModelConfig(latency=INSTANT),
              "gpt-4o": ModelConfig(latency=INSTANT)}  # fmt: skip
    return PC.model_validate({"models": models, "output_tokens": {"median": 8, "spread": 0},
                              "faults": list(faults), **kwargs})  # fmt: skip


def messages(text: str) -> Any:
    return [{"role": "user", "content": text}]


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, started together; each one's result or exception."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def chain_lengths(log: Path) -> list[int]:
    return sorted(len(r.attempts) for r in group_requests(read_journal(log)))


def finding(result: Any, fid: str) -> str:
    return next(f.status for f in result.findings if f.id == fid)


@pytest.mark.timeout(60)
def test_openai_sdk_retries_are_grouped_as_the_sdk_counts_them(tmp_path: Path) -> None:
    # The first six requests are refused with a 1 s Retry-After; one call is refused every
    # time (a 503 it asks for), so the SDK tries it 1 + max_retries times. Four calls share
    # one prompt, word for word.
    log = tmp_path / "requests.jsonl"
    rule = {"kind": "error", "status": 429, "retry_after": 1, "times": 6, "model": GPT}
    with running_mock(cfg(rule), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-sdk", max_retries=3)

        def call(i: int) -> Callable[[], Any]:
            text = "the same question" if i < 4 else f"question {i}"
            extra = {"x-stampede-fault": "error;status=503"} if i == 7 else None
            return lambda: client.chat.completions.with_raw_response.create(
                model=GPT, messages=messages(text), max_tokens=8, extra_headers=extra
            )

        results = at_once([call(i) for i in range(8)])
    taken = [r.retries_taken + 1 for r in results[:7]]
    assert isinstance(results[7], openai.InternalServerError)
    expected = sorted([*taken, 3 + 1])  # the failing call: 1 + max_retries attempts
    assert sum(taken) > 7  # the refusals made the SDK retry
    assert chain_lengths(log) == expected


@pytest.mark.timeout(60)
def test_anthropic_sdk_retries_are_grouped_as_the_sdk_counts_them(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    rule = {"kind": "error", "status": 529, "times": 5, "model": CLAUDE}
    with running_mock(cfg(rule), str(log)) as m:
        client = anthropic.Anthropic(base_url=m.base_url.removesuffix("/v1"),
                                     api_key="sk-ant-audit", max_retries=3)  # fmt: skip

        def call(i: int) -> Callable[[], Any]:
            text = "the same question" if i % 2 else f"question {i}"
            return lambda: client.messages.with_raw_response.create(
                model=CLAUDE,
                messages=messages(text),
                max_tokens=8,
            )

        results = at_once([call(i) for i in range(6)])
    taken = sorted(r.retries_taken + 1 for r in results)
    assert sum(taken) == 6 + 5  # every refusal was retried once more
    assert chain_lengths(log) == taken


@pytest.mark.timeout(60)
def test_an_sdk_that_never_retries_a_400_passes(tmp_path: Path) -> None:
    # The case: three different bad requests, one after another, none retried.
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-400", max_retries=2)
        for bad in ({"max_tokens": -1}, {"max_tokens": "many"}, {"temperature": 7}):
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(
                    model=GPT,
                    messages=messages("hello"),
                    **bad,
                )
        client.chat.completions.create(model=GPT, messages=messages("hello"), max_tokens=8)
    result = audit(read_journal(log))
    assert result.requests == 4 and result.attempts == 4
    assert finding(result, "client_errors") == "pass"


@pytest.mark.timeout(60)
def test_a_wrapper_that_retries_a_400_still_fails(tmp_path: Path) -> None:
    # tenacity around the SDK (whose count starts at 0 on each call) retrying a 400.
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-wrap", max_retries=2)

        @tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0.05),
                        reraise=True)  # fmt: skip
        def ask() -> Any:
            return client.chat.completions.create(
                model=GPT, messages=messages("hello"), max_tokens=-1
            )

        with pytest.raises(openai.BadRequestError):
            ask()
    result = audit(read_journal(log))
    assert (result.requests, result.attempts) == (1, 3)
    assert finding(result, "client_errors") == "fail"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("together", [True, False], ids=["at-once", "in-a-row"])
def test_thirty_identical_one_shots_pass_retry_after(tmp_path: Path, together: bool) -> None:
    # Thirty users (or one script thirty times) send one body through the SDK with retries
    # off: count 0 on every attempt. The RPM limit refuses most with a Retry-After.
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg(default_rpm=5), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-shots", max_retries=0)

        def one_shot() -> Any:
            return client.chat.completions.create(
                model=GPT, messages=messages("what is new today?"), max_tokens=8
            )

        if together:
            results = at_once([one_shot] * 30)
        else:
            results = []
            for _ in range(30):
                try:
                    results.append(one_shot())
                except openai.RateLimitError as exc:
                    results.append(exc)
    refused = sum(isinstance(r, openai.RateLimitError) for r in results)
    assert refused >= 20
    entries = list(read_journal(log))
    assert sum(e.retry_after_s is not None for e in entries) == refused
    result = audit(entries)
    assert (result.requests, result.attempts) == (30, 30)
    assert finding(result, "retry_after") != "fail"
    assert result.passed, result.failures


@pytest.mark.timeout(60)
def test_a_fallback_after_the_sdk_gives_up_continues_the_request(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    outage = {"kind": "outage", "model": GPT, "start": 0, "end": 3600, "status": 503}
    with running_mock(cfg(outage), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-fall", max_retries=1)

        def answer(i: int) -> Callable[[], Any]:
            def run() -> Any:
                try:
                    return client.chat.completions.create(
                        model=GPT, messages=messages(f"q{i}"), max_tokens=8
                    )
                except openai.InternalServerError:
                    return client.chat.completions.create(
                        model="gpt-4o", messages=messages(f"q{i}"), max_tokens=8
                    )

            return run

        at_once([answer(i) for i in range(4)])
    result = audit(read_journal(log))
    assert chain_lengths(log) == [3, 3, 3, 3]  # two on the failing model, one on the fallback
    assert finding(result, "fallback") == "pass"


@pytest.mark.timeout(60)
def test_connection_resets_retried_by_the_sdk_are_one_request(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg({"kind": "reset", "times": 2, "model": GPT}), str(log)) as m:
        client = openai.OpenAI(base_url=m.base_url, api_key="sk-audit-reset", max_retries=2)
        raw = client.chat.completions.with_raw_response.create(
            model=GPT, messages=messages("hello"), max_tokens=8
        )
    assert raw.retries_taken == 2
    assert chain_lengths(log) == [3]
