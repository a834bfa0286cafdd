"""``stampede init``: a commented scenario to start from, or a copy of a shipped one.

The starter is the smallest scenario that shows the point of the tool (a limit, a fault, two
clients that meet them differently) with a comment on every line a new user changes first.
``tests/test_reference.py`` runs it, so it stays valid as the schema moves.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SCENARIOS_DIR", "STARTER", "shipped_scenarios", "starter_text"]

STARTER = """\
# yaml-language-server: $schema=./scenario.schema.json
# A starter scenario (stampede init). Every field is in docs/scenarios.md.
# Run it:  stampede run starter.yaml --virtual   (seconds, no server)
#          stampede run starter.yaml             (live: Locust against the mock)
name: starter
description: >
  Poisson traffic at 3 requests/s against a 90 RPM limit, with gpt-4o-mini failing a third
  of its requests for 20 s: naive retries against full jitter that honours Retry-After.
seed: 7                  # same seed, same traffic for every strategy
duration: 60s            # arrivals in [0, 60) s of scenario time
drain: 60s               # then requests in flight get 60 s to finish
time_scale: 10           # live runs go 10x faster than scenario time (or: auto)
overload: intended       # 180 requests/min against 90 RPM is the point: lint keeps it as info

provider:                # the mock provider
  models:
    gpt-4o-mini: {rpm: 90, tpm: 200000}    # per-key limits: 429s past them
  output_tokens: {median: 150, spread: 0.4}
  faults:
    - {kind: error_rate, model: gpt-4o-mini, start: 20s, end: 40s, rate: 0.33,
       statuses: [500, 503]}

workload:                # what the application sends
  model: gpt-4o-mini
  arrivals: {kind: poisson, rate: 3}       # or burst, ramp, spike, diurnal, closed_loop
  prompts: {input_tokens: {median: 400, spread: 0.5}, max_tokens: 300, users: 20}

strategies:              # each faces the same seeded traffic
  naive:
    retry: {kind: immediate, max_attempts: 3}
  full_jitter:
    retry: {kind: full_jitter, max_attempts: 6, base_s: 1, cap_s: 30,
            honor_retry_after: true}
    timeouts: {read_s: 30}

objective:               # how the verdict ranks them
  rank_by: [success_rate, p95_latency_ms]
thresholds:              # gates that set the exit code (1 when one fails)
  full_jitter: {success_rate: ">= 0.99"}
"""


SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"  # in the source tree


def shipped_scenarios() -> list[Path]:
    """The scenario files that ship with the source tree (``scenarios/*.yaml``)."""
    folder = SCENARIOS_DIR
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def starter_text(source: str | None) -> str:
    """The starter, or the text of ``source``: a shipped scenario's name, or any file.

    Raises FileNotFoundError naming what was looked for.
    """
    if source is None:
        return STARTER
    path = Path(source)
    if not path.is_file():
        by_name = {p.stem: p for p in shipped_scenarios()}
        if source not in by_name:
            names = ", ".join(sorted(by_name)) or "none found"
            raise FileNotFoundError(f"no scenario {source!r}; shipped: {names}")
        path = by_name[source]
    return path.read_text(encoding="utf-8")
