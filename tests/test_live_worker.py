"""`stampede worker`'s loop (simulator/live/worker.py), with a stand-in for the Locust worker
that exits with the codes a real one would: one per strategy, then the run's end."""

from __future__ import annotations

import io
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from simulator.live import worker
from simulator.live.worker import NEXT_STRATEGY_EXIT, RUN_OVER_EXIT, worker_main

# Pops the next exit code from the file and exits with it.
STAND_IN = (
    "import pathlib, sys; p = pathlib.Path(sys.argv[1]); codes = p.read_text().split(); "
    "p.write_text(' '.join(codes[1:])); sys.exit(int(codes[0]))"
)


def run_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codes: list[int]) -> tuple:
    script = tmp_path / "codes"
    script.write_text(" ".join(map(str, codes)))
    monkeypatch.setattr(
        worker, "locust_worker_cmd", lambda *_: [sys.executable, "-c", STAND_IN, str(script)]
    )
    out = io.StringIO()
    args = Namespace(master_host="127.0.0.1", master_port=5557, loglevel="WARNING")
    return worker_main(args, out), out.getvalue(), script.read_text().split()


def test_one_command_serves_every_strategy_then_leaves(tmp_path, monkeypatch):
    codes = [NEXT_STRATEGY_EXIT, NEXT_STRATEGY_EXIT, RUN_OVER_EXIT, NEXT_STRATEGY_EXIT]
    status, out, left = run_worker(tmp_path, monkeypatch, codes)
    assert status == 0
    assert out.count("waiting for the master at 127.0.0.1:5557") == 3
    assert "strategy 2 done" in out and "the run is over, after 3 strategies" in out
    assert left == [str(NEXT_STRATEGY_EXIT)]  # no worker started after the run's end


def test_no_master_or_a_failed_worker_is_a_run_error(tmp_path, monkeypatch, capsys):
    status, _, _ = run_worker(tmp_path, monkeypatch, [NEXT_STRATEGY_EXIT, 255])
    assert status == 3
    assert "no master answered at 127.0.0.1:5557" in capsys.readouterr().err
    status, _, _ = run_worker(tmp_path, monkeypatch, [1])
    assert status == 3
    assert "exited with status 1" in capsys.readouterr().err
