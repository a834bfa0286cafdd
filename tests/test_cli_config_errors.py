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
        (GOOD.replace("workload:\n", "workload:\n  model: gpt-4o-mimi\n"), "workload.model",
         "gpt-4o-mini"),
        (GOOD.replace("full_jitter}}", "full_jitter}, fallback: [gpt-4o, gtp-4o-mini]}"),
         "strategies.a.fallback[1]", "unknown model 'gtp-4o-mini'"),
        (GOOD.replace("workload:\n", "workload:\n  model: text-embedding-3-small\n"),
         "workload.model", "not a chat model"),
        (GOOD + "provider:\n  models:\n    gpt-4o: {itpm: 1000}\n",
         "provider.models.gpt-4o.itpm", "use tpm"),
        (GOOD + "provider:\n  faults: [{kind: outage, model: gpt-4o-mimi}]\n",
         "provider.faults[0].model", "'*'"),
        (GOOD + "time_scale: fast\n", "time_scale", "a number above 0 or 'auto'"),
        (GOOD + "time_scale: 0\n", "time_scale", "a number above 0 or 'auto'"),
        (GOOD + "time_scale: auto\nprovider:\n  models:\n    gpt-4o-mini: {latency: {network_ms: "
         "{median: 0}, prefill_ms_per_token: {median: 0}, first_token_ms: {median: 0}, "
         "decode_ms_per_token: {median: 0}}}\n", "time_scale", "auto needs a model"),
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
    missing = str(tmp_path / "nope.yaml")
    assert main(["run", missing]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file\n"
    assert main(["serve", "--config", missing, "--port", "0"]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file\n"


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


def test_model_refs_accept_served_models_and_a_dialect_override(tmp_path):
    """Shipped scenarios, a new model, a Claude model in its own format and one set to
    OpenAI's format all pass."""
    from simulator.config import load_scenario
    from simulator.model_refs import model_problems

    for path in sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml")):
        assert model_problems(load_scenario(path)) == [], path
    text = GOOD.replace("workload:\n", "workload:\n  model: claude-haiku-4-5\n") + (
        "provider:\n  models:\n    claude-haiku-4-5: {dialect: openai}\n"
        "    house-model: {price_input: 0.1}\n"
    )
    text = text.replace("full_jitter}}", "full_jitter}, fallback: [house-model]}")
    sc = load_scenario(write(tmp_path, text))
    assert model_problems(sc) == []
    claude = GOOD.replace("workload:\n", "workload:\n  model: claude-sonnet-4-6\n") + (
        "provider:\n  models:\n    claude-sonnet-4-6: {itpm: 40000, otpm: 8000}\n"
    )
    assert model_problems(load_scenario(write(tmp_path, claude))) == []


def test_model_names_are_not_checked_against_an_external_target(tmp_path):
    """A mock started elsewhere has its own catalogue."""
    from simulator.config import load_scenario
    from simulator.model_refs import model_problems

    unknown = load_scenario(
        write(tmp_path, GOOD.replace("workload:\n", "workload:\n  model: house\n"))
    )
    assert model_problems(unknown, own_mock=False) == []
    assert [p for p, _ in model_problems(unknown)] == ["workload.model"]
    anthropic = load_scenario(
        write(tmp_path, GOOD.replace("workload:\n", "workload:\n  model: claude-haiku-4-5\n"))
    )
    assert model_problems(anthropic, own_mock=False) == []
