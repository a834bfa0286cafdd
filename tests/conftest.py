"""Shared fixtures: a real mock provider on a loopback port, run in a background thread."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from hypothesis import settings

from mock_provider.config import ProviderConfig
from mock_provider.server import create_app

# Nothing in the tests reaches the internet: LiteLLM fetches its cost map, its Anthropic beta
# headers and more at import unless told to use its bundled copies (its offline mode). Set
# here, before any test imports it; subprocesses (Locust, app strategies) inherit it.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")

# CI draws the same hypothesis examples every run: a gate must not fail on what it happened
# to draw this time. A developer's run explores new ones (and keeps the failures it finds).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass
class RunningMock:
    base_url: str
    port: int
    app: web.Application


@contextmanager
def running_mock(cfg: ProviderConfig, request_log: str | None = None) -> Iterator[RunningMock]:
    """Serve ``cfg`` on 127.0.0.1 (free port) until the block ends; waits until it listens."""
    loop = asyncio.new_event_loop()
    app = create_app(cfg, request_log)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "mock did not start"
    port = box["port"]
    try:
        yield RunningMock(f"http://127.0.0.1:{port}/v1", port, app)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def mock_server() -> Iterator[Callable[..., Any]]:
    """Factory: ``with mock_server(cfg) as m: ...`` (or call with ProviderConfig kwargs)."""
    stack: list[Any] = []

    def make(cfg: ProviderConfig | None = None, **kwargs: Any) -> RunningMock:
        cm = running_mock(cfg or ProviderConfig(**kwargs))
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
