"""openai_sdk and anthropic_sdk against the installed SDKs' own retry loops, case by case.

Each SDK client runs its real ``create`` over an in-process ``httpx2.MockTransport`` (no
network) that answers every attempt with the case's response or raises its connection error;
its ``time.sleep`` is recorded instead of slept and its ``random`` pinned. Our brain plays the
same case. They must make the same attempts and sleep the same seconds; when an SDK release
changes either, the failure names the version, the case and both behaviours.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from simulator.client.presets import PRESETS
from simulator.config import ClientConfig, RetryConfig
from tests.library_cases import CASES, JITTER_DRAWS, Case, Run, model_run

SDKS = {"openai_sdk": openai, "anthropic_sdk": anthropic}


def _transport(case: Case, run: Run) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        run.models.append("gpt-4o")
        if case.error == "connection":
            raise httpx2.ConnectError("connection refused", request=request)
        if case.error == "timeout":
            raise httpx2.ReadTimeout("timed out", request=request)
        body = {"type": "error", "error": {"type": "api_error", "message": case.label}}
        return httpx2.Response(case.status, headers=case.headers(), json=body)

    return httpx2.MockTransport(handle)


def sdk_run(
    monkeypatch: pytest.MonkeyPatch, kind: str, case: Case, u: float, max_retries: int = 2
) -> Run:
    """What the installed SDK does with ``case`` (its exception is expected and dropped)."""
    sdk = SDKS[kind]
    run = Run()
    fake_time = types.SimpleNamespace(sleep=run.sleeps.append, time=time.time, time_ns=time.time_ns)
    monkeypatch.setattr(sdk._base_client, "time", fake_time)
    monkeypatch.setattr(sdk._base_client, "random", lambda: u)
    http = httpx2.Client(transport=_transport(case, run))
    call: Callable[[], Any]
    if kind == "openai_sdk":
        oai = openai.OpenAI(
            api_key="sk-x",
            base_url="http://127.0.0.1:9/v1",
            http_client=http,
            max_retries=max_retries,
        )
        msgs: Any = [{"role": "user", "content": "hi"}]

        def call() -> Any:
            return oai.chat.completions.create(model="gpt-4o", messages=msgs)
    else:
        ant = anthropic.Anthropic(
            api_key="sk-x", base_url="http://127.0.0.1:9", http_client=http, max_retries=max_retries
        )

        def call() -> Any:
            return ant.messages.create(
                model="claude-haiku-4-5",
                max_tokens=16,
                messages=[{"role": "user", "content": "hi"}],
            )

    with pytest.raises(sdk.APIError):
        call()
    return run


def explain(kind: str, case: Case, u: float, theirs: Run, ours: Run) -> str:
    sdk = SDKS[kind]
    return (
        f"{sdk.__name__} {sdk.__version__} now differs from kind {kind} on case "
        f"'{case.label}' (jitter draw {u}): the SDK made {theirs}; the model made {ours}"
    )


@pytest.mark.parametrize("u", JITTER_DRAWS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
@pytest.mark.parametrize("kind", sorted(SDKS))
def test_same_attempts_and_sleeps_as_the_sdk(
    monkeypatch: pytest.MonkeyPatch, kind: str, case: Case, u: float
) -> None:
    theirs = sdk_run(monkeypatch, kind, case, u)
    ours, _ = model_run(ClientConfig(retry=RetryConfig(kind=kind)), case, u)
    assert ours.attempts == theirs.attempts, explain(kind, case, u, theirs, ours)
    assert ours.sleeps == pytest.approx(theirs.sleeps, rel=1e-9), explain(
        kind, case, u, theirs, ours
    )


@pytest.mark.parametrize("kind", sorted(SDKS))
def test_max_retries_maps_to_max_attempts(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    case = Case("500", 500)
    theirs = sdk_run(monkeypatch, kind, case, 0.5, max_retries=5)
    ours, _ = model_run(ClientConfig(retry=RetryConfig(kind=kind, max_attempts=6)), case, 0.5)
    assert theirs.attempts == ours.attempts == 6, explain(kind, case, 0.5, theirs, ours)
    assert ours.sleeps == pytest.approx(theirs.sleeps, rel=1e-9)  # past the 8 s cap


@pytest.mark.parametrize("kind", sorted(SDKS))
def test_the_preset_has_the_sdk_defaults(kind: str) -> None:
    sdk = SDKS[kind]
    client: Any = (openai.OpenAI if kind == "openai_sdk" else anthropic.Anthropic)(api_key="sk-x")
    timeout = sdk._constants.DEFAULT_TIMEOUT
    preset = PRESETS[kind]
    where = f"{sdk.__name__} {sdk.__version__} changed its defaults"
    assert preset.retry.max_attempts == client.max_retries + 1, where
    assert RetryConfig(kind=kind).max_attempts == client.max_retries + 1, where
    assert (preset.timeouts.connect_s, preset.timeouts.read_s) == (timeout.connect, timeout.read), (
        where
    )
