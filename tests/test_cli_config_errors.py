"""Bad scenarios and flags exit with status 2 before anything starts, naming file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main

GOOD = """
name: tiny
duration: 10
workload:
  arrivals: {kind: burst, n: 5, at: 0}
strategies:
  a: {retry: {kind: full_jitter}}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        (GOOD.replace("full_jitter", "fool_jitter"), "strategies.a.retry.kind", "full_jitter"),
        (GOOD.replace("n: 5", "n: lots"), "workload.arrivals", "integer"),
        (GOOD.replace("duration: 10", "duration: forever"), "duration", "duration"),
        (GOOD + "colour: blue\n", "colour", "unknown field"),
        (GOOD.replace("name: tiny\n", ""), "name", "required"),
        (GOOD + "thresholds:\n  a: {p95_latency: '< 5'}\n", "thresholds.a.p95_latency",
         "p95_latency_ms"),
        (GOOD + "thresholds:\n  a: {p95_latency_ms: 'fast'}\n", "thresholds.a.p95_latency_ms",
         ""),
        (GOOD + "thresholds:\n  b: {success_rate: '> 0.5'}\n", "thresholds", "'b'"),
        ("name: [unclosed\n", "line", "YAML"),
        (GOOD.replace("at: 0", "at: 50"), "workload", "duration"),
    ],
)  # fmt: skip
def test_bad_scenario_exits_2_naming_file_and_field(tmp_path, capsys, text, field, hint):
    path = write(tmp_path, text)
    out = tmp_path / "out"
    assert main(["run", path, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert path in err
    assert field in err
    assert hint in err
    assert not out.exists(), "nothing may start on a config error"


def test_unknown_strategy_flag_lists_choices(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert main(["run", path, "--strategies", "a,zzz", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--strategies" in err and "zzz" in err and "['a']" in err


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read file" in capsys.readouterr().err


def test_serve_bad_config_exits_2(tmp_path):
    path = tmp_path / "provider.yaml"
    path.write_text("default_rpm: -3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mock_provider", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "default_rpm" in proc.stderr
