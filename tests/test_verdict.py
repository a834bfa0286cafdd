"""The verdict on hand-made summaries: objectives, floors, noise, repeats, stars, partial runs."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.config import ConfigError
from simulator.report.verdict import (
    DEFAULT_OBJECTIVE,
    parse_objective,
    rank,
    stars,
    verdict_lines,
    winner_record,
)


def summary(per: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"strategies": per, **extra}


def m(**values: Any) -> dict[str, Any]:
    base = {"success_rate": 1.0, "p95_latency_ms": 1000.0, "amplification": 1.0}
    return {**base, **values}


def test_default_objective_puts_success_first_and_stars_no_failure() -> None:
    # naive fails a third of its requests but is "fastest" and "cheapest" among successes
    s = summary(
        {
            "naive": m(success_rate=0.66, p95_latency_ms=3_300, cost_per_success_usd=0.0001),
            "jitter": m(p95_latency_ms=42_000, cost_per_success_usd=0.00015),
            "decorr": m(p95_latency_ms=39_000, cost_per_success_usd=0.00015),
        }
    )
    r = rank(s, ["naive", "jitter", "decorr"])
    assert r.winner == "decorr" and r.runner_up == "jitter"
    assert r.below_floor.keys() == {"naive"}
    assert stars(s, r, "p95_latency_ms") == {"decorr"}
    assert stars(s, r, "cost_per_success_usd") == set()  # the eligible two are equal
    assert "naive" not in stars(s, r, "success_rate")


def test_stated_objective_ranks_streaming_on_ttft() -> None:
    s = summary(
        {
            "non_streaming": m(p95_latency_ms=10_006, p95_ttft_ms=10_006),
            "streaming": m(p95_latency_ms=10_008, p95_ttft_ms=703),
        }
    )
    obj = parse_objective({"rank_by": ["ttft"], "floor": {"success_rate": ">= 0.99"}}, "x.yaml")
    r = rank(s, ["non_streaming", "streaming"], obj)
    assert r.winner == "streaming" and r.decided_by == "p95_ttft_ms"
    assert r.reason == (
        "lowest p95 time to first token: 703 ms against 10,006 ms for non_streaming"
    )
    # without the objective the two tie: the same latency, success and amplification
    assert rank(s, ["non_streaming", "streaming"]).winner is None


def test_cost_objective_names_the_guard_that_refused_on_purpose() -> None:
    s = summary(
        {
            "no_guard": m(cost_usd=5.43, error_rate=0.0, refused_by_guard=0),
            "budget_guard": m(
                cost_usd=1.48, error_rate=0.0, refused_by_guard=278, refusal_rate=0.74
            ),
        }
    )
    obj = parse_objective({"rank_by": ["cost_usd"], "floor": {"error_rate": "<= 0.01"}}, "x")
    r = rank(s, ["no_guard", "budget_guard"], obj)
    assert winner_record(r) == {
        "strategy": "budget_guard",
        "runner_up": "no_guard",
        "reason": "lowest total cost: $1.480 against $5.430 for no_guard",
    }
    lines = verdict_lines(s, r)
    assert any(x.startswith("Refused on purpose by a guard") and "74.0%" in x for x in lines)


def test_differences_inside_the_noise_are_not_differences() -> None:
    s = summary({"a": m(p95_latency_ms=10_003), "b": m(p95_latency_ms=10_000)})
    r = rank(s, ["a", "b"])
    assert r.winner is None and "within noise" in r.reason
    assert winner_record(r) is None
    assert stars(s, r, "p95_latency_ms") == set()  # 3 ms apart: no star for either


def test_a_tie_on_the_first_metric_falls_through_to_the_next() -> None:
    s = summary(
        {
            "a": m(p95_latency_ms=40_000, amplification=3.1),
            "b": m(p95_latency_ms=39_000, amplification=2.6),
        }
    )
    obj = parse_objective(["p95_latency_ms", "amplification"], "x")
    r = rank(s, ["a", "b"], obj)
    assert r.winner == "b" and r.decided_by == "amplification"
    assert r.reason.startswith("same p95 latency (39,000 ms) and lowest amplification: 2.60×")


def test_with_repeats_a_winner_needs_to_be_outside_the_spread() -> None:
    per = {"a": m(p95_latency_ms=9_000), "b": m(p95_latency_ms=10_000)}
    overlapping = summary(
        per,
        repeats=3,
        spread={"a": {"p95_latency_ms": [8_000, 10_500]}, "b": {"p95_latency_ms": [9_500, 11_000]}},
    )
    assert rank(overlapping, ["a", "b"]).winner is None
    apart = summary(
        per,
        repeats=3,
        spread={"a": {"p95_latency_ms": [8_800, 9_200]}, "b": {"p95_latency_ms": [9_800, 10_300]}},
    )
    assert rank(apart, ["a", "b"]).winner == "a"


def test_partial_run_names_no_winner() -> None:
    s = summary({"a": m(success_rate=1.0), "b": m(success_rate=0.5)}, partial=True)
    r = rank(s, ["a", "b"])
    assert r.winner is None and r.partial and winner_record(r) is None
    assert verdict_lines(s, r)[1].startswith("No clear winner: partial run")


def test_explicit_floor_and_the_only_eligible_strategy() -> None:
    s = summary({"a": m(success_rate=0.96), "b": m(success_rate=0.80, p95_latency_ms=10)})
    obj = parse_objective({"rank_by": ["p95"], "floor": {"success": ">= 0.95"}}, "x")
    r = rank(s, ["a", "b"], obj)
    assert r.winner == "a" and r.runner_up == "b" and r.decided_by == "floor"
    assert r.reason.startswith("the only strategy that meets the floor (success rate >= 95.0%)")
    nobody = parse_objective({"rank_by": ["p95"], "floor": {"success": ">= 0.99"}}, "x")
    assert rank(s, ["a", "b"], nobody).reason == "no strategy meets the floor"


def test_objective_errors_name_the_field_and_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        parse_objective(
            {"rank_by": ["p95_latncy", "logical_requests"], "floor": {"x": "< 1", "cost": "lo"}},
            "s.yaml",
        )
    text = str(err.value)
    assert "s.yaml" in text
    assert "objective.rank_by[0]: 'p95_latncy' is not a metric" in text
    assert "objective.rank_by[1]: 'logical_requests'" in text  # no direction: not rankable
    assert "objective.floor.x: unknown metric 'x'" in text
    assert "objective.floor.cost: cannot read threshold 'lo'" in text


def test_default_objective_is_reported_as_not_stated() -> None:
    assert parse_objective(None, "x") == DEFAULT_OBJECTIVE
    assert DEFAULT_OBJECTIVE.as_dict()["stated"] is False
    assert "within noise of the best" in DEFAULT_OBJECTIVE.describe()


def tpm_like() -> dict[str, Any]:
    """tpm_pressure's shape: a guard refuses 40 of 145 and succeeds on the rest; naive gives
    up on a quarter but is as fast as the guard; the floor bounds refusals only."""
    return summary(
        {
            "naive": m(success_rate=0.759, served_rate=0.759, refused_by_guard=0, refusal_rate=0.0,
                       p50_latency_ms=2_007, p95_latency_ms=4_364, cost_usd=0.0672),
            "jitter": m(success_rate=0.848, served_rate=0.848, refused_by_guard=0, refusal_rate=0.0,
                        p50_latency_ms=2_339, p95_latency_ms=17_330, cost_usd=0.0748),
            "guard": m(success_rate=1.0, served_rate=0.724, refused_by_guard=40,
                       refusal_rate=0.276, p50_latency_ms=1_922, p95_latency_ms=4_359,
                       cost_usd=0.0511),
        }
    )  # fmt: skip


TPM_OBJECTIVE = {
    "rank_by": ["success_rate", "p95_latency_ms"],
    "floor": {"refusal_rate": "<= 0.35"},
}


def test_a_ranking_by_success_rate_states_the_served_share_and_the_refusals() -> None:
    s = tpm_like()
    r = rank(s, ["naive", "jitter", "guard"], parse_objective(TPM_OBJECTIVE, "x"))
    assert r.winner == "guard"
    assert r.reason == (
        "highest success rate: 100.0% (served 72.4%, 40 refused) against 84.8% "
        "(served 84.8%, none refused) for jitter"
    )
    lines = verdict_lines(s, r)
    assert (
        "Served share (successes over every request offered, refusals not served): naive "
        "75.9%, jitter 84.8%, guard 72.4%." in lines
    )
    assert "Refused on purpose by a guard (not failures): guard 40 (27.6% of requests)." in lines


def test_no_refusals_no_served_share_in_the_verdict() -> None:
    s = summary({"a": m(success_rate=0.9, served_rate=0.9, refused_by_guard=0),
                 "b": m(success_rate=0.5, served_rate=0.5, refused_by_guard=0)})  # fmt: skip
    r = rank(s, ["a", "b"])
    assert r.reason == "highest success rate: 90.0% against 50.0% for b"
    assert not any("erved" in line for line in verdict_lines(s, r))


def test_a_strategy_that_gives_up_more_than_the_floor_allows_gets_no_star() -> None:
    s = tpm_like()
    r = rank(s, ["naive", "jitter", "guard"], parse_objective(TPM_OBJECTIVE, "x"))
    assert r.eligible == ["guard", "jitter", "naive"]  # the floor is on refusals only
    for metric in ("success_rate", "served_rate", "p50_latency_ms", "p95_latency_ms",
                   "cost_usd", "amplification"):  # fmt: skip
        assert not stars(s, r, metric) & {"naive", "jitter"}, metric
    # the guard is starred where it is the best there is, even counting naive's fast give-ups
    assert stars(s, r, "p95_latency_ms") == {"guard"}  # within noise of naive's 4,364 ms
    assert stars(s, r, "cost_usd") == {"guard"}
    # jitter serves the most, but gives up on 15%: nobody is starred for serving
    assert stars(s, r, "served_rate") == set()
    # a floor that bounds give-ups already: every eligible strategy is a candidate, and naive
    # (within noise of the guard's p50) shares its star
    bounded = parse_objective({"rank_by": ["p95"], "floor": {"success_rate": ">= 0.7"}}, "x")
    r2 = rank(s, ["naive", "jitter", "guard"], bounded)
    assert stars(s, r2, "p50_latency_ms") == {"guard", "naive"}
    assert stars(s, r2, "served_rate") == {"jitter"}
