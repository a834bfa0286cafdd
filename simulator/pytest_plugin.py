"""A pytest plugin, so a team tests its own LLM client in its own suite (entry point ``pytest11``).

Installed with llm-stampede, it gives every test suite:

- the fixture ``stampede_mock``: the mock provider on a free 127.0.0.1 port, in a thread of
  the test process (started in well under a second, stopped at the test's end; the start is
  bounded by :data:`START_TIMEOUT_S`), with ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``,
  ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY`` set for the test, and a request journal in
  the test's ``tmp_path``. Override the fixture ``stampede_provider`` to give the mock a config
  of your own (limits, models, fault windows: the ``provider:`` section of a scenario, as a
  dict or a :class:`~mock_provider.config.ProviderConfig`);
- :meth:`StampedeMock.queue_fault`: fail the next requests the way you choose, through the
  mock's ``POST /_stampede/faults`` (the fault schema of the scenario's ``provider.faults``);
  a mock without that endpoint skips the test, saying so;
- :meth:`StampedeMock.reset`: scenario time 0 now (fault windows count from it);
- :func:`assert_audit_passes`: ``stampede audit`` on what this test sent, failing the test with
  the audit's findings.

Example::

    def test_my_client_backs_off(stampede_mock):
        stampede_mock.queue_fault("error", status=429, retry_after=1)
        my_app.answer("hello")          # builds its OpenAI() client from the environment
        assert_audit_passes(stampede_mock)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mock_provider.config import ProviderConfig
from mock_provider.journal import JournalEntry, read_journal
from simulator.apps.request import sdk_environment
from simulator.audit.findings import Audit, AuditLimits, audit
from simulator.audit.render import audit_table

__all__ = ["START_TIMEOUT_S", "StampedeMock", "assert_audit_passes"]

START_TIMEOUT_S = 10.0
API_KEY = "sk-stampede-test"
FAULTS_PATH = "/_stampede/faults"


@dataclass
class StampedeMock:
    """The running mock, as a test sees it."""

    host: str  # http://127.0.0.1:PORT
    journal: Path
    api_key: str = API_KEY
    fault_ids: list[str] = field(default_factory=list)

    @property
    def openai_base_url(self) -> str:
        return self.host + "/v1"

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.host + path, data=data, method=method,
                                     headers={"content-type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def reset(self) -> None:
        """Scenario time 0 now: the mock's limits refill, its fault windows start over."""
        status, _ = self._call("POST", "/_stampede/reset", {"epoch": time.time()})
        assert status == 200, f"the mock refused a reset ({status})"

    def queue_fault(self, kind: str, times: int = 1, **params: Any) -> str:
        """Fail the next ``times`` requests with fault ``kind`` (``error``, ``reset``,
        ``hang``, ``cut_stream``...; ``params`` as in a scenario's ``provider.faults``, e.g.
        ``status=429, retry_after=1``). Returns the fault's id. Skips the test when the mock
        has no fault queue (``POST /_stampede/faults`` answers 404)."""
        status, body = self._call("POST", FAULTS_PATH, {"kind": kind, "times": times, **params})
        if status == 404:
            pytest.skip(
                f"this mock has no fault queue ({FAULTS_PATH} answered 404): it comes with the "
                "mock's runtime fault control; use a fault window (stampede_provider) meanwhile"
            )
        assert status == 200, f"the mock refused the fault {kind!r} {params} ({status})"
        fault_id = str((body or {}).get("id", ""))
        self.fault_ids.append(fault_id)
        return fault_id

    def clear_faults(self) -> None:
        self._call("DELETE", FAULTS_PATH)
        self.fault_ids.clear()

    def mark(self) -> int:
        """A point in the journal: ``entries(since=mark)`` is what came after it (to audit
        two clients in one test)."""
        return self.journal.stat().st_size if self.journal.exists() else 0

    def entries(self, since: int = 0) -> list[JournalEntry]:
        """Every request the mock has journalled in this test (after ``since``)."""
        return list(read_journal(self.journal, since)) if self.journal.exists() else []

    def audit(self, limits: AuditLimits | None = None, since: int = 0) -> Audit:
        return audit(self.entries(since), limits)


def assert_audit_passes(
    mock: StampedeMock, limits: AuditLimits | None = None, since: int = 0
) -> Audit:
    """Fail the test with the audit's table when a finding fails; the audit otherwise.
    ``since``: a :meth:`StampedeMock.mark`, to judge only what came after it."""
    result = mock.audit(limits, since)
    if not result.requests:
        pytest.fail("the audit saw no request: did the client reach the mock?", pytrace=False)
    if not result.passed:
        pytest.fail(f"the client fails the audit:\n{audit_table(result)}", pytrace=False)
    return result


@pytest.fixture
def stampede_provider() -> ProviderConfig | dict[str, Any]:
    """The mock's config; override this fixture in a conftest or a test module."""
    return ProviderConfig()


@pytest.fixture
def stampede_mock(
    stampede_provider: ProviderConfig | dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StampedeMock]:
    cfg = (
        stampede_provider
        if isinstance(stampede_provider, ProviderConfig)
        else ProviderConfig.model_validate(stampede_provider)
    )
    journal = tmp_path / "stampede-requests.jsonl"
    with _serving(cfg, journal) as port:
        mock = StampedeMock(f"http://127.0.0.1:{port}", journal)
        for name, value in sdk_environment(mock.host, mock.api_key).items():
            monkeypatch.setenv(name, value)
        yield mock


class _Server:
    """The mock's aiohttp app on its own event loop, in a daemon thread."""

    def __init__(self, cfg: ProviderConfig, journal: Path) -> None:
        from aiohttp import web

        from mock_provider.server import create_app

        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(create_app(cfg, journal), access_log=None,
                                    handle_signals=False)  # fmt: skip
        self.ready = threading.Event()
        self.port = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="stampede-mock", daemon=True)

    async def _start(self) -> None:
        from aiohttp import web

        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by the fixture, in the test
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()


@contextmanager
def _serving(cfg: ProviderConfig, journal: Path) -> Iterator[int]:
    """The port the mock listens on, until the block ends."""
    server = _Server(cfg, journal)
    server.thread.start()
    if not server.ready.wait(START_TIMEOUT_S):
        raise RuntimeError(f"the stampede mock did not start in {START_TIMEOUT_S:g} s")
    if server.error is not None:
        raise RuntimeError(f"the stampede mock did not start: {server.error!r}")
    try:
        yield server.port
    finally:
        server.loop.call_soon_threadsafe(server.loop.stop)
        server.thread.join(START_TIMEOUT_S)
