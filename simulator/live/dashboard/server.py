"""The live dashboard's HTTP server: ``stampede run --web``, on 127.0.0.1 in the orchestrating
process, in a thread of its own (the orchestrator owns no event loop).

Routes: ``GET /`` the page (``page.html``, one self-contained file: its script polls
``/state.json`` once a second and draws with inline SVG; it loads nothing else);
``GET /state.json`` the state (``state.py``), fed once a second, while the run goes, the new
bytes of the run's traces (and app strategies' calls) and one scrape of the mock's ``/metrics``;
``GET /metrics`` that scrape as the mock gave it; ``GET /<file>`` the run folder's report
(``report.html``, ``plots/*.png``, ``summary.json``, ``summary.csv``) once it is written.

It serves while the run goes, then the final state for a bounded linger (``--web-linger``),
then stops: a run with ``--web`` still ends on its own.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.apps.calls import calls_path
from simulator.console import wrap
from simulator.live.dashboard.state import Board

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from simulator.config import Scenario
    from simulator.live.orchestrate import LiveRun

__all__ = ["Dashboard", "Tail", "serve_during"]

REFRESH_S = 1.0  # the files and the mock are read once a second, however many pages watch
SCRAPE_TIMEOUT_S = 1.0
SERVED = {".html": "text/html; charset=utf-8", ".png": "image/png",
          ".json": "application/json", ".csv": "text/csv; charset=utf-8"}  # fmt: skip


class Tail:
    """The bytes appended to a file since the last read; starts over if the file is replaced
    or shrinks (a run folder emptied of an earlier run's outputs)."""

    def __init__(self, path: Path, whole_lines: bool = False) -> None:
        self.path = path
        self.whole_lines = whole_lines
        self.offset = 0
        self.inode: int | None = None

    def read(self) -> tuple[bytes, bool]:
        """(new bytes, whether the file was replaced since the last read)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return b"", False
        replaced = self.inode is not None and (
            stat.st_ino != self.inode or stat.st_size < self.offset
        )
        if replaced:
            self.offset = 0
        self.inode = stat.st_ino
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        if self.whole_lines:
            data = data[: data.rfind(b"\n") + 1]
        self.offset += len(data)
        return data, replaced


class Dashboard:
    """One run's dashboard. Bind it (``--web-port`` busy: OSError) before the run starts,
    ``follow`` the run folder, ``watch`` the live run once it exists, ``finish`` it when the
    report is written, then ``linger`` and ``close``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root.resolve()  # files are served from here, and nothing outside it
        self.lock = threading.Lock()
        self.board: Board | None = None
        self.run_dir = root
        self.run: LiveRun | None = None
        self.phase = "starting"
        self.report: str | None = None
        self.message: str | None = None
        self.metrics_text: str | None = None
        self._tails: dict[str, Tail] = {}
        self._page = files("simulator.live.dashboard").joinpath("page.html").read_bytes()
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def follow(self, sc: Scenario, run_dir: Path, expected: int, mode: str) -> None:
        """Show the run going into ``run_dir`` (each repeat of ``--repeat`` in turn)."""
        with self.lock:
            self.run_dir = run_dir
            self.run = None
            self.phase = "starting" if mode == "live" else "running"
            self.board = Board(
                sc.name, list(sc.strategies), expected, sc.duration + sc.drain, mode,
                sc.time_scale, frozenset(sc.apps),
            )  # fmt: skip
            self._tails = {"": Tail(run_dir / "traces.jsonl")}
            for name in sc.apps:
                self._tails[name] = Tail(calls_path(run_dir, name), whole_lines=True)

    def watch(self, run: LiveRun) -> None:
        """The live run: its mock's address, and which strategies have completed."""
        self.run = run

    def finish(self, phase: str, report: Path | None = None, message: str | None = None) -> None:
        """The run has ended (``phase``); ``report`` is its report.html if one was written.
        The traces are read to their end; the limiter keeps its last scrape (the mock has
        stopped)."""
        with self.lock:
            self._refresh()
            self.phase = phase
            self.message = message
            if report is not None and report.exists():
                self.report = report.resolve().relative_to(self.root).as_posix()

    def linger(self, seconds: float) -> None:
        """Keep serving the final state for ``seconds`` (Ctrl-C ends it sooner)."""
        with contextlib.suppress(KeyboardInterrupt):
            self._stop.wait(None if math.isinf(seconds) else seconds)

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ----------------------------------------------------------------------- state

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            host = self._host()
            # outside the lock: a mock under load may be slow to answer, the page must not be
            scraped = scrape(host) if host is not None else None
            with self.lock:
                if self.phase in ("starting", "running"):
                    self._refresh(scraped)

    def _host(self) -> str | None:
        return self.run.host if self.run is not None else None

    def state(self) -> dict[str, Any]:
        with self.lock:
            board = self.board
            if board is None:
                return {"phase": "starting", "strategies": [], "limiter": {"rows": []}}
            current, completed = self._positions(board)
            return board.snapshot(
                phase=self.phase, current=current, completed=completed, report=self.report,
                run_dir=str(self.run_dir), message=self.message,
            )  # fmt: skip

    def _positions(self, board: Board) -> tuple[str | None, list[str]]:
        """The strategy running now and those done: the live run says; a virtual run's
        strategies run in order, so those before the last one traced are done."""
        run = self.run
        if run is not None:
            completed = list(run.completed)
            left = [s for s in run.strategies if s not in completed]
            return (left[0] if left and self.phase == "running" else None), completed
        traced = [s for s in board.strategies if board.progress[s].requests]
        if not traced or self.phase != "running":
            return None, traced
        return traced[-1], traced[:-1]

    def _refresh(self, scraped: tuple[str | None, str | None] | None = None) -> None:
        """Feed the board the files' new bytes and ``scraped`` (the mock's metrics text, or
        None and why not)."""
        board = self.board
        if board is None:
            return
        run = self.run
        if run is not None:
            board.time_scale = run.scenario.time_scale  # "auto" until calibration chose one
            if (
                self.phase == "starting"
                and run.host is not None
                and run.scenario.time_scale != "auto"
            ):
                self.phase = "running"
        for name, tail in self._tails.items():
            data, replaced = tail.read()
            if replaced:  # an earlier run's file, emptied: count again from the new one
                self._count_afresh()
                return
            if name == "":
                board.feed_traces(data)
            else:
                board.feed_calls(name, data)
        if scraped is not None:
            text, note = scraped
            self.metrics_text = text or self.metrics_text
            board.feed_metrics(text, note)
        elif self._host() is None:
            why = "virtual run: no mock" if board.mode == "virtual" else "the mock is starting"
            board.feed_metrics(None, why)

    def _count_afresh(self) -> None:
        board = self.board
        assert board is not None
        self.board = Board(board.scenario, board.strategies, board.expected, board.span_s,
                           board.mode, board.time_scale, board.apps)  # fmt: skip
        for tail in self._tails.values():
            tail.offset = 0

    # ----------------------------------------------------------------------- files

    def run_file(self, url_path: str) -> Path | None:
        """A report file under the served folder, or None (anything else is not served)."""
        relative = url_path.lstrip("/")
        path = (self.root / relative).resolve()
        if path.suffix not in SERVED or not path.is_file() or not path.is_relative_to(self.root):
            return None
        name = path.name
        if path.suffix == ".json" and not name.startswith("summary"):
            return None
        return path


def scrape(host: str) -> tuple[str | None, str | None]:
    """The mock's ``/metrics`` text, or None and why it could not be read."""
    try:
        with urllib.request.urlopen(host + "/metrics", timeout=SCRAPE_TIMEOUT_S) as resp:
            return resp.read().decode(), None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{host}/metrics: {getattr(exc, 'reason', exc)}"


def _handler(board: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "stampede-dashboard"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", board._page)
            elif path == "/state.json":
                body = json.dumps(board.state(), allow_nan=False).encode()
                self._send(HTTPStatus.OK, "application/json", body)
            elif path == "/metrics" and board.metrics_text is not None:
                self._send(HTTPStatus.OK, "text/plain; charset=utf-8", board.metrics_text.encode())
            elif (file := board.run_file(path)) is not None:
                self._send(HTTPStatus.OK, SERVED[file.suffix], file.read_bytes())
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            with contextlib.suppress(ConnectionError):  # a page closed mid-answer
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the terminal is the run's."""

    return Handler


def serve_during(
    board: Dashboard,
    work: Callable[[], int],
    *,
    endings: Mapping[int, tuple[str, str]],
    report: Path,
    linger_s: float,
) -> int:
    """Run ``work`` (the run and its report) with the dashboard up; then show how it ended
    (``endings``: exit status -> phase, message), keep serving ``linger_s`` seconds unless it
    was interrupted, and stop."""
    try:
        status = work()
    except BaseException:
        board.finish("failed", None, "the run stopped on an error: see the terminal")
        board.close()
        raise
    phase, message = endings.get(status, ("failed", f"exit status {status}"))
    board.finish(phase, report, message)
    try:
        if phase != "interrupted" and linger_s > 0:
            how_long = (
                "until Ctrl-C" if math.isinf(linger_s) else f"for {linger_s:g} s (Ctrl-C: sooner)"
            )
            print(wrap(f"dashboard: the final state stays at {board.url} {how_long}"), flush=True)
            board.linger(linger_s)
    finally:
        board.close()
    return status
