"""langchain_with_retry and tenacity_cookbook against the installed langchain-core and tenacity.

Each wrapper is the library's own, with its defaults: ``Runnable.with_retry()`` around a
``RunnableLambda``, and the OpenAI cookbook's ``@retry(wait=wait_random_exponential(min=1,
max=60), stop=stop_after_attempt(6))``. Inside, the openai SDK (retries off, as the models
assume) calls an in-process ``httpx2.MockTransport`` answering every attempt with the case, so
the wrapper sees the SDK's real exceptions. tenacity's sleep is recorded and its random pinned.
"""

from __future__ import annotations

import random
import types
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import httpx2
import langchain_core
import openai
import pytest
import tenacity
from langchain_core.runnables import RunnableLambda
from tenacity import retry, stop_after_attempt, wait_random_exponential

from simulator.config import ClientConfig, RetryConfig
from tests.library_cases import CASES, JITTER_DRAWS, Case, Run, model_run

VERSIONS = {
    "langchain_with_retry": f"langchain-core {langchain_core.__version__}",
    "tenacity_cookbook": f"tenacity {version('tenacity')}",
}


def _sdk_without_retries(case: Case, run: Run) -> openai.OpenAI:
    def handle(request: httpx2.Request) -> httpx2.Response:
        run.models.append("gpt-4o")
        if case.error == "connection":
            raise httpx2.ConnectError("connection refused", request=request)
        if case.error == "timeout":
            raise httpx2.ReadTimeout("timed out", request=request)
        body = {"error": {"type": "api_error", "message": case.label}}
        return httpx2.Response(case.status, headers=case.headers(), json=body)

    http = httpx2.Client(transport=httpx2.MockTransport(handle))
    return openai.OpenAI(
        api_key="sk-x", base_url="http://127.0.0.1:9/v1", http_client=http, max_retries=0
    )


class _PinnedRandomModule:
    """tenacity.wait's ``random`` with ``uniform`` pinned to ``a + (b - a) * u``."""

    def __init__(self, u: float) -> None:
        self.u = u

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.u

    def __getattr__(self, name: str) -> Any:
        return getattr(random, name)


def wrapper_run(monkeypatch: pytest.MonkeyPatch, kind: str, case: Case, u: float) -> Run:
    run = Run()
    monkeypatch.setattr(tenacity.nap, "time", types.SimpleNamespace(sleep=run.sleeps.append))
    monkeypatch.setattr(tenacity.wait, "random", _PinnedRandomModule(u))
    client = _sdk_without_retries(case, run)

    def create(_: object = None) -> Any:
        return client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )

    call: Callable[[], Any]
    if kind == "langchain_with_retry":
        chain = RunnableLambda(create).with_retry()

        def call() -> Any:
            return chain.invoke(None)
    else:
        call = retry(wait=wait_random_exponential(min=1, max=60), stop=stop_after_attempt(6))(
            create
        )
    with pytest.raises((openai.APIError, tenacity.RetryError)):  # the cookbook does not reraise
        call()
    return run


@pytest.mark.parametrize("u", JITTER_DRAWS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
@pytest.mark.parametrize("kind", sorted(VERSIONS))
def test_same_attempts_and_sleeps_as_the_wrapper(
    monkeypatch: pytest.MonkeyPatch, kind: str, case: Case, u: float
) -> None:
    theirs = wrapper_run(monkeypatch, kind, case, u)
    ours, _ = model_run(ClientConfig(retry=RetryConfig(kind=kind)), case, u)
    why = (
        f"{VERSIONS[kind]} now differs from kind {kind} on case '{case.label}' "
        f"(jitter draw {u}): the library made {theirs}; the model made {ours}"
    )
    assert ours.attempts == theirs.attempts, why
    assert ours.sleeps == pytest.approx(theirs.sleeps, rel=1e-9), why


def test_the_wrappers_retry_a_400_as_often_as_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flaw the models keep: every exception is retried, a bad request included."""
    for kind, attempts in (("langchain_with_retry", 3), ("tenacity_cookbook", 6)):
        bad = wrapper_run(monkeypatch, kind, Case("400", 400), 0.5)
        down = wrapper_run(monkeypatch, kind, Case("503", 503), 0.5)
        assert bad.attempts == down.attempts == attempts, kind
