"""`stampede run --web` seen by a browser: headless Chromium reads the page during a short live
run and again at its end. Skipped only where Chromium is missing outside CI; in CI it fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
T = TypeVar("T")

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

# A burst against a small requests bucket: 70 of the 100 wait for a bucket that refills one
# request every 2 s, so exponential backoff comes back in waves for over two minutes of
# scenario time, 40 s or more of wall time at 3x: long enough that a cold browser start on a
# busy machine still reads the page twice while the numbers grow.
HERD = """
name: dashboard_herd
duration: 10
drain: 200
time_scale: 3
provider:
  models:
    gpt-4o-mini: {rpm: 30, tpm: 2000000}
  output_tokens: {median: 30, spread: 0.3}
workload:
  model: gpt-4o-mini
  arrivals: {kind: burst, n: 100, at: 0}
  prompts: {input_tokens: {median: 200}, max_tokens: 60, users: 8}
strategies:
  exponential:
    retry: {kind: exponential, base_s: 1, cap_s: 16, max_attempts: 14}
"""
# Nothing leaves the machine: Chromium's own background calls (updates, sync, safe browsing)
# are off, and any that remain meet a proxy that refuses them (loopback bypasses proxies).
OFFLINE = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--no-default-browser-check", "--proxy-server=127.0.0.1:9",
]  # fmt: skip


def dump_dom(url: str) -> str:
    """The page after its script has fetched and drawn the state (virtual time lets the first
    fetches land before the DOM is written)."""
    assert CHROMIUM is not None, "chromium is not installed: CI must install it (.ci/run)"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *OFFLINE,
         "--virtual-time-budget=2500", "--dump-dom", url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.stdout


def attempts_shown(dom: str) -> int | None:
    """The strategies table's attempts count (None until the state has been drawn)."""
    row = re.search(r'data-strategy="exponential".*?data-field="attempts">([\d,]+)<', dom, re.S)
    return None if row is None else int(row.group(1).replace(",", ""))


def phase(dom: str) -> str | None:
    found = re.search(r'<body data-phase="(\w+)"', dom)
    return None if found is None else found.group(1)


def wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_page_shows_the_numbers_grow_and_links_the_report(tmp_path):
    scenario = tmp_path / "herd.yaml"
    scenario.write_text(HERD)
    out, log = tmp_path / "run", tmp_path / "stdout.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--web",
             "--web-linger", "60", "--out", str(out)],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = wait_for(
            "the dashboard's address",
            lambda: (
                (m := re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", log.read_text()))
                and m.group(1)
            ),
            60,
        )

        def dom_with_attempts() -> str | None:
            dom = dump_dom(url)
            return dom if (attempts_shown(dom) or 0) > 0 else None

        first_dom = wait_for("the page to show attempts", dom_with_attempts, 60)
        assert phase(first_dom) == "running", first_dom[-2000:]
        first = attempts_shown(first_dom)
        assert 'data-model="gpt-4o-mini"' in first_dom  # the mock's limiter, from its /metrics
        assert re.search(r'data-bucket="requests".*?/ 30<', first_dom, re.S)

        second = wait_for(
            "the attempts on the page to change",
            lambda: (n := attempts_shown(dump_dom(url))) != first and n,
            60,
        )
        assert second > first  # type: ignore[operator]

        wait_for("the run to end", lambda: "final state stays at" in log.read_text(), 240)
        final_dom = dump_dom(url)
        assert phase(final_dom) == "done", final_dom[-2000:]
        assert 'href="report.html"' in final_dom
        with urllib.request.urlopen(url + "report.html", timeout=10) as resp:
            assert resp.status == 200 and b"<html" in resp.read(2000).lower()
        summary = json.loads((out / "summary.json").read_text())["strategies"]["exponential"]
        assert attempts_shown(final_dom) == summary["attempts"]  # the same count as the report
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # ends the linger (or the run, on a failure)
        proc.wait(timeout=60)
    assert proc.returncode in (0, 1), log.read_text()
