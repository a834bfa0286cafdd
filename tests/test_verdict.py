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
