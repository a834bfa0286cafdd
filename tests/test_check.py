"""``stampede check``: the checklist lint (by probing the client brain), the battery, the exit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulator.check.battery import load_battery
from simulator.check.checklist import Item, lint_client, probe_waits
from simulator.check.run import CheckRun, resolve_clients
from simulator.cli import main
from simulator.client.presets import PRESETS
from simulator.config import ClientConfig, ConfigError

ROOT = Path(__file__).resolve().parent.parent
NAIVE = ROOT / "examples" / "clients" / "naive.yaml"
WELL_BUILT = ROOT / "examples" / "clients" / "well_built.yaml"


def lint(data: dict[str, object]) -> dict[str, Item]:
    return {i.key: i for i in lint_client(ClientConfig.model_validate(data))}


def check(tmp_path: Path, client: str, *extra: str) -> tuple[int, dict[str, object]]:
    out = tmp_path / "out"
    status = main(["check", client, "--out", str(out), *extra])
    data = json.loads((out / "check.json").read_text()) if (out / "check.json").exists() else {}
    return status, data


# --------------------------------------------------------------------------- the exit codes


def test_a_naive_config_fails_with_rows_that_name_the_fix(tmp_path: Path) -> None:
    status, data = check(tmp_path, str(NAIVE))
    assert status == 1
    card = data["clients"]["naive"]  # type: ignore[index]
    failed = {i["key"]: i["field"] for i in card["checklist"] if i["level"] == "fail"}
    assert failed["backoff"].startswith("retry.kind")
    assert failed["retry_after"] == "retry.honor_retry_after"
    assert failed["timeouts"] == "timeouts.read_s, timeouts.total_s"
    assert "fallback" in failed and "budgets" in failed
    herd = card["battery"]["burst_herd"]
    assert not herd["passed"]
    assert {v["metric"] for v in herd["thresholds"] if not v["passed"]} >= {"success_rate"}
    assert not data["ships"]  # type: ignore[index]


def test_a_well_built_config_ships_in_under_a_minute(tmp_path: Path) -> None:
    began = time.perf_counter()
    status, data = check(tmp_path, str(WELL_BUILT))
    took = time.perf_counter() - began
    assert status == 0, data["verdict"]
    card = data["clients"]["well_built"]  # type: ignore[index]
    assert all(i["level"] == "pass" for i in card["checklist"])
    assert set(card["battery"]) == {i.key for i in load_battery("default")}
    assert all(r["passed"] for r in card["battery"].values())
    assert took < 60
    page = (tmp_path / "out" / "check.html").read_text()
    assert "verdict: ship" in page and "burst_herd" in page
    # every item left a run folder that `stampede report` can read
    assert (tmp_path / "out" / "burst_herd" / "traces.jsonl").stat().st_size > 0


def test_the_langchain_preset_fails_because_it_retries_client_errors(tmp_path: Path) -> None:
    status, data = check(tmp_path, "langchain_with_retry")
    assert status == 1
    items = {i["key"]: i for i in data["clients"]["langchain_with_retry"]["checklist"]}  # type: ignore[index]
    assert items["client_errors"]["level"] == "fail"
    assert "400, 401, 403, 404" in items["client_errors"]["reason"]


def test_config_errors_exit_2_before_anything_runs(tmp_path: Path) -> None:
    assert check(tmp_path, "no_such_client")[0] == 2
    bad = tmp_path / "client.yaml"
    bad.write_text("retry: {kind: fool_jitter}\n")
    assert check(tmp_path, str(bad))[0] == 2
    battery = tmp_path / "battery.yaml"
    battery.write_text("items: {burst_herd: {thresholds: {succes_rate: '>= 1'}}}\n")
    assert check(tmp_path, "openai_sdk", "--battery", str(battery))[0] == 2
    # an app strategy is the user's own code: nothing to probe, said rather than skipped
    assert check(tmp_path, str(ROOT / "scenarios" / "my_app.yaml"))[0] == 2
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the checklist


def test_backoff_is_judged_by_the_waits_the_brain_asks_for() -> None:
    assert lint({"retry": {"kind": "immediate"}})["backoff"].level == "fail"
    exp = lint({"retry": {"kind": "exponential", "max_attempts": 5}})["backoff"]
    assert exp.level == "fail" and "without jitter" in exp.reason
    assert lint({"retry": {"kind": "fixed", "max_attempts": 5}})["backoff"].level == "fail"
    assert lint({"retry": {"kind": "full_jitter", "max_attempts": 5}})["backoff"].level == "pass"
    assert lint({"retry": {"kind": "none"}})["backoff"].level == "warn"
    # the waits themselves: exponential doubles, full jitter varies between requests
    exp_cfg = ClientConfig.model_validate({"retry": {"kind": "exponential", "max_attempts": 4}})
    assert probe_waits(exp_cfg) == [0.5, 1.0, 2.0]
    jit = ClientConfig.model_validate({"retry": {"kind": "full_jitter", "max_attempts": 4}})
    assert probe_waits(jit, seq=0) != probe_waits(jit, seq=1)


def test_retry_after_must_be_honoured_and_capped() -> None:
    ignored = lint({"retry": {"kind": "full_jitter"}})["retry_after"]
    assert (ignored.level, ignored.field) == ("fail", "retry.honor_retry_after")
    honoured = {"kind": "full_jitter", "honor_retry_after": True}
    assert lint({"retry": honoured})["retry_after"].level == "pass"
    # a cap below the probe's Retry-After ignores it there
    low = lint({"retry": {**honoured, "max_retry_after_s": 2}})["retry_after"]
    assert low.level == "fail"
    # the anthropic SDK waits any Retry-After, and its preset has no deadline to stop it
    uncapped = {i.key: i for i in lint_client(PRESETS["anthropic_sdk"])}["retry_after"]
    assert uncapped.level == "warn" and uncapped.field == "timeouts.total_s"
    # a total timeout under the long Retry-After caps it
    capped = PRESETS["anthropic_sdk"].model_copy(
        update={"timeouts": PRESETS["anthropic_sdk"].timeouts.model_copy(update={"total_s": 60})}
    )
    assert {i.key: i for i in lint_client(capped)}["retry_after"].level == "pass"


def test_client_errors_are_probed_for_every_library() -> None:
    retried = {
        name: {i.key: i for i in lint_client(cfg)}["client_errors"].level
        for name, cfg in PRESETS.items()
    }
    assert retried == {
        "openai_sdk": "pass",
        "anthropic_sdk": "pass",
        "litellm_router": "fail",  # 403, and its fallbacks follow a 400
        "langchain_with_retry": "fail",
        "tenacity_cookbook": "fail",
        "vercel_ai_sdk": "pass",
    }


def test_guards_timeouts_and_streaming() -> None:
    items = lint({"retry": {"kind": "full_jitter"}})
    assert items["token_limit"].level == "fail" and items["budgets"].level == "fail"
    assert items["timeouts"].level == "fail"  # not set: the schema's 600 s deadline
    assert items["streaming"].level == "warn" and items["fallback"].level == "fail"
    half = lint({"guards": {"max_input_tokens": 4000}, "timeouts": {"read_s": 30}})
    assert half["token_limit"].level == "warn"
    assert half["timeouts"].level == "warn"  # read set, but the whole request may take 600 s
    sdk = {i.key: i for i in lint_client(PRESETS["openai_sdk"])}["timeouts"]
    assert sdk.level == "fail" and sdk.field == "timeouts.read_s"


# --------------------------------------------------------------------------- CLIENT, battery


def test_client_may_be_a_file_a_preset_a_kind_or_a_scenario() -> None:
    assert list(resolve_clients(str(WELL_BUILT))[1]) == ["well_built"]
    assert resolve_clients("vercel_ai_sdk")[1]["vercel_ai_sdk"] == PRESETS["vercel_ai_sdk"]
    assert resolve_clients("decorrelated_jitter")[1]["decorrelated_jitter"].retry.kind == (
        "decorrelated_jitter"
    )
    label, clients = resolve_clients(str(ROOT / "scenarios" / "launch_day.yaml"))
    assert label == "launch_day" and list(clients) == ["sdk_default", "resilient"]
    with pytest.raises(ConfigError, match="no such file, preset or retry kind"):
        resolve_clients("openai_sdkk")


def test_a_battery_file_overrides_skips_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "battery.yaml"
    path.write_text(
        """
items:
  burst_herd: {thresholds: {p95_latency_ms: "< 1000", amplification: "off"}}
  runaway_loop: {skip: true}
  tiny:
    title: one request
    scenario:
      duration: 1
      drain: 10
      workload: {arrivals: {kind: burst, n: 1}}
    thresholds: {success_rate: ">= 1"}
"""
    )
    items = {i.key: i for i in load_battery(str(path))}
    assert "runaway_loop" not in items and items["tiny"].title == "one request"
    herd = items["burst_herd"].thresholds
    assert herd["p95_latency_ms"] == "< 1000" and "amplification" not in herd
    assert herd["success_rate"] == ">= 0.95"  # kept from the default
    path.write_text("items: {flaky: {thresholds: {success_rate: 'high'}}}\n")
    with pytest.raises(ConfigError) as err:
        load_battery(str(path))
    fields = [p for p, _ in err.value.problems]
    assert "items.flaky.thresholds.success_rate" in fields and "items.flaky" in fields


def test_the_battery_has_the_issues_seven_failure_modes() -> None:
    keys = [i.key for i in load_battery("default")]
    assert keys == ["burst_herd", "primary_outage", "tpm_pressure", "runaway_loop",
                    "launch_ramp", "flaky_network", "overload_collapse"]  # fmt: skip


def test_the_fault_items_catch_an_sdk_timeout_and_a_retry_storm(tmp_path: Path) -> None:
    """A flaky network fails the SDK's 600 s timeout; an overload fails immediate retries."""
    battery = tmp_path / "faults.yaml"
    battery.write_text(
        "items:\n"
        + "".join(f"  {k}: {{skip: true}}\n" for k in
                  ("burst_herd", "primary_outage", "tpm_pressure", "runaway_loop", "launch_ramp"))
    )  # fmt: skip
    _, sdk = check(tmp_path / "sdk", "openai_sdk", "--battery", str(battery))
    flaky = sdk["clients"]["openai_sdk"]["battery"]["flaky_network"]  # type: ignore[index]
    failed = {v["metric"]: v["actual"] for v in flaky["thresholds"] if not v["passed"]}
    assert set(failed) == {"p99_latency_ms"} and failed["p99_latency_ms"] > 600_000  # a hang
    _, naive = check(tmp_path / "naive", str(NAIVE), "--battery", str(battery))
    storm = naive["clients"]["naive"]["battery"]["overload_collapse"]  # type: ignore[index]
    assert not storm["passed"]
    assert storm["metrics"]["amplification"] > 3  # its immediate retries pile on


def test_a_scenario_as_client_is_scored_per_strategy(tmp_path: Path) -> None:
    path = tmp_path / "battery.yaml"
    herd = {**load_battery("default")[0].scenario, "duration": 5}
    path.write_text(
        "base: none\nitems: {burst_herd: {scenario: " + json.dumps(herd) + ", thresholds: "
        "{success_rate: '>= 0.95'}}}\n"
    )
    out = tmp_path / "out"
    run = CheckRun(str(ROOT / "scenarios" / "thundering_herd.yaml"), str(path), out_dir=out)
    from simulator.check.run import run_check

    assert run_check(run) == 1
    ships = {c.name: c.ships for c in run.cards}
    assert list(ships) == ["naive", "exponential", "full_jitter", "decorrelated_jitter",
                           "retry_after"]  # fmt: skip
    assert not any(ships.values())  # none has a fallback, a guard or a budget
    herd = {c.name: c.results[0].metrics["success_rate"] for c in run.cards}
    assert herd["full_jitter"] > herd["naive"]


def test_live_runs_the_battery_against_the_mock(tmp_path: Path) -> None:
    """--live: one small item through `stampede run`'s live orchestration."""
    path = tmp_path / "battery.yaml"
    path.write_text(
        """
base: none
items:
  small_burst:
    scenario:
      time_scale: 10
      duration: 1
      drain: 20
      provider: {models: {gpt-4o: {rpm: 6}}}
      workload: {model: gpt-4o, arrivals: {kind: burst, n: 8}, prompts: {max_tokens: 50}}
    thresholds: {success_rate: ">= 0.99"}
"""
    )
    status, data = check(tmp_path, str(WELL_BUILT), "--live", "--battery", str(path))
    result = data["clients"]["well_built"]["battery"]["small_burst"]  # type: ignore[index]
    assert data["mode"] == "live"  # type: ignore[index]
    assert result["metrics"]["logical_requests"] == 8
    assert result["metrics"]["attempts"] >= 8
    run_info = json.loads((tmp_path / "out" / "small_burst" / "run.json").read_text())
    assert run_info.get("mode", "live") == "live" and run_info["completed"] == ["well_built"]
    assert status == (0 if result["passed"] else 1)
