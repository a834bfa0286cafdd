"""The pre-flight check on small in-memory scenarios: each finding, its field and its figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from mock_provider.model.provider import ChatRequest, Completion, Provider
from simulator.config import ArrivalConfig, Scenario, load_scenario
from simulator.demand import peak_per_s
from simulator.preflight import Finding, preflight
from simulator.workload import build_workload

ROOT = Path(__file__).resolve().parents[1]
STARVED = ROOT / "tests" / "scenarios" / "tpm_starved_fallback.yaml"
INSTANT = {  # a model with zero latency: responses settle the moment they are admitted
    "network_ms": {"median": 0},
    "prefill_ms_per_token": {"median": 0},
    "first_token_ms": {"median": 0},
    "decode_ms_per_token": {"median": 0},
}


def scenario(**changes: object) -> Scenario:
    """A small valid scenario: 1 request/s to gpt-4o with generous limits; ``changes``
    replace top-level sections (``workload`` merges into the default workload)."""
    data: dict = {
        "name": "pf",
        "duration": 60,
        "drain": 30,
        "provider": {"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000}}},
        "workload": {
            "model": "gpt-4o",
            "arrivals": {"kind": "poisson", "rate": 1},
            "prompts": {"input_tokens": {"median": 500, "spread": 0.2}, "max_tokens": 200},
        },
        "strategies": {"a": {"retry": {"kind": "full_jitter"}}},
    }
    workload = changes.pop("workload", {})
    data.update(changes)
    data["workload"] = {**data["workload"], **workload}  # type: ignore[dict-item]
    return Scenario.model_validate(data)


def at(findings: list[Finding], field: str, level: str = "warning") -> list[str]:
    return [f.message for f in findings if f.field == field and f.level == level]


def levels(findings: list[Finding]) -> set[str]:
    return {f.level for f in findings}


# --------------------------------------------------------------------------- capacity


def test_the_issue_scenario_flags_tpm_and_the_fallbacks_default_limits():
    sc = load_scenario(STARVED)
    found = preflight(sc)
    w = build_workload(sc.workload, sc.seed, sc.duration)
    mean_prompt = sum(r.input_tokens for r in w.open_loop) / w.total
    settled = mean_prompt + 100  # output median 150, capped by max_tokens 100
    [tpm] = at(found, "provider.models.gpt-4o.tpm")
    assert "about 300 requests/min" in tpm
    assert f"about {round(30_000 / settled)} of 300 requests a minute can be admitted" in tpm
    assert f"{round(mean_prompt + 100)} mean" in tpm  # the charge at admission
    [default] = at(found, "provider.models.gpt-4o-mini")
    assert "strategies.with_fallback.fallback[0]" in default
    assert "provider.default_rpm 10,000" in default
    assert "provider.default_tpm 30,000,000" in default
    assert "set provider.models.gpt-4o-mini.rpm" in default
    [fallback] = at(found, "provider.models.gpt-4o-mini", "info")
    assert "all of gpt-4o's traffic" in fallback and "300 requests/min" in fallback


def test_tpm_admission_figure_matches_the_mocks_own_limiter():
    """Drive the provider brain with the scenario's arrivals: what its TPM bucket admits in
    the second minute (the first starts with a full bucket) is what the pre-flight said."""
    data = yaml.safe_load(STARVED.read_text())
    data["provider"]["models"]["gpt-4o"] = {"rpm": 100_000, "tpm": 30_000, "latency": INSTANT}
    data["duration"] = 120
    sc = Scenario.model_validate(data)
    [msg] = at(preflight(sc), "provider.models.gpt-4o.tpm")
    predicted = int(msg.split("about ")[2].split(" of ")[0])

    provider = Provider(sc.mock_config, 0.0)
    admitted = 0
    for r in build_workload(sc.workload, sc.seed, sc.duration).open_loop:
        messages = [{"role": role, "content": text} for role, text in r.messages]
        d = provider.chat(
            ChatRequest("sk", "gpt-4o", r.input_tokens, r.max_tokens, False, messages), r.at
        )
        admitted += isinstance(d, Completion) and r.at >= 60
    assert admitted == pytest.approx(predicted, rel=0.1)


def test_rpm_over_capacity_says_how_many_get_in():
    found = preflight(scenario(workload={"arrivals": {"kind": "poisson", "rate": 10}}))
    [rpm] = at(found, "provider.models.gpt-4o.rpm")
    assert "about 600 requests/min at peak against 500 RPM" in rpm
    assert "about 500 of 600" in rpm


def test_within_capacity_is_info_only():
    found = preflight(scenario())
    assert levels(found) == {"info"}
    [info] = at(found, "provider.models.gpt-4o", "info")
    assert "60 requests/min at peak against 500 RPM (12%)" in info


def test_a_burst_is_compared_with_the_bucket():
    found = preflight(
        scenario(
            provider={"models": {"gpt-4o": {"rpm": 60, "tpm": 2_000_000}}},
            workload={"arrivals": {"kind": "burst", "n": 100, "at": 2}},
        )
    )
    [rpm] = at(found, "provider.models.gpt-4o.rpm")
    assert "a burst of 100 requests at t=2 s against 60 RPM" in rpm
    assert "60 are admitted at once" in rpm
    assert "the other 40 waits about 40 s" in rpm  # 40 more at 1 a second


def test_overload_the_scenario_intends_is_info_and_the_lint_verdict_is_clean():
    """A herd's burst above the RPM limit is what the scenario shows: with ``overload:
    intended`` the same finding is info, so lint no longer doubts the verdict; a request
    larger than the whole TPM limit stays a warning (it can never be admitted)."""
    from simulator.cli import _lint_verdict

    herd = {
        "provider": {"models": {"gpt-4o": {"rpm": 60, "tpm": 2_000_000}}},
        "workload": {"arrivals": {"kind": "burst", "n": 100, "at": 2}},
    }
    plain, intended = preflight(scenario(**herd)), preflight(scenario(**herd, overload="intended"))
    [warned] = at(plain, "provider.models.gpt-4o.rpm")
    [told] = at(intended, "provider.models.gpt-4o.rpm", "info")
    assert told == warned + "; this overload is what the scenario is about (overload: intended)"
    assert "warning" not in levels(intended)
    assert _lint_verdict(0, 0) == "verdict: no errors or warnings: ready to run"
    huge = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 650}}}, overload="intended")
    assert [m for m in at(preflight(huge), "provider.models.gpt-4o.tpm") if "every time" in m]
    # every shipped scenario about overload says so, and lints clean
    for name in ("thundering_herd", "launch_day", "tpm_pressure", "my_app"):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        assert sc.overload == "intended" and "warning" not in levels(preflight(sc)), name


def test_admission_charges_the_provider_default_without_max_tokens():
    sc = scenario(
        provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 40_000}}, "default_max_tokens": 1000},
        workload={"prompts": {"input_tokens": {"median": 500, "spread": 0}, "max_tokens": None}},
    )
    [tpm] = at(preflight(sc), "provider.models.gpt-4o.tpm")
    prompt = build_workload(sc.workload, sc.seed, sc.duration).open_loop[0].input_tokens
    assert (
        f"prompt + max_tokens 1,000 (the provider default) at admission ({prompt + 1000:,}" in tpm
    )
    assert f"x {prompt + 200:,} tokens" in tpm  # settles to the output median, 200


def test_guards_change_what_reaches_the_model():
    guarded = {"retry": {"kind": "full_jitter"}, "guards": {"max_input_tokens": 500,
                                                            "max_output_tokens": 50}}  # fmt: skip
    sc = scenario(
        provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 10_000}}},
        strategies={"plain": {"retry": {"kind": "full_jitter"}}, "guarded": guarded},
    )
    w = build_workload(sc.workload, sc.seed, sc.duration)
    refused = sum(r.input_tokens > 500 for r in w.open_loop)
    assert 0 < refused < w.total
    found = preflight(sc)
    [plain] = [m for m in at(found, "provider.models.gpt-4o.tpm") if "plain" in m]
    [guard] = [m for m in at(found, "provider.models.gpt-4o.tpm") if "guarded" in m]
    assert f"input guard refuses {refused} of {w.total} prompts" in guard
    assert "max_tokens 50 at admission" in guard and "max_tokens 200" in plain


def test_a_request_larger_than_the_whole_tpm_is_called_out():
    sc = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 650}}})
    w = build_workload(sc.workload, sc.seed, sc.duration)
    too_large = sum(r.input_tokens + 200 > 650 for r in w.open_loop)
    assert too_large > 0
    [msg] = [m for m in at(preflight(sc), "provider.models.gpt-4o.tpm") if "every time" in m]
    assert msg.startswith(f"gpt-4o: {too_large} of {w.total} requests are charged more")


def test_closed_loop_demand_is_users_over_think_plus_response():
    sc = scenario(
        provider={"models": {"gpt-4o": {"rpm": 100, "tpm": 2_000_000, "latency": INSTANT}}},
        workload={"arrivals": {"kind": "closed_loop", "users": 10,
                               "think_time": {"median": 2, "spread": 0}}},
    )  # fmt: skip
    [rpm] = at(preflight(sc), "provider.models.gpt-4o.rpm")
    assert "about 300 requests/min" in rpm  # 10 users, one request every 2 s each


@pytest.mark.parametrize(
    ("arrivals", "duration", "peak"),
    [
        ([{"kind": "poisson", "rate": 3}], 60, 3),
        ([{"kind": "ramp", "start_rate": 1, "end_rate": 5}], 60, 5),
        ([{"kind": "ramp", "start_rate": 5, "end_rate": 1}], 60, 5),
        ([{"kind": "spike", "rate": 1, "spike_rate": 9, "spike_start": 10, "spike_end": 20}],
         60, 10),
        ([{"kind": "spike", "rate": 1, "spike_rate": 9, "spike_start": 70, "spike_end": 80}],
         60, 1),
        ([{"kind": "diurnal", "rate": 2, "amplitude": 0.5, "period": 40}], 60, 3),
        # a tenth of a quarter period: the sine reaches sin(pi / 20)
        ([{"kind": "diurnal", "rate": 2, "amplitude": 0.5, "period": 2400}], 60,
         2 * (1 + 0.5 * math.sin(math.pi / 20))),
        # phases add at the same instant: the ramp reaches 1 + 4 * 31/60 as the spike ends
        ([{"kind": "ramp", "start_rate": 1, "end_rate": 5},
          {"kind": "spike", "rate": 0, "spike_rate": 6, "spike_start": 30, "spike_end": 31}],
         60, 6 + 1 + 4 * 31 / 60),
        ([{"kind": "poisson", "rate": 3, "max_requests": 60}], 60, 1),
        ([{"kind": "burst", "n": 50}], 60, 0),
    ],
)  # fmt: skip
def test_peak_rate_by_arrival_kind(arrivals, duration, peak):
    phases = [ArrivalConfig.model_validate(a) for a in arrivals]
    assert peak_per_s(phases, duration) == pytest.approx(peak, rel=1e-3)


# --------------------------------------------------------------------------- windows


def test_outage_after_a_short_duration_is_flagged():
    """``stampede run scenarios/outage_fallback.yaml --duration 5s``: the outage is 30-90 s."""
    sc = load_scenario(ROOT / "scenarios" / "outage_fallback.yaml")
    assert at(preflight(sc), "provider.faults[0].start") == []
    short = sc.model_copy(update={"duration": 5.0})
    [msg] = at(preflight(short), "provider.faults[0].start")
    assert "the outage on gpt-4o from 30 s starts at or after the last arrival" in msg
    assert "meets only retries" in msg


def test_faults_that_never_happen_or_hit_no_called_model():
    faults = [
        {"kind": "outage", "model": "gpt-4o", "start": 95, "end": 99},  # run ends at 90
        {"kind": "outage", "model": "gpt-4o-mini", "start": 1, "end": 5},
        {"kind": "error_rate", "rate": 0.5, "start": 10, "end": 20},
    ]
    sc = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000}},
                            "faults": faults})  # fmt: skip
    found = preflight(sc)
    assert "after the run ends" in at(found, "provider.faults[0].start")[0]
    assert "no client calls" in at(found, "provider.faults[1].model")[0]
    assert not [f for f in found if f.field.startswith("provider.faults[2]")]


def test_spikes_outside_the_arrival_window():
    def spike(start: float, end: float) -> Scenario:
        arr = {"kind": "spike", "rate": 1, "spike_rate": 5, "spike_start": start, "spike_end": end}
        return scenario(workload={"arrivals": arr})

    assert "adds no requests" in at(preflight(spike(60, 70)), "workload.arrivals.spike_start")[0]
    assert "lasts 5 s" in at(preflight(spike(55, 70)), "workload.arrivals.spike_end", "info")[0]
    assert not [f for f in preflight(spike(10, 20)) if "spike" in f.field]


@pytest.mark.parametrize(
    ("arrivals", "field", "text"),
    [
        ({"kind": "burst", "n": 5, "at": 60}, "workload.arrivals.at", "sends no requests"),
        ([{"kind": "poisson", "rate": 1}, {"kind": "burst", "n": 5, "at": 61}],
         "workload.arrivals[1].at", "at or after the duration (60 s)"),
        ({"kind": "poisson", "rate": 0}, "workload.arrivals", "produces no requests"),
        ([{"kind": "poisson", "rate": 1}, {"kind": "closed_loop", "users": 2}],
         "workload.arrivals", "cannot be combined"),
    ],
)  # fmt: skip
def test_scenarios_that_cannot_run_are_errors(arrivals, field, text):
    found = preflight(scenario(workload={"arrivals": arrivals}))
    assert found[0].level == "error"
    assert any(text in m for m in at(found, field, "error")), found


# --------------------------------------------------------------------------- defaults


def test_default_limits_set_on_purpose_are_info():
    sc = scenario(provider={"default_rpm": 600, "default_tpm": 900_000})
    [msg] = [m for m in at(preflight(sc), "provider.models.gpt-4o", "info") if "has no" in m]
    assert "provider.default_rpm 600 and provider.default_tpm 900,000" in msg
    assert "unlimited" not in msg
    assert not [f for f in preflight(sc) if f.level == "warning"]


def test_a_primary_with_only_tpm_names_the_missing_rpm():
    sc = scenario(provider={"models": {"gpt-4o": {"tpm": 2_000_000}}})
    [msg] = at(preflight(sc), "provider.models.gpt-4o")
    assert "gpt-4o (workload.model) has no rpm of its own" in msg
    assert msg.endswith("set provider.models.gpt-4o.rpm")


# --------------------------------------------------------------------------- declared models


def test_a_retired_model_declared_to_set_its_limits_is_a_warning_naming_its_replacement():
    # The mock serves a declared model whatever its state; the real API answers 404.
    sc = scenario(provider={"models": {"claude-sonnet-4-5": {"rpm": 50}}},
                  workload={"model": "claude-sonnet-4-5"})  # fmt: skip
    [msg] = [m for m in at(preflight(sc), "provider.models.claude-sonnet-4-5") if "retired" in m]
    assert msg == (
        "claude-sonnet-4-5 is retired since 2026-11-30 (replacement claude-sonnet-4-6): declaring "
        "it here serves it anyway, the real API answers 404; use claude-sonnet-4-6, or keep it "
        "on purpose"
    )
    served = scenario(provider={"models": {"claude-sonnet-4-5": {"rpm": 50}},
                                "catalog_date": "2026-11-29"},
                      workload={"model": "claude-sonnet-4-5"})  # fmt: skip
    assert not [m for m in at(preflight(served), "provider.models.claude-sonnet-4-5")
                if "retired" in m]  # fmt: skip


def test_a_misspelt_provider_model_is_a_warning_with_the_closest_names():
    sc = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000},
                                       "claude-haiku-9": {"rpm": 50}}})  # fmt: skip
    [msg] = at(preflight(sc), "provider.models.claude-haiku-9")
    assert msg.startswith("not in the catalogue (as of 2026-12-07); did you mean claude-haiku-4-5")
    assert msg.endswith("A model of the scenario's own needs `dialect:` when it is not OpenAI's")
    # Catalogue names, names that are not a provider's, and a declared dialect say nothing.
    for name, model in [
        ("gpt-4o", {"rpm": 9}),
        ("my-model", {"rpm": 9}),
        ("o1x", {"rpm": 9}),
        ("claude-mine", {"rpm": 9, "dialect": "anthropic"}),
    ]:
        quiet = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000},
                                              name: model}})  # fmt: skip
        assert not [m for m in at(preflight(quiet), f"provider.models.{name}")
                    if "catalogue" in m or "retired" in m], name  # fmt: skip


def test_a_misspelt_claude_model_with_anthropic_limits_is_an_error_with_the_suggestion():
    from simulator.model_refs import model_problems

    sc = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000},
                                       "claude-haiku-9": {"rpm": 50, "itpm": 1000}}})  # fmt: skip
    [(where, msg)] = model_problems(sc)
    assert where == "provider.models.claude-haiku-9.itpm"
    assert "not in the catalogue (as of 2026-12-07); did you mean claude-haiku-4-5" in msg
    assert "without `dialect: anthropic`, itpm limits models that speak Anthropic's" in msg
    mine = scenario(provider={"models": {"gpt-4o": {"rpm": 500, "tpm": 2_000_000},
                                         "claude-haiku-9": {"itpm": 1000,
                                                            "dialect": "anthropic"}}})  # fmt: skip
    assert model_problems(mine) == []


def test_findings_are_frozen_and_serialise():
    f = Finding("warning", "provider.models.gpt-4o.tpm", "too little")
    assert f.as_dict() == {"level": "warning", "field": f.field, "message": "too little"}
    with pytest.raises(AttributeError):
        f.level = "info"  # type: ignore[misc]


def test_every_shipped_scenario_passes_without_errors():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        found = preflight(load_scenario(path))
        assert "error" not in levels(found), (path, found)
        assert found, path  # at least the capacity figures
