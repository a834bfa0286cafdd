"""The comparison table in the terminal and on the page: the served share, and the star note."""

from __future__ import annotations

from typing import Any

from simulator.report.page_parts import comparison_table
from simulator.report.tables import format_table
from simulator.report.verdict import STAR_NOTE, parse_objective, rank


def row(**values: Any) -> dict[str, Any]:
    base = {"success_rate": 1.0, "served_rate": 1.0, "refused_by_guard": 0, "refusal_rate": 0.0,
            "amplification": 1.0, "p95_latency_ms": 1000.0}  # fmt: skip
    return {**base, **values}


def test_served_share_sits_next_to_success_only_when_a_guard_refused() -> None:
    names = ["naive", "guard"]
    refused = {"strategies": {
        "naive": row(success_rate=0.76, served_rate=0.76, p95_latency_ms=4_000),
        "guard": row(served_rate=0.72, refused_by_guard=40, refusal_rate=0.28),
    }}  # fmt: skip
    objective = parse_objective({"rank_by": ["success"], "floor": {"refusal_rate": "<= 0.35"}}, "x")
    text = format_table(refused, names, rank(refused, names, objective))
    head = text.splitlines()[0].split()
    assert head[1:3] == ["success", "served"]
    assert "guard — highest success rate: 100.0% (served 72.0%, 40 refused)" in text
    html = comparison_table(refused, names, rank(refused, names, objective))
    assert '<th scope="col">served</th>' in html
    # nothing refused: the served share would only repeat the success rate
    plain = {"strategies": {"naive": row(success_rate=0.76, served_rate=0.76),
                            "jitter": row()}}  # fmt: skip
    text = format_table(plain, ["naive", "jitter"], rank(plain, ["naive", "jitter"]))
    assert "served" not in text.splitlines()[0]
    assert "served" not in comparison_table(plain, ["naive", "jitter"],
                                            rank(plain, ["naive", "jitter"]))  # fmt: skip


def test_the_star_note_appears_only_under_a_star() -> None:
    names = ["a", "b"]
    # one eligible strategy (b gives up on half): no column has a star
    lonely = {"strategies": {"a": row(), "b": row(success_rate=0.5, served_rate=0.5)}}
    ranking = rank(lonely, names)
    assert "*" not in "".join(format_table(lonely, names, ranking).splitlines()[2:4])
    assert "best in column" not in format_table(lonely, names, ranking)
    assert "best in column" not in comparison_table(lonely, names, ranking)
    # two eligible, one faster beyond noise: a star, and its note
    starred = {"strategies": {"a": row(), "b": row(p95_latency_ms=2_000)}}
    ranking = rank(starred, names)
    assert "1,000*" in format_table(starred, names, ranking)
    assert f"* {STAR_NOTE}." in " ".join(format_table(starred, names, ranking).split())
    assert "★ best in column" in comparison_table(starred, names, ranking)
