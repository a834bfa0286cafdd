"""litellm_router against the installed ``litellm.Router``, case by case.

The Router is real: its Rust core decides retries, fallbacks, cooldowns and sleeps. Only its
host seam is replaced: the provider call raises the exception litellm itself makes of the
openai SDK's error for the case (through litellm's own ``exception_type``), and the host's sleep
is recorded instead of slept. The model list has two single-deployment groups, gpt-4o and
gpt-4o-mini, as a scenario with ``fallback: [gpt-4o-mini]`` has. Nothing reaches the network:
the cost map is the bundled one.

The core draws its jitter from its own generator, which cannot be pinned from Python. So the
attempts must match exactly, each sleep must lie inside the model's range for that retry (the
model's sleep with its draw at 0 and at 1), and over many runs the Router's sleeps must reach
both ends of that range.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import contextlib
import logging
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import httpx2
import litellm
import openai
import pytest
from litellm import Router
from litellm.litellm_core_utils.exception_mapping_utils import exception_type
from litellm.router_python_host import PythonHost

from mock_provider.model.catalog import DEFAULT_CATALOG
from simulator.client.engine import ClientBrain
from simulator.client.presets import PRESETS
from simulator.config import ClientConfig, RetryConfig
from tests.library_cases import CASES, Case, PinnedRandom, Run, model_run

VERSION = f"litellm {version('litellm')}"
MODELS = ("gpt-4o", "gpt-4o-mini")
FALLBACKS = [{"gpt-4o": ["gpt-4o-mini"]}]
_SDK = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1", max_retries=0)
_REQUEST = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def litellm_error(case: Case) -> Exception:
    """The exception litellm raises for ``case`` from an openai-compatible provider."""
    err: Exception
    if case.error == "connection":
        err = openai.APIConnectionError(request=_REQUEST)
    elif case.error == "timeout":
        err = openai.APITimeoutError(request=_REQUEST)
    else:
        body = {"error": {"type": "api_error", "message": case.label}}
        response = httpx2.Response(case.status, headers=case.headers(), request=_REQUEST, json=body)
        err = _SDK._make_status_error_from_response(response)
    try:
        exception_type(model="gpt-4o", original_exception=err, custom_llm_provider="openai")
    except Exception as mapped:
        return mapped
    raise AssertionError("exception_type did not raise")


class Host:
    """The Router's provider calls and sleeps, scripted per model group."""

    def __init__(self) -> None:
        self.script: dict[str, Case | None] = {}
        self.run = Run()

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        model = str(kwargs["model"]).split("/", 1)[1]
        self.run.models.append(model)
        case = self.script.get(model)
        if case is not None:
            raise litellm_error(case)  # a fresh one: the Router stamps attributes on it
        return litellm.ModelResponse(model=model)


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    h = Host()
    real_invoke = PythonHost.invoke

    def invoke(self: PythonHost, op: str) -> Any:
        return h.completion if op == "completion" else real_invoke(self, op)

    monkeypatch.setattr(PythonHost, "invoke", invoke)
    monkeypatch.setattr(PythonHost, "sleep_sync", lambda self, s: h.run.sleeps.append(s))
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    logging.disable(logging.CRITICAL)  # the Router logs every failed fallback as an error
    yield h
    logging.disable(logging.NOTSET)


def router(**settings: Any) -> Router:
    deployments = [
        {"model_name": m, "litellm_params": {"model": f"openai/{m}", "api_key": "sk-x"}}
        for m in MODELS
    ]
    return Router(model_list=deployments, **settings)


def router_run(host: Host, r: Router, script: dict[str, Case | None]) -> Run:
    host.script, host.run = script, Run()
    with contextlib.suppress(Exception):  # the Router's final error; what it did is the point
        r.completion(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    return host.run


def ours(u: float, fallback: bool, **retry: Any) -> ClientBrain:
    cfg = ClientConfig(
        retry=RetryConfig(kind="litellm_router", **retry),
        fallback=["gpt-4o-mini"] if fallback else [],
    )
    return ClientBrain(cfg, DEFAULT_CATALOG, PinnedRandom(u), lambda seq: PinnedRandom(u))


def why(case: str, theirs: Run, low: Run, high: Run) -> str:
    return (
        f"{VERSION} now differs from kind litellm_router on case '{case}': the Router made "
        f"{theirs}; the model made {low} with its draws at 0 and sleeps [{high.sleeps}] at 1"
    )


def check_run(case: str, theirs: Run, low: Run, high: Run) -> None:
    """Same attempts; each of the Router's sleeps inside the model's range for that retry."""
    assert low.models == theirs.models, why(case, theirs, low, high)
    assert len(theirs.sleeps) == len(low.sleeps), why(case, theirs, low, high)
    for lo, hi, t in zip(low.sleeps, high.sleeps, theirs.sleeps, strict=True):
        assert lo - 1e-6 <= t <= hi + 1e-6, why(case, theirs, low, high)


def model_range(
    script: dict[str, Case | None], fallback: bool = False, **retry: Any
) -> tuple[Run, Run]:
    low, _ = model_run(ours(0.0, fallback, **retry), script, 0.0)
    high, _ = model_run(ours(1.0, fallback, **retry), script, 1.0)
    return low, high


# LiteLLM ignores a retry-after-ms sent without retry-after; the model, which sees one
# Retry-After however it came, cannot (see simulator/client/litellm_router.py).
ROUTER_CASES = [c for c in CASES if not (c.retry_after_ms and c.retry_after is None)]


@pytest.mark.parametrize("case", ROUTER_CASES, ids=lambda c: c.label)
@pytest.mark.parametrize("fallback", [False, True], ids=["alone", "with_fallback"])
def test_same_attempts_and_sleeps_in_range_as_the_router(
    host: Host, case: Case, fallback: bool
) -> None:
    r = router(fallbacks=FALLBACKS) if fallback else router()
    script: dict[str, Case | None] = {"gpt-4o": case, "gpt-4o-mini": case}
    theirs = router_run(host, r, script)
    check_run(case.label, theirs, *model_range(script, fallback))


@pytest.mark.parametrize(
    ("settings", "retry"),
    [
        ({"num_retries": 4}, {"num_retries": 4}),
        ({"num_retries": 0}, {"num_retries": 0}),
        ({"retry_after": 3}, {"min_wait_s": 3}),
        ({"retry_after": 12}, {"min_wait_s": 12}),  # the floor is capped at 8 s too
    ],
)
def test_router_settings_map_to_fields(
    host: Host, settings: dict[str, Any], retry: dict[str, Any]
) -> None:
    script: dict[str, Case | None] = {"gpt-4o": Case("500", 500)}
    theirs = router_run(host, router(**settings), script)
    check_run(f"500 with {settings}", theirs, *model_range(script, **retry))


RUNS = 150  # a sleep misses the outer tenth of its jitter range 150 times in 1e-7 runs


@pytest.mark.parametrize(
    ("case", "settings", "retry"),
    [
        (Case("500", 500), {}, {}),
        (Case("429 retry-after 30", 429, retry_after="30"), {}, {}),
        (
            Case("503", 503),
            {"retry_after": 3, "num_retries": 1},
            {"min_wait_s": 3, "num_retries": 1},
        ),
    ],
    ids=["backoff", "retry-after", "floor"],
)
def test_the_routers_sleeps_fill_the_models_range(
    host: Host, case: Case, settings: dict[str, Any], retry: dict[str, Any]
) -> None:
    script: dict[str, Case | None] = {"gpt-4o": case}
    low, high = model_range(script, **retry)
    r = router(**settings)
    samples = [router_run(host, r, script).sleeps for _ in range(RUNS)]
    for k, (lo, hi) in enumerate(zip(low.sleeps, high.sleeps, strict=True)):
        got = [s[k] for s in samples]
        slack = 0.1 * (hi - lo)
        assert lo - 1e-6 <= min(got) <= lo + slack, f"{VERSION}: sleep {k + 1} min {min(got)}"
        assert hi - slack <= max(got) <= hi + 1e-6, f"{VERSION}: sleep {k + 1} max {max(got)}"


SEQUENCES = {
    # A 401 cools the deployment by default: the next request is refused without an attempt.
    "401 then a success": ({}, ["401", None]),
    "404 then a success": ({}, ["404", None]),
    # A 429 or 5xx never cools a single deployment without allowed_fails.
    "429, 429, then a success": ({}, ["429", "429", None]),
    "503 retry-after 30, then a success": ({}, ["503 retry-after 30", None]),
    # With allowed_fails and a fallback group, the (allowed_fails + 1)th failure cools it.
    "allowed_fails 0: 500 then a success": ({"allowed_fails": 0}, ["500", None, None]),
    "allowed_fails 1: 500 then a success": ({"allowed_fails": 1}, ["500", None, None]),
    # Counted across requests, inside the counter's 5 s window (one retry keeps ours there).
    "allowed_fails 2: 500, 500, then a success": (
        {"allowed_fails": 2, "num_retries": 1},
        ["500", "500", None],
    ),
    # The cooldown lasts the Retry-After (30 s here, not cooldown_time).
    "allowed_fails 0: 429 retry-after 30": ({"allowed_fails": 0}, ["429 retry-after 30", None]),
    "allowed_fails 0: 400 does not count": ({"allowed_fails": 0}, ["400", None]),
    "allowed_fails 0: connection errors do not count": (
        {"allowed_fails": 0},
        ["connection error", None],
    ),
}
_BY_LABEL = {c.label: c for c in CASES}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("fallback", [False, True], ids=["alone", "with_fallback"])
def test_cooldowns_across_requests_as_the_router(host: Host, name: str, fallback: bool) -> None:
    """Consecutive requests on one Router: the primary fails as labelled (None: succeeds), the
    fallback always succeeds. The Router's sleeps are recorded, not slept, so its requests
    follow each other within milliseconds; ours follow each other after the sleeps, still
    inside every cooldown and counter window that decides these sequences."""
    settings, steps = SEQUENCES[name]
    r = router(**settings, **({"fallbacks": FALLBACKS} if fallback else {}))
    low_brain, high_brain = ours(0.0, fallback, **settings), ours(1.0, fallback, **settings)
    low_now = high_now = 0.0
    for i, label in enumerate(steps):
        script: dict[str, Case | None] = {
            "gpt-4o": None if label is None else _BY_LABEL[label],
            "gpt-4o-mini": None,
        }
        theirs = router_run(host, r, script)
        low, low_now = model_run(low_brain, script, 0.0, low_now)
        high, high_now = model_run(high_brain, script, 1.0, high_now)
        check_run(f"{name}, request {i + 1}", theirs, low, high)


def test_the_preset_has_the_router_defaults() -> None:
    r = router()
    retry = PRESETS["litellm_router"].retry
    assert retry.num_retries == r.num_retries, f"{VERSION} changed num_retries"
    assert retry.cooldown_time_s == litellm.constants.DEFAULT_COOLDOWN_TIME_SECONDS
    assert retry.allowed_fails is None and retry.min_wait_s == 0 == r.retry_after
    assert PRESETS["litellm_router"].timeouts.read_s == litellm.request_timeout
