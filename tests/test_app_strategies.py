"""App strategies: the user's own function as a strategy, run live by Locust against the mock.

The live tests are short (a burst of a few requests, seconds of drain); they use the apps in
``tests/apps_under_test`` and ``examples/apps``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_provider.journal import RESET_PATH, JournalEntry, read_journal
from mock_provider.model.catalog import build_catalog
from simulator.apps.attribution import attribute, tag_of
from simulator.apps.calls import AppCall
from simulator.config import ProviderConfig
from simulator.workload import LogicalRequest
from tests.ttft_checks import ttft_shortfalls

ROOT = Path(__file__).resolve().parents[1]
SUT = ROOT / "tests" / "apps_under_test"
EXAMPLES = ROOT / "examples" / "apps"


def stampede(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def scenario(tmp: Path, strategies: dict[str, Any], **over: Any) -> Path:
    data: dict[str, Any] = {
        "name": "apps",
        "seed": 3,
        "duration": 1,
        "drain": 4,
        "time_scale": 1,
        "provider": {
            "models": {"gpt-4o-mini": {"rpm": 6000, "tpm": 10_000_000}},
            "output_tokens": {"median": 10, "spread": 0.2},
        },
        "workload": {
            "model": "gpt-4o-mini",
            "arrivals": {"kind": "burst", "n": 6, "at": 0},
            "prompts": {"input_tokens": {"median": 60}, "max_tokens": 32},
        },
        "strategies": strategies,
        **over,
    }
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "traces.jsonl").read_text().splitlines()]


def segments(journal: Path) -> list[list[JournalEntry]]:
    """The journal's entries per reset (the last ones are the strategies', in order)."""
    out: list[list[JournalEntry]] = [[]]
    for e in read_journal(journal):
        if e.path == RESET_PATH:
            out.append([])
        else:
            out[-1].append(e)
    return out


# --------------------------------------------------------------------------- attribution


def req(seq: int, tag_no: int) -> LogicalRequest:
    text = f"#{tag_no:09d} hello"
    return LogicalRequest(seq, 0.0, "u", "chat", "v1", (("user", text),), 10, 32, "gpt-4o-mini")


def attempt(start: float, tag: str | None, status: int = 200, model: str = "gpt-4o-mini"):  # type: ignore[no-untyped-def]
    return JournalEntry(t=start + 0.05, start_t=start, path="/v1/chat/completions",
                        status=status, model=model, tag=tag, input_tokens=10,
                        output_tokens=5 if status == 200 else 0)  # fmt: skip


def test_attempts_are_attributed_by_tag_time_and_never_guessed() -> None:
    reqs = [req(0, 0), req(1, 1), req(2, 1)]  # requests 1 and 2 share a prompt (a repeat)
    assert tag_of(reqs[0]) == "#000000000"
    calls = [
        AppCall(seq=0, start_t=0.0, t=1.0, success=True),
        AppCall(seq=1, start_t=0.0, t=0.5, success=False, error="RateLimitError"),
        AppCall(seq=2, start_t=2.0, t=3.0, success=True),
    ]
    entries = [
        attempt(0.0, "#000000000", 429), attempt(0.5, "#000000000", 200, model="gpt-4o"),
        attempt(0.1, "#000000001", 429),  # in flight: request 1's
        attempt(2.1, "#000000001", 200),  # request 2's, by time
        attempt(4.0, None),  # no tag and no call in flight: not attributed
        JournalEntry(t=0.2, path="/v1/models", status=200),  # not a chat attempt
    ]  # fmt: skip
    catalog = build_catalog(ProviderConfig())
    out = attribute("app", reqs, calls, entries, catalog, lambda t: f"T{t}")
    by_trace = {(r.trace_id, r.kind, r.attempt): r for r in out.records}
    r0 = by_trace[("app-0", "request", 2)]
    assert r0.success and r0.fallback_used == "gpt-4o" and r0.model == "gpt-4o"
    assert by_trace[("app-0", "attempt", 2)].slept_s > 0.4  # 0.5 - 0.05: the gap it waited
    assert by_trace[("app-0", "attempt", 1)].status == 429
    r1 = by_trace[("app-1", "request", 1)]
    assert not r1.success and r1.error == "RateLimitError" and r1.status == 429
    assert ("app-2", "request", 1) in by_trace
    assert out.attempts == 4 and out.unattributed == 1 and out.untagged == 1
    assert out.warnings("app") and "1 of the mock's 5 attempts" in out.warnings("app")[0]
    assert r0.cost_usd > 0 and r1.cost_usd == 0.0  # priced from the catalogue; a 429 is free
    # TTFT from the call's start to the answer (non-streamed: the whole of it), through the
    # 429 and the wait; the answering attempt's own is kept beside it
    assert r0.ttft_ms == pytest.approx(550.0) and r0.attempt_ttft_ms == pytest.approx(50.0)
    assert by_trace[("app-0", "attempt", 2)].attempt_ttft_ms == pytest.approx(50.0)
    assert by_trace[("app-0", "attempt", 1)].attempt_ttft_ms is None  # a 429 has no token
    assert all(r.ttft_ms is None for r in out.records if r.kind == "attempt")
    assert r1.ttft_ms is None  # no answer, no first token


# --------------------------------------------------------------------------- config errors


def test_a_broken_import_exits_2_before_anything_starts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = scenario(tmp_path, {"mine": {"app": "sut_broken:answer", "path": str(SUT)}})
    proc = stampede("run", str(path), "--out", str(out))
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "strategies.mine.app" in err and "ModuleNotFoundError" in err
    assert "a_module_that_does_not_exist" in err
    assert not out.exists()  # nothing started
    missing = scenario(tmp_path, {"mine": {"app": "sut_raising:no_such", "path": str(SUT)}})
    proc = stampede("run", str(missing), "--out", str(out))
    assert proc.returncode == 2 and "has no attribute 'no_such'" in proc.stderr


def test_an_app_cannot_run_in_virtual_time_nor_faster_than_real_time(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"mine": {"app": "sut_raising:answer", "path": str(SUT)},
                               "jitter": {"retry": {"kind": "full_jitter"}}})  # fmt: skip
    proc = stampede("run", str(path), "--virtual", "--out", str(tmp_path / "v"))
    assert proc.returncode == 2
    assert "strategies.mine" in proc.stderr and "virtual time" in proc.stderr
    proc = stampede("run", str(path), "--time-scale", "10", "--out", str(tmp_path / "k"))
    assert proc.returncode == 2 and "time_scale" in proc.stderr
    assert not (tmp_path / "v").exists() and not (tmp_path / "k").exists()


# --------------------------------------------------------------------------- live runs


def test_an_exception_fails_its_request_and_a_hang_is_cut_at_the_drain(tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = scenario(
        tmp_path,
        {
            "raising": {"app": "sut_raising:answer", "path": str(SUT)},
            "hanging": {"app": "sut_hanging:answer", "path": str(SUT)},
        },
    )
    proc = stampede("run", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reqs = [r for r in records(out) if r["kind"] == "request"]
    raising = Counter((r["success"], r["error"]) for r in reqs if r["strategy"] == "raising")
    assert raising == {(True, None): 3, (False, "AppBroke"): 3}
    hanging = [r for r in reqs if r["strategy"] == "hanging"]
    assert len(hanging) == 6 and {r["error"] for r in hanging} == {"run_ended"}
    assert all(r["latency_ms"] >= 4000 for r in hanging)  # waited until the drain's end
    calls = [json.loads(x) for x in (out / "apps" / "hanging.calls.jsonl").read_text().splitlines()]
    assert all("had not returned" in c["message"] for c in calls)
    attempts = [r for r in records(out) if r["kind"] == "attempt" and r["strategy"] == "raising"]
    assert len(attempts) == 6  # each call made its one attempt, failed or not
    summary = json.loads((out / "summary.json").read_text())["strategies"]
    assert summary["raising"]["success_rate"] == 0.5
    assert summary["hanging"]["success_rate"] == 0.0


# For the whole run: however late a loaded machine starts the calls, some meet it.
FAULTS = {"kind": "error_rate", "model": "gpt-4o-mini", "start": 0, "end": 60, "rate": 0.3,
          "statuses": [503]}  # fmt: skip


def test_real_sdk_apps_agree_with_the_journal(tmp_path: Path) -> None:
    """The openai SDK (sync, built at import) and an async app, on two Locust workers, while
    a limit of 8 requests a minute meets a burst of 10 and 30% of attempts fail with 503
    (seeded): their attempts, 429s, 503s and amplification in the traces and the summary are
    the journal's."""
    out = tmp_path / "run"
    path = scenario(
        tmp_path,
        {
            "sdk": {"app": "openai_defaults:answer", "path": str(EXAMPLES)},
            "async_sdk": {"app": "sut_async:answer", "path": str(SUT)},
        },
        drain=12,
        provider={
            "models": {"gpt-4o-mini": {"rpm": 8}},  # two of the ten wait for a refill
            "output_tokens": {"median": 10, "spread": 0.2},
            "faults": [FAULTS],
        },
        workload={
            "model": "gpt-4o-mini",
            "arrivals": {"kind": "burst", "n": 10, "at": 0},
            "prompts": {"input_tokens": {"median": 60}, "max_tokens": 32},
        },
    )
    proc = stampede("run", str(path), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = records(out)
    summary = json.loads((out / "summary.json").read_text())["strategies"]
    journal = segments(out / "requests.jsonl")[-2:]  # the two strategies' runs, in order
    refused: Counter[int] = Counter()
    for name, entries in zip(["sdk", "async_sdk"], journal, strict=True):
        chat = [e for e in entries if e.path == "/v1/chat/completions"]
        mine = [r for r in recs if r["strategy"] == name]
        attempts = [r for r in mine if r["kind"] == "attempt"]
        assert len(attempts) == len(chat) >= 10, name  # every attempt the mock saw
        for status in (429, 503):
            sent = sum(e.status == status for e in chat)
            assert sum(r["status"] == status for r in attempts) == sent, (name, status)
            refused[status] += sent
        assert summary[name]["logical_requests"] == 10
        assert abs(summary[name]["amplification"] - len(chat) / 10) < 1e-9
    assert refused[429] > 0 and refused[503] > 0, refused
    assert "sdk" in proc.stdout and "async_sdk" in proc.stdout  # its rows in the table
    # each success's TTFT holds every earlier attempt and wait the journal shows
    checked, wrong = ttft_shortfalls(recs, tolerance_ms=1.0)
    assert checked > 0 and not wrong, wrong[:5]


def test_the_shipped_my_app_scenario_names_an_app_that_imports() -> None:
    from simulator.apps.loading import app_problems
    from simulator.config import AppConfig, ClientConfig, load_scenario

    sc = load_scenario(ROOT / "scenarios" / "my_app.yaml")
    assert isinstance(sc.strategies["my_app"], AppConfig)
    assert any(isinstance(s, ClientConfig) for s in sc.strategies.values())
    assert Path(sc.apps["my_app"].path) == EXAMPLES  # relative to the scenario file
    problems, import_s = app_problems(sc.apps, time_scale=sc.time_scale)
    assert problems == [] and import_s["my_app"] > 0
