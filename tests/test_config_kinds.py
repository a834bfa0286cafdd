"""Fields a kind ignores, or needs and lacks, are config errors; the tables match the code."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mock_provider.config import FAULT_FIELDS, DistConfig, FaultWindowConfig, load_provider_config
from mock_provider.model.faults import FaultSchedule
from simulator.client.policies import build_retry_policy
from simulator.config import (
    ARRIVAL_FIELDS,
    RETRY_FIELDS,
    AdaptiveThrottleConfig,
    ArrivalConfig,
    CircuitBreakerConfig,
    ConfigError,
    PromptConfig,
    RetryBudgetConfig,
    RetryConfig,
    WorkloadConfig,
    load_scenario,
)
from simulator.workload import build_workload

ROOT = Path(__file__).resolve().parents[1]

BASE = """
name: kinds
duration: 10
workload:
  arrivals: {ARRIVALS}
strategies:
  a: {retry: RETRY}
provider:
  faults: [FAULT]
"""


def scenario_text(
    arrivals: str = "{kind: poisson, rate: 2}",
    retry: str = "{kind: full_jitter}",
    fault: str = "{kind: outage, start: 1, end: 2}",
) -> str:
    return BASE.replace("{ARRIVALS}", arrivals).replace("RETRY", retry).replace("FAULT", fault)


def problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (scenario_text(arrivals="{kind: poisson, rate: 2, users: 5}"), "workload.arrivals.users",
         "users is not used by kind poisson (it uses: rate, max_requests); remove it"),
        (scenario_text(arrivals="[{kind: ramp, end_rate: 2}, {kind: burst, n: 3, rate: 1}]"),
         "workload.arrivals.1.rate", "rate is not used by kind burst"),
        (scenario_text(retry="{kind: exponential, delay_s: 2}"), "strategies.a.retry.delay_s",
         "delay_s is not used by kind exponential"),
        (scenario_text(retry="{kind: openai_default, honor_retry_after: true}"),
         "strategies.a.retry.honor_retry_after", "not used by kind openai_sdk"),
        (scenario_text(retry="{kind: openai_sdk, retry_budget: {max_tokens: 3}}"),
         "strategies.a.retry.retry_budget", "not used by kind openai_sdk"),
        (scenario_text(retry="{kind: full_jitter, num_retries: 4}"),
         "strategies.a.retry.num_retries", "not used by kind full_jitter"),
        (scenario_text(retry="{kind: litellm_router, max_attempts: 4}"),
         "strategies.a.retry.max_attempts", "(it uses: num_retries, allowed_fails"),
        (scenario_text(retry="{kind: none, max_attempts: 3}"), "strategies.a.retry.max_attempts",
         "not used by kind none"),
        (scenario_text(retry="{kind: full_jitter, max_retry_after_s: 5}"),
         "strategies.a.retry.max_retry_after_s", "honor_retry_after: true"),
        (scenario_text(fault="{kind: outage, rate: 0.5}"), "provider.faults.0.rate",
         "rate is not used by kind outage (it uses: model, key, dialect, path, stream, tools, "
         "start, end, times, status)"),
        (scenario_text(fault="{kind: error_rate, rate: 0.5, status: 500}"),
         "provider.faults.0.status", "not used by kind error_rate"),
        (scenario_text(arrivals="{kind: poisson}"), "workload.arrivals.rate",
         "kind poisson needs rate"),
        (scenario_text(arrivals="{kind: ramp, start_rate: 1}"), "workload.arrivals.end_rate",
         "kind ramp needs end_rate"),
        (scenario_text(arrivals="{kind: spike, rate: 1, spike_rate: 5, spike_start: 2}"),
         "workload.arrivals.spike_end", "kind spike needs spike_end"),
        (scenario_text(arrivals="{kind: spike, rate: 1, spike_rate: 5, spike_start: 2, "
                                "spike_end: 2}"),
         "workload.arrivals.spike_end", "must be after spike_start"),
        (scenario_text(arrivals="{kind: closed_loop, think_time: {median: 1}}"),
         "workload.arrivals.users", "kind closed_loop needs users"),
        (scenario_text(arrivals="{kind: burst}"), "workload.arrivals.n", "kind burst needs n"),
        (scenario_text(fault="{kind: error_rate, statuses: [500]}"), "provider.faults.0.rate",
         "kind error_rate needs rate"),
    ],
)  # fmt: skip
def test_kind_field_errors_name_the_field(tmp_path, text, field, message):
    found = problems(tmp_path, text)
    assert [p for p, _ in found] == [field], found
    assert message in found[0][1]


def test_each_wrong_field_gets_its_own_line(tmp_path):
    found = problems(tmp_path, scenario_text(arrivals="{kind: poisson, users: 2, n: 4}"))
    assert sorted(p for p, _ in found) == [
        "workload.arrivals.n", "workload.arrivals.rate", "workload.arrivals.users",
    ]  # fmt: skip


def test_cli_exits_2_on_an_ignored_field(tmp_path, capsys):
    from simulator.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(arrivals="{kind: poisson, rate: 2, users: 5}"))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "workload.arrivals.users: users is not used by kind poisson" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- tables vs code

# A value that differs from the default for every field a table may name.
OTHER: dict[str, Any] = {
    # arrivals
    "n": 7, "at": 1.5, "rate": 3.0, "start_rate": 2.0, "end_rate": 9.0, "spike_rate": 6.0,
    "spike_start": 2.0, "spike_end": 6.0, "amplitude": 0.9, "period": 7.0, "users": 3,
    "think_time": {"median": 0.7, "spread": 0.2}, "max_requests": 1,
    # retries
    "max_attempts": 6, "base_s": 0.2, "cap_s": 3.0, "delay_s": 0.3, "honor_retry_after": True,
    "max_retry_after_s": 4.0, "retry_on": [429], "retry_budget": {"max_tokens": 3},
    "num_retries": 4, "allowed_fails": 1, "cooldown_time_s": 9.0, "min_wait_s": 2.0,
    "adaptive_throttle": {"k": 3}, "circuit_breaker": {"failure_threshold": 2},
    # faults
    "model": "gpt-4o", "start": 1.0, "end": 5.0, "status": 500, "statuses": [502, 504],
    "key": "sk-b", "dialect": "anthropic", "path": "/v1/messages", "stream": True,
    "tools": True, "probability": 0.25, "times": 3, "error_type": "insufficient_quota",
    "message": "m", "retry_after": 7.0, "should_retry": False, "after_bytes": 10,
    "after_tokens": 4, "max_hang": 9.0, "factor": 3.0, "delay": 2.0,
}  # fmt: skip
# The base every kind starts from: its required fields, so that the code runs.
BASE_VALUES: dict[str, Any] = {
    "n": 5, "rate": 4.0, "end_rate": 4.0, "spike_rate": 8.0, "spike_start": 1.0,
    "spike_end": 3.0, "users": 2,
}  # fmt: skip


NESTED = {
    "think_time": DistConfig,
    "retry_budget": RetryBudgetConfig,
    "adaptive_throttle": AdaptiveThrottleConfig,
    "circuit_breaker": CircuitBreakerConfig,
}


def construct(cls: type[BaseModel], kind: str, table: dict, **change: Any) -> Any:
    """The config a kind's required fields give, plus ``change``, bypassing validation."""
    values = {f: BASE_VALUES[f] for f in table[kind].required} | change
    values = {k: NESTED[k].model_validate(v) if k in NESTED else v for k, v in values.items()}
    return cls.model_construct(kind=kind, **values)


def arrival_fingerprint(arr: ArrivalConfig) -> tuple:
    cfg = WorkloadConfig.model_construct(arrivals=arr, prompts=PromptConfig(), model="gpt-4o-mini")
    w = build_workload(cfg, 3, 10.0)
    return (
        tuple(r.at for r in w.open_loop),
        tuple(tuple(r.at for r in s) for s in w.closed_loop),
    )


@pytest.mark.parametrize("kind", sorted(ARRIVAL_FIELDS))
def test_arrival_table_names_exactly_the_fields_the_workload_reads(kind):
    base = arrival_fingerprint(construct(ArrivalConfig, kind, ARRIVAL_FIELDS))
    fields = set(ArrivalConfig.model_fields) - {"kind"}
    for name in sorted(fields):
        changed = arrival_fingerprint(
            construct(ArrivalConfig, kind, ARRIVAL_FIELDS, **{name: OTHER[name]})
        )
        if name in ARRIVAL_FIELDS[kind].used:
            assert changed != base, f"{kind} should read {name}"
        else:
            assert changed == base, f"{kind} reads {name}, which its table omits"


def policy_fingerprint(cfg: RetryConfig) -> tuple:
    """What decides the policy's behaviour (with one attempt, nothing about retrying does)."""
    p = build_retry_policy(cfg, random.Random(0))
    if p.max_attempts == 1:
        return (1, p.throttle_cfg, p.breaker_cfg)
    return (p.wait, p.max_attempts, p.retry_on, p.budget, p.throttle_cfg, p.breaker_cfg,
            p.library, p.cooldowns)  # fmt: skip


@pytest.mark.parametrize("kind", sorted(RETRY_FIELDS))
def test_retry_table_names_exactly_the_fields_the_policy_reads(kind):
    base_values = {"honor_retry_after": True} if "honor_retry_after" in (
        RETRY_FIELDS[kind].used
    ) else {}  # fmt: skip
    base = policy_fingerprint(construct(RetryConfig, kind, RETRY_FIELDS, **base_values))
    for name in sorted(set(RetryConfig.model_fields) - {"kind"}):
        change = {**base_values, name: OTHER[name]}
        if name == "honor_retry_after":
            change[name] = not base_values.get(name, False)
        changed = policy_fingerprint(construct(RetryConfig, kind, RETRY_FIELDS, **change))
        if name in RETRY_FIELDS[kind].used:
            assert changed != base, f"{kind} should read {name}"
        else:
            assert changed == base, f"{kind} reads {name}, which its table omits"


@pytest.mark.parametrize("kind", sorted(FAULT_FIELDS))
def test_fault_table_names_exactly_the_fields_the_schedule_reads(kind):
    def rules(**change: Any) -> tuple:
        values = {f: 0.5 for f in FAULT_FIELDS[kind].required}  # rate
        return FaultSchedule.from_config(
            [FaultWindowConfig.model_construct(kind=kind, **{**values, **change})]
        ).rules

    base = rules()
    for name in sorted(set(FaultWindowConfig.model_fields) - {"kind"}):
        other = 0.9 if name == "rate" else OTHER[name]
        if name in FAULT_FIELDS[kind].used:
            assert rules(**{name: other}) != base, f"{kind} should read {name}"
        else:
            assert rules(**{name: other}) == base, f"{kind} reads {name}, which its table omits"


# --------------------------------------------------------------------------- shipped configs


def test_shipped_scenarios_and_the_readme_example_validate(tmp_path):
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        load_scenario(path)
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```yaml\n(name: my_scenario.*?)```", readme, re.S)
    assert example is not None
    path = tmp_path / "readme.yaml"
    path.write_text(example.group(1))
    sc = load_scenario(path)
    assert sc.workload.arrivals == ArrivalConfig(kind="poisson", rate=2)


def test_the_run_folder_scenario_round_trips(tmp_path):
    """A run writes its effective scenario; the mock and Locust re-validate that file."""
    import argparse

    from simulator.cli import _apply_overrides
    from simulator.run_folder import write_scenario

    src = ROOT / "scenarios" / "launch_day.yaml"
    args = argparse.Namespace(
        strategies="resilient", duration="30s", time_scale=40.0, seed=9, workers=1
    )
    sc = _apply_overrides(load_scenario(src), args, str(src))
    write_scenario(sc, tmp_path)
    again = load_scenario(tmp_path / "scenario.yaml")
    assert again == sc
    assert (again.duration, again.mock_config.time_scale, again.mock_config.seed) == (30.0, 40.0, 9)
    assert load_provider_config(tmp_path / "scenario.yaml") == sc.mock_config


def test_an_unquoted_429_in_fallback_on_is_the_status(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(retry="{kind: none}, fallback: [m], fallback_on: [429, 5xx]"))
    assert load_scenario(path).clients["a"].fallback_on == ["429", "5xx"]
    found = problems(tmp_path, scenario_text(retry="{kind: none}, fallback_on: [503]"))
    assert [p for p, _ in found] == ["strategies.a.fallback_on.0"], found


@pytest.mark.parametrize("name", ["../../etc", "/tmp/x", ".hidden", "a b", "", "x" * 101])
def test_a_scenario_name_that_is_not_a_folder_name_is_refused(tmp_path, name):
    # The name becomes reports/<name>-<stamp>: ../../etc would write outside reports/.
    found = problems(tmp_path, scenario_text().replace("name: kinds", f"name: {name!r}"))
    assert [p for p, _ in found] == ["name"], found
    assert "letters, digits, '_', '-' and '.' (not first), at most 100 characters" in found[0][1]


@pytest.mark.parametrize("name", ["kinds", "herd-2.v1", "x" * 100, "_a"])
def test_a_folder_name_is_a_scenario_name(tmp_path, name):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text().replace("name: kinds", f"name: {name!r}"))
    assert load_scenario(path).name == name
