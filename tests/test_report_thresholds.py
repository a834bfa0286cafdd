"""k6-style threshold parsing and evaluation."""

from __future__ import annotations

import pytest

from simulator.config import ConfigError
from simulator.report.thresholds import Verdict, evaluate, parse_expression, parse_thresholds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("< 8000", ("<", 8000.0)),
        ("<= 1.5", ("<=", 1.5)),
        (">= 0.99", (">=", 0.99)),
        ("== 0", ("==", 0.0)),
        ("> 3", (">", 3.0)),
        ("!= 1", ("!=", 1.0)),
        ("<2.5e3", ("<", 2500.0)),
        ("  >=  .5 ", (">=", 0.5)),
    ],
)
def test_parse_expression(text: str, expected: tuple[str, float]) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize("bad", ["8000", "<", "=< 3", "< abc", "<< 3", "", "< 3 ms", 5, None])
def test_parse_expression_rejects_with_a_helpful_message(bad: object) -> None:
    with pytest.raises(ValueError, match="write an operator and a number"):
        parse_expression(bad)


def test_all_expands_to_every_strategy_and_a_strategy_entry_overrides() -> None:
    th = parse_thresholds(
        {
            "all": {"p95_latency_ms": "< 8000", "success_rate": ">= 0.99"},
            "fast": {"p95_latency_ms": "< 2000"},
        },
        ["slow", "fast"],
    )
    got = {(t.strategy, t.metric): t.expression for t in th}
    assert got == {
        ("slow", "p95_latency_ms"): "< 8000",
        ("slow", "success_rate"): ">= 0.99",
        ("fast", "p95_latency_ms"): "< 2000",
        ("fast", "success_rate"): ">= 0.99",
    }
    assert [t.strategy for t in th] == ["slow", "slow", "fast", "fast"]  # report order


def test_unknown_metric_is_a_config_error_listing_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_thresholds({"all": {"p95_latncy": "< 10"}}, ["a"], "scn.yaml")
    err = info.value
    assert err.file == "scn.yaml"
    path, msg = err.problems[0]
    assert path == "thresholds.all.p95_latncy"
    assert "unknown metric 'p95_latncy'" in msg and "p95_latency_ms" in msg and "herd_index" in msg


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_thresholds(
            {"all": {"amplification": "about 2", "nope": "< 1"}, "ghost": {"attempts": "< 1"}},
            ["a"],
        )
    paths = [p for p, _ in info.value.problems]
    assert paths == ["thresholds.all.amplification", "thresholds.all.nope", "thresholds.ghost"]
    assert "cannot read threshold 'about 2'" in str(info.value)


def _summary(**metrics: float | None) -> dict[str, object]:
    return {"strategies": {"a": metrics}}


@pytest.mark.parametrize(
    ("expr", "actual", "passed"),
    [
        ("< 8000", 7999.9, True),
        ("< 8000", 8000, False),
        ("<= 1.5", 1.5, True),
        ("<= 1.5", 1.51, False),
        (">= 0.99", 0.99, True),
        (">= 0.99", 0.98, False),
        ("> 3", 3, False),
        ("== 0", 0, True),
        ("== 0", 1, False),
        ("!= 1", 1, False),
        ("!= 1", 2, True),
    ],
)
def test_evaluate_operators_at_the_boundary(expr: str, actual: float, passed: bool) -> None:
    th = parse_thresholds({"a": {"amplification": expr}}, ["a"])
    (v,) = evaluate(th, _summary(amplification=actual))
    assert v == Verdict("a", "amplification", expr, float(actual), passed)


def test_missing_value_fails_with_a_note() -> None:
    th = parse_thresholds({"all": {"p95_ttft_ms": "< 500"}}, ["a"])
    (v,) = evaluate(th, _summary(p95_ttft_ms=None))
    assert not v.passed and v.actual is None
    assert "no value" in v.note


def test_strategy_without_records_fails() -> None:
    th = parse_thresholds({"all": {"attempts": "< 5"}}, ["a", "b"])
    verdicts = evaluate(th, _summary(attempts=1))
    assert [(v.strategy, v.passed) for v in verdicts] == [("a", True), ("b", False)]
