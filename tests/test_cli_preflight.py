"""`stampede lint`, the pre-flight inside `stampede run`, and the CLI's rough edges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.live.orchestrate import Progress

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
STARVED = str(ROOT / "tests" / "scenarios" / "tpm_starved_fallback.yaml")


def section(out: str, title: str) -> str:
    """The lines of one ``title (n):`` group of lint's output."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title} ("))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[start:end])


def fits(text: str) -> bool:
    return all(len(line) <= 100 for line in text.splitlines())


# --------------------------------------------------------------------------- lint


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_lint_passes_every_shipped_scenario_in_100_columns(path, capsys):
    assert main(["lint", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"stampede lint {path}")
    assert out.rstrip().splitlines()[-1].startswith("verdict: ")
    assert "errors (" not in out
    assert fits(out)


def test_lint_flags_the_issue_scenario(capsys):
    assert main(["lint", STARVED]) == 0
    out = capsys.readouterr().out
    warnings = section(out, "warnings")
    assert warnings.startswith("warnings (2):")
    assert "  provider.models.gpt-4o.tpm: gpt-4o: about 300 requests/min" in warnings
    assert "  provider.models.gpt-4o-mini: gpt-4o-mini (strategies.with_fallback.fallback[0])" in (
        warnings
    )
    assert out.rstrip().endswith("verdict: 2 warnings: it runs, but its verdict may not show "
                                 "what the scenario claims")  # fmt: skip


def test_lint_duration_override_shows_the_outage_never_meets_arrivals(capsys):
    path = str(ROOT / "scenarios" / "outage_fallback.yaml")
    assert main(["lint", path]) == 0
    assert "provider.faults[0]" not in capsys.readouterr().out
    assert main(["lint", path, "--duration", "5s"]) == 0
    assert "  provider.faults[0].start: the outage on gpt-4o from 30 s" in section(
        capsys.readouterr().out, "warnings"
    )


def test_lint_exits_2_on_a_preflight_error(tmp_path, capsys):
    path = tmp_path / "late.yaml"
    path.write_text(
        "name: late\nduration: 10\nworkload:\n  arrivals: {kind: burst, n: 5, at: 12}\n"
        "strategies:\n  a: {}\n"
    )
    assert main(["lint", str(path)]) == 2
    out = capsys.readouterr().out
    assert "  workload.arrivals.at: the burst at 12 s is at or after the duration" in section(
        out, "errors"
    )
    assert out.rstrip().endswith("verdict: 1 error, 0 warnings: this scenario cannot run as "
                                 "written (exit 2)")  # fmt: skip
    # the same scenario does not start a run
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "cannot run as written" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "out").exists()


def test_lint_exits_2_on_a_config_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nworkload:\n  arrivals: {kind: poisson, rate: 1, users: 5}\n"
        "strategies:\n  a: {}\n"
    )
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "workload.arrivals.users: users is not used by kind poisson" in err


@pytest.mark.parametrize("names", ["", ",", " , "])
@pytest.mark.parametrize("command", ["run", "lint"])
def test_strategies_naming_nothing_is_an_error(tmp_path, capsys, command, names):
    path = str(ROOT / "scenarios" / "thundering_herd.yaml")
    extra = ["--out", str(tmp_path / "out")] if command == "run" else []
    assert main([command, path, "--strategies", names, *extra]) == 2
    assert "--strategies: names no strategy" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_narrowing_warns_about_thresholds_and_baseline_left_unchecked(capsys):
    herd = str(ROOT / "scenarios" / "thundering_herd.yaml")
    assert main(["lint", herd, "--strategies", "naive"]) == 0
    assert "  thresholds.full_jitter: not checked: --strategies leaves full_jitter out" in (
        capsys.readouterr().out
    )
    outage = str(ROOT / "scenarios" / "outage_fallback.yaml")
    assert main(["lint", outage, "--strategies", "fallback_chain"]) == 0
    assert "  baseline: no_fallback is not in this run" in capsys.readouterr().out
    assert main(["lint", outage, "--strategies", "no_fallback"]) == 0
    assert "thresholds.fallback_chain: not checked" in capsys.readouterr().out


# --------------------------------------------------------------------------- rough edges


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"stampede {version('llm-stampede')}\n"


def test_serve_on_a_busy_port_is_one_line_and_exit_2(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def test_config_errors_wrap_to_100_columns(tmp_path, capsys):
    path = tmp_path / "itpm.yaml"
    path.write_text(
        "name: c\nworkload:\n  model: gpt-4o-mini\n  arrivals: {kind: burst, n: 1}\n"
        "strategies:\n  a: {}\nprovider:\n  models:\n    gpt-4o-mini: {itpm: 1000}\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) > 2  # the long message was wrapped...
    assert fits(err)  # ...to 100 columns...
    flat = " ".join(err.split())  # ...and nothing was lost
    assert "provider.models.gpt-4o-mini.itpm: itpm limits models that speak Anthropic's" in flat
    assert "use tpm (prompt + output tokens) for it" in flat


def test_progress_lines_fit_100_columns():
    p = Progress("decorrelated_jitter", 12_345)
    p.requests, p.successes, p.attempts, p.rate_limited = 12_345, 12_000, 123_456, 99_999
    p.server_errors, p.fallbacks = 5_000, 12_000
    line = p.line(1234.5, 1800.0)
    assert len(line) <= 100 and line.startswith("  decorr") and "attempts 123.5k" in line
    small = Progress("decorrelated_jitter", 100)
    small.attempts = 268
    assert "attempts 268  429 0" in small.line(5.0, 180.0)  # roomy spacing while it fits
    long = Progress("a_strategy_name_far_too_long_to_fit_on_one_line_with_the_counts", 100)
    cut = long.line(5.0, 180.0)
    assert len(cut) <= 100 and cut.startswith("  a_strategy_name") and "…" in cut
    assert "done 0/100" in cut


def closed_pipe_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose read end is already closed (a `| head` that
    has exited): every write to stdout fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "simulator.cli", *args],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("scenario", "status"), [(STARVED, 0), ("nope.yaml", 2)], ids=["warnings", "missing"]
)
def test_a_closed_pipe_is_quiet_and_keeps_the_exit_status(scenario, status):
    proc = closed_pipe_run("lint", scenario)
    assert proc.returncode == status
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


TINY = """
name: tiny_pipe
duration: 2
drain: 4
time_scale: 10
provider:
  models:
    gpt-4o-mini: {rpm: 600, tpm: 2000000}
  faults:
    - {kind: outage, model: gpt-4o-mini, start: 3, end: 5}
workload:
  model: gpt-4o-mini
  arrivals: {kind: burst, n: 5, at: 0}
strategies:
  plain: {retry: {kind: full_jitter, max_attempts: 2}}
thresholds:
  plain: {success_rate: ">= 0.0"}
"""


def test_run_through_a_closed_pipe_still_writes_its_report_and_preflight(tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    out = tmp_path / "run"
    proc = closed_pipe_run("run", str(scenario), "--out", str(out))
    assert proc.returncode == 0, proc.stderr  # the run's own status: its threshold holds
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    assert "warning: provider.faults[0].start: the outage on gpt-4o-mini from 3 s" in (proc.stderr)
    assert (out / "report.html").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategies"]["plain"]["logical_requests"] == 5
    [finding] = json.loads((out / "run.json").read_text())["preflight"]
    assert finding["level"] == "warning" and finding["field"] == "provider.faults[0].start"
    assert "meets only retries" in finding["message"]
