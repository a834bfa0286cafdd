"""``stampede check``: the checklist lint (by probing the client brain), the battery, the exit."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_provider.config import ProviderConfig
from mock_provider.model.catalog import build_catalog
from simulator.check.attribution import Attribution, cause_text
from simulator.check.battery import BatteryItem, item_scenario, load_battery
from simulator.check.best import item_best, resolve_threshold
from simulator.check.checklist import Item, lint_client, probe_waits
from simulator.check.diagnosis import Diagnosis, diagnose, too_strict
from simulator.check.fixes import Trial
from simulator.check.run import CheckRun, resolve_clients
from simulator.check.scorecard import ClientCard, ItemResult, render_html
from simulator.cli import main
from simulator.client.engine import ClientBrain, Responder, respond, run_scripted
from simulator.client.events import RequestResult
from simulator.client.presets import PRESETS
from simulator.config import ClientConfig, ConfigError
from simulator.report.thresholds import Verdict
from simulator.workload import LogicalRequest

_CATALOG = build_catalog(ProviderConfig())

ROOT = Path(__file__).resolve().parent.parent
NAIVE = ROOT / "examples" / "clients" / "naive.yaml"
WELL_BUILT = ROOT / "examples" / "clients" / "well_built.yaml"
WITH_BUDGET = ROOT / "examples" / "clients" / "well_built_retry_budget.yaml"


def _only(tmp_path: Path, keep: str = "runaway_loop") -> Path:
    """A battery file that keeps one default item (a faster check)."""
    path = tmp_path / "one_item.yaml"
    skip = [i.key for i in load_battery("default") if i.key != keep]
    path.write_text("items:\n" + "".join(f"  {k}: {{skip: true}}\n" for k in skip))
    return path


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
    # the give-ups are charged to the settings that made them
    assert "given up after 10 attempts (retry.kind immediate, max_attempts 10" in herd["causes"][0]
    assert herd["best_success_rate"] == 1.0
    # every failing row names a cause and a setting to change, to a value a re-run confirmed
    rows = card["battery"].values()
    failing = [r for r in rows if r["level"] == "fail"]
    assert len(failing) == 6
    for row in failing:
        assert row["causes"], row["title"]
        assert row["fix"], row["title"]
        for fix in row["fix"]:
            setting, arrow, _ = fix.partition(": ")
            assert arrow and " -> " in fix
            assert setting.split(".")[0] in ("retry", "fallback", "guards", "timeouts")
        assert row["fix_rerun"].startswith("re-run: ")
    assert card["battery"]["runaway_loop"]["fix"] == ["guards.user_daily_budget_usd: none -> $0.5"]
    text = (tmp_path / "out" / "check.json").read_text()
    assert "retry.kind: immediate -> full_jitter" in text


def test_a_well_built_config_ships_in_under_a_minute(tmp_path: Path) -> None:
    began = time.perf_counter()
    status, data = check(tmp_path, str(WELL_BUILT))
    took = time.perf_counter() - began
    assert status == 0, data["verdict"]
    card = data["clients"]["well_built"]  # type: ignore[index]
    assert all(i["level"] == "pass" for i in card["checklist"])
    assert set(card["battery"]) == {i.key for i in load_battery("default")}
    assert all(r["passed"] for r in card["battery"].values())
    assert all(r["level"] == "pass" and not r["fix"] for r in card["battery"].values())
    assert took < 60
    page = (tmp_path / "out" / "check.html").read_text()
    assert "verdict: ship" in page and "burst_herd" in page
    # every item left a run folder that `stampede report` can read
    assert (tmp_path / "out" / "burst_herd" / "traces.jsonl").stat().st_size > 0


def test_a_grpc_default_retry_budget_ships_with_a_warning_that_says_what_it_cost(
    tmp_path: Path,
) -> None:
    status, data = check(tmp_path, str(WITH_BUDGET))
    assert status == 0, data["verdict"]
    card = data["clients"]["well_built_retry_budget"]  # type: ignore[index]
    levels = {k: r["level"] for k, r in card["battery"].items()}
    warned = [k for k, level in levels.items() if level == "warn"]
    assert warned and "fail" not in levels.values()
    herd = card["battery"]["burst_herd"]
    assert herd["level"] == "warn" and not herd["passed"]  # a threshold failed: a trade-off
    shed = herd["causes"][0]
    assert (
        "requests given up by the retry budget (retry.retry_budget: 10 tokens, ratio 0.1)" in shed
    )
    assert herd["note"].startswith("load shed on purpose")
    assert herd["fix"][0].startswith("retry.retry_budget")
    assert herd["fix_rerun"].endswith("holds every threshold")
    verdict = str(data["verdict"])
    assert verdict.startswith("verdict: ship, with")
    assert "given up by the retry budget" in verdict


def test_the_langchain_preset_fails_because_it_retries_client_errors(tmp_path: Path) -> None:
    status, data = check(tmp_path, "langchain_with_retry", "--battery", str(_only(tmp_path)))
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
    assert herd["success_rate"] == ">= best - 0.05"  # kept from the default
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


# --------------------------------------------------------------------------- why a row failed


def _gave_up(cfg: ClientConfig, script: list[Responder], input_tokens: int = 100) -> RequestResult:
    brain = ClientBrain(cfg, _CATALOG, random.Random(0))
    req = LogicalRequest(0, 0.0, "u", "chat", "v1", (("user", "hi"),), input_tokens, 64, "gpt-4o")
    result, _ = run_scripted(brain.request(req, 0.0), script)
    return result


def test_the_brain_records_why_each_request_gave_up() -> None:
    r429 = respond(429, latency_s=0.1)
    jitter = {"kind": "full_jitter", "base_s": 0.1, "cap_s": 1, "max_attempts": 3}
    cfg = ClientConfig.model_validate({"retry": jitter})
    assert _gave_up(cfg, [r429] * 3).gave_up == "attempts_exhausted"
    assert _gave_up(cfg, [respond(400)]).gave_up == "not_retryable"
    assert _gave_up(cfg, [respond(200)]).gave_up is None
    budget = {**jitter, "retry_budget": {"max_tokens": 1, "token_ratio": 0.1}}
    shed = _gave_up(ClientConfig.model_validate({"retry": budget}), [r429] * 3)
    assert (shed.gave_up, shed.attempts) == ("retry_budget", 1)
    tight = {"retry": jitter, "timeouts": {"total_s": 0.15}}
    assert _gave_up(ClientConfig.model_validate(tight), [r429] * 3).gave_up == "total_timeout"
    guarded = ClientConfig.model_validate({"guards": {"max_input_tokens": 10}})
    assert _gave_up(guarded, [], input_tokens=50).gave_up == "input_too_long"
    # a give-up on the fallback model is charged to why the last model stopped
    fb = ClientConfig.model_validate({"retry": budget, "fallback": ["gpt-4o-mini"]})
    assert _gave_up(fb, [r429] * 4).gave_up == "retry_budget"


_KINDS = ("immediate", "fixed", "exponential", "full_jitter", "decorrelated_jitter")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(_KINDS),
    max_attempts=st.integers(1, 6),
    budget=st.none() | st.integers(1, 12),
    fallback=st.booleans(),
    statuses=st.lists(st.sampled_from([200, 400, 404, 429, 500, 503, 0]), min_size=1, max_size=14),
)
def test_every_give_up_is_charged_to_a_cause_the_settings_explain(
    kind: str, max_attempts: int, budget: int | None, fallback: bool, statuses: list[int]
) -> None:
    """Any idealised client, any replies: a failed request names one cause, and the cause
    agrees with its settings and what it did (a property over clients we did not write)."""
    retry: dict[str, object] = {"kind": kind, "max_attempts": max_attempts}
    if budget is not None:
        retry["retry_budget"] = {"max_tokens": budget, "token_ratio": 0.1}
    cfg = ClientConfig.model_validate(
        {"retry": retry, "fallback": ["gpt-4o-mini"] if fallback else []}
    )
    script = [respond(s, latency_s=0.1, error="timeout" if s == 0 else None) for s in statuses] + [
        respond(200)
    ] * 20
    result = _gave_up(cfg, script)
    if result.success:
        assert result.gave_up is None
        return
    assert result.gave_up in {"attempts_exhausted", "not_retryable", "retry_budget"}
    final = result.final
    assert final is not None
    if result.gave_up == "not_retryable":
        assert final.status in (400, 404)
    if result.gave_up == "retry_budget":
        assert budget is not None and final.status in (0, 429, 500, 503)
    if result.gave_up == "attempts_exhausted":
        on_last = max_attempts
        assert result.attempts >= on_last and final.status in (0, 429, 500, 503)
    assert cause_text(result.gave_up, 1, cfg)  # said in the settings, whatever the cause


def _trial(success: float, passed: bool) -> Trial:
    verdict = Verdict("c", "success_rate", ">= 0.95", success, passed)
    return Trial({"success_rate": success}, [verdict], Attribution(100, 100, {}, {}))


def _diagnose(retry: dict[str, object], rerun_passes: bool) -> Diagnosis:
    cfg = ClientConfig.model_validate({"retry": retry, "fallback": ["gpt-4o-mini"],
                                       "timeouts": {"read_s": 30, "total_s": 120}})  # fmt: skip
    failed = [Verdict("c", "success_rate", ">= 0.95", 0.93, False)]
    shed = Attribution(100, 93, {"retry_budget": 7}, {"retry_budget": "rate_limit_exceeded"})
    tried: list[ClientConfig] = []

    def rerun(changed: ClientConfig) -> Trial:
        tried.append(changed)
        return _trial(1.0 if rerun_passes else 0.93, rerun_passes)

    d = diagnose(cfg, lint_client(cfg), failed, shed, ["mistral-large"], rerun, {})
    assert tried, "a fix is always checked by a re-run"
    return d


GOOD = {"kind": "full_jitter", "base_s": 0.5, "cap_s": 20, "max_attempts": 5,
        "honor_retry_after": True, "max_retry_after_s": 30}  # fmt: skip


def test_load_shed_by_a_default_retry_budget_is_a_warning_with_its_cost_and_fix() -> None:
    d = _diagnose({**GOOD, "retry_budget": {"max_tokens": 10, "token_ratio": 0.1}}, True)
    assert d.level == "warn"
    assert d.cost == "7 requests given up by the retry budget"
    assert d.causes[0].startswith(
        "7 requests given up by the retry budget (retry.retry_budget: 10 tokens, ratio 0.1)"
    )
    assert str(d.fixes[0]) == "retry.retry_budget.max_tokens: 10 -> 100"
    # a breaker at pybreaker's defaults is a trade-off too
    breaker = {**GOOD, "circuit_breaker": {"failure_threshold": 5, "reset_timeout_s": 60}}
    cfg = ClientConfig.model_validate({"retry": breaker})
    assert not too_strict(cfg)


def test_shedding_is_a_failure_when_stricter_than_defaults_broken_or_not_the_cause() -> None:
    strict = _diagnose({**GOOD, "retry_budget": {"max_tokens": 4, "token_ratio": 0.1}}, True)
    assert strict.level == "fail" and "gRPC's documented maxTokens 10" in strict.note
    broken = {"kind": "immediate", "max_attempts": 5,
              "retry_budget": {"max_tokens": 10, "token_ratio": 0.1}}  # fmt: skip
    d = _diagnose(broken, True)
    assert d.level == "fail" and "broken (backoff" in d.note
    assert d.fixes and "retry.kind: immediate -> full_jitter" in d.fix_text()
    # relaxing the budget does not make the row hold: the budget is not what failed it
    d = _diagnose({**GOOD, "retry_budget": {"max_tokens": 10, "token_ratio": 0.1}}, False)
    assert d.level == "fail" and "still fails success_rate" in d.fix_text()


def test_thresholds_are_stated_against_the_best_any_client_could_do() -> None:
    assert resolve_threshold(">= best - 0.05", 1.0) == ">= 0.95"
    assert resolve_threshold(">= best", 0.8) == ">= 0.8"
    assert resolve_threshold("< 60000", 1.0) == "< 60000"
    items = {i.key: i for i in load_battery("default")}
    herd = item_scenario(items["burst_herd"], {"c": ClientConfig()})
    best = item_best(herd)
    # 30 + 60 + 60 RPM over 300 s: each model's bucket plus its refill
    assert best.capacity == (30 + 30 * 5) + 2 * (60 + 60 * 5)
    assert best.success_rate == 1.0 and best.burst is not None
    assert herd.thresholds["c"]["success_rate"] == ">= 0.95"
    # an outage takes its model's capacity out for its window
    outage = item_best(item_scenario(items["primary_outage"], {"c": ClientConfig()}))
    assert outage.capacity == 500 + 500 * (540 - 300) / 60 + 2 * (500 + 500 * 9)
    # nothing but the limits: a burst ten times the whole capacity cannot all be served
    big = dict(items["burst_herd"].scenario)
    big["workload"] = {**big["workload"], "arrivals": {"kind": "burst", "n": 9000}}
    item = BatteryItem("big", "big", big, {"success_rate": ">= best - 0.05"})
    sc = item_scenario(item, {"c": ClientConfig()})
    assert sc.thresholds["c"]["success_rate"] == ">= 0.05"  # 900 of 9,000, less 5 points


def test_best_is_known_for_success_only(tmp_path: Path) -> None:
    path = tmp_path / "battery.yaml"
    path.write_text("items: {burst_herd: {thresholds: {cost_usd: '< best'}}}\n")
    with pytest.raises(ConfigError, match="'best' is known for success_rate only"):
        load_battery(str(path))


def test_check_html_fits_a_1280_px_window() -> None:
    """Nothing on the page is wider than 1280 px: no fixed width past it, the body capped
    below it, and every cell of free text may wrap (the report's cells do not)."""
    cfg = ClientConfig.model_validate({"retry": GOOD})
    item = load_battery("default")[0]
    long = "a cause that goes on " * 30
    verdict = Verdict("c", "success_rate", ">= 0.95", 0.5, False)
    result = ItemResult(item, {"success_rate": 0.5}, [verdict], "/a/folder/" + "x" * 200,
                        None, Diagnosis("fail", [long], [], None, long))  # fmt: skip
    card = ClientCard("c", long, lint_client(cfg), [result])
    page = render_html([card], "stampede check c", "in virtual time")
    css = page[page.index("<style>") : page.index("</style>")]
    widths = [int(w) for w in re.findall(r"(?<![-\w])(?:max-|min-)?width:\s*(\d+)px", css)]
    assert widths and max(widths) <= 1280
    assert "max-width:1180px" in css  # the body
    assert "td.text{white-space:normal" in css and "tr.why td{white-space:normal" in css
    assert "code{overflow-wrap:anywhere}" in css
    # every cell holding free text is a wrapping one: a text cell or the row's explanation
    for cell in re.findall(r"<td([^>]*)>([^<]{60,})", page):
        assert "class=text" in cell[0] or "colspan" in cell[0], cell
    assert "colspan=" in page and long.strip() in page
