"""Each example app (and a LangChain ``with_retry`` client) against ``stampede serve
--request-log`` under a short herd and outage, then judged by ``stampede audit``.

The mock: gpt-4o-mini and claude-haiku-4-5 down (503) for the first 1.5 s; gpt-4o, the
fallback, up. The herd: eight concurrent requests at once, and one the mock refuses with 400.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "apps"
SUT = ROOT / "tests" / "apps_under_test"
PROVIDER = {
    "output_tokens": {"median": 10, "spread": 0.2},
    "faults": [
        {"kind": "outage", "model": "gpt-4o-mini", "start": 0, "end": 1.5},
        {"kind": "outage", "model": "claude-haiku-4-5", "start": 0, "end": 1.5},
    ],
}


def audit_example(tmp: Path, spec: str, path: Path, model: str) -> tuple[int, dict[str, Any]]:
    """Serve, drive the app, stop, audit: (the audit's exit status, audit.json)."""
    cfg, journal = tmp / "provider.yaml", tmp / "requests.jsonl"
    cfg.write_text(yaml.safe_dump(PROVIDER))
    serve = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--config", str(cfg), "--port", "0",
         "--request-log", str(journal)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert "listening on " in line, serve.stderr.read() if serve.stderr else line
        base = line.rsplit("listening on ", 1)[1].strip()
        env = {**os.environ, "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-example-app",
               "ANTHROPIC_BASE_URL": base.removesuffix("/v1"),
               "ANTHROPIC_API_KEY": "sk-example-app"}  # fmt: skip
        drive = subprocess.run(
            [sys.executable, str(SUT / "drive.py"), spec, str(path), "8", model],
            env=env, capture_output=True, text=True, timeout=180, cwd=ROOT,
        )  # fmt: skip
        assert drive.returncode == 0, drive.stdout + drive.stderr
    finally:
        serve.terminate()
        serve.wait(10)
    out = tmp / "audit"
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "audit", str(journal), "--out", str(out)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads((out / "audit.json").read_text())


def failing(report: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["detail"] for f in report["findings"] if f["status"] == "fail"}


def test_the_naive_loop_fails_naming_its_problems(tmp_path: Path) -> None:
    status, report = audit_example(tmp_path, "naive_loop:answer", EXAMPLES, "gpt-4o-mini")
    assert status == 1
    fails = failing(report)
    assert "sent at once" in fails["jitter"]
    assert "after a 400" in fails["client_errors"]
    assert "tried another model" in fails["fallback"]
    assert report["requests"] == 9  # the herd and the bad request, each once


def test_langchain_with_retry_fails_for_retrying_a_400(tmp_path: Path) -> None:
    status, report = audit_example(tmp_path, "sut_langchain_retry:answer", SUT, "gpt-4o-mini")
    assert status == 1
    assert "2 retries after a 400" in failing(report)["client_errors"]


def test_tenacity_with_full_jitter_and_a_fallback_passes(tmp_path: Path) -> None:
    status, report = audit_example(tmp_path, "tenacity_jitter:answer", EXAMPLES, "gpt-4o-mini")
    assert status == 0, failing(report)
    by_id = {f["id"]: f["status"] for f in report["findings"]}
    assert by_id["fallback"] == "pass" and by_id["client_errors"] == "pass"
    assert by_id["token_limits"] == "pass"


@pytest.mark.parametrize(
    ("spec", "model", "retries_400"),
    [
        ("openai_defaults:answer", "gpt-4o-mini", False),
        ("anthropic_sdk:answer", "claude-haiku-4-5", False),
        # LiteLLM's Router sends a request the provider refused with 400 once more.
        ("litellm_fallback:answer", "gpt-4o-mini", True),
    ],
)
def test_the_sdk_examples_run_and_are_judged(
    tmp_path: Path, spec: str, model: str, retries_400: bool
) -> None:
    status, report = audit_example(tmp_path, spec, EXAMPLES, model)
    by_id = {f["id"]: f for f in report["findings"]}
    assert report["requests"] >= 9
    assert by_id["client_errors"]["status"] == ("fail" if retries_400 else "pass"), by_id
    assert by_id["token_limits"]["status"] == "pass"
    assert status == (1 if failing(report) else 0)
