"""The start handshake (simulator/live/start.py): t=0 is set only once every process is ready."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from simulator.live.start import START_LEAD_S, await_start, ready_count, set_start


def _wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_every_process_gets_the_epoch_the_mock_was_reset_to(tmp_path: Path) -> None:
    got: dict[int, float | None] = {}

    def process(worker: int) -> None:
        got[worker] = await_start(tmp_path, worker, lambda: False, timeout_s=30)

    threads = [threading.Thread(target=process, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    _wait_for(lambda: ready_count(tmp_path) == 2)
    assert got == {}  # both wait: no t=0 yet
    resets: list[tuple[float, bool]] = []

    def reset(epoch: float) -> None:  # the mock learns t=0 before any process can
        resets.append((epoch, (tmp_path / "epoch").exists()))

    before = time.time()
    epoch = set_start(tmp_path, reset)
    for t in threads:
        t.join(timeout=30)
    assert resets == [(epoch, False)]
    assert got == {0: epoch, 1: epoch}
    assert before + START_LEAD_S <= epoch <= time.time() + START_LEAD_S


def test_a_stop_or_the_deadline_ends_the_wait_without_an_epoch(tmp_path: Path) -> None:
    stop = threading.Event()
    result: list[float | None] = []
    waiter = threading.Thread(
        target=lambda: result.append(await_start(tmp_path, 0, stop.is_set, timeout_s=60))
    )
    waiter.start()
    _wait_for(lambda: ready_count(tmp_path) == 1)
    stop.set()
    waiter.join(timeout=10)
    assert result == [None]
    began = time.monotonic()
    assert await_start(tmp_path, 1, lambda: False, timeout_s=0.05) is None
    assert time.monotonic() - began < 5
    assert ready_count(tmp_path) == 2
