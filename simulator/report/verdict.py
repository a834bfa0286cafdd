"""The verdict: which strategy the scenario's objective favours, and why.

One function, :func:`rank`, decides; the terminal table, ``report.html``, ``summary.json`` and
``compare`` all read its :class:`Ranking`, so they cannot disagree.

Theory of operation
-------------------
A scenario states what it is for in ``objective``: an ordered list of metrics to rank by
(``rank_by``), and a ``floor`` of threshold expressions a strategy must meet to be ranked at
all. Without one, the objective is success rate, then p95 latency, then amplification.

1. *Eligible* strategies meet every floor expression. A stated objective without a floor,
   and the default objective, use an implicit floor: a success rate within noise of the best
   one, so that no strategy is ranked (or starred) for being fast or cheap by failing.
2. The first ``rank_by`` metric takes the best value among the eligible; every strategy
   *within noise* of it forms the leading group, and the rest are ranked the same way behind
   it. Inside a group of several, the next metric decides. A group still holding several
   strategies when the metrics run out is a tie.
3. *Within noise*: with repeats (``--repeat``), two strategies are the same on a metric when
   their ranges over the repeats overlap; otherwise when they differ by less than the metric's
   single-run noise (:attr:`simulator.report.metrics.Metric.noise`).
4. The winner is the leading group when it holds one strategy. There is none when the best
   tie, when no strategy is eligible, or when the run is partial: a verdict on part of a run
   would compare strategies that did not all run to the end.
5. A column's stars go to the eligible strategies within noise of the column's best, and to
   none when every eligible strategy is within noise of it (the column shows no difference);
   but only to *candidates*: the eligible strategies that give up no more than the floor allows:
   all of them when the floor bounds give-ups (a success, give-up, error or served floor, or
   the implicit one); otherwise those whose success rate is within noise of the best
   eligible one, so that a floor on something else (refusals, amplification) cannot star a
   strategy for being fast by giving up on a quarter of its requests. Such a strategy still
   sets the column's best: a star means the best there is.
6. A guard's refusals are intended and left out of the success rate (see the metrics
   module); so wherever a strategy refused requests, a success rate in a reason comes with
   the served share (successes over every request offered) and how many were refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from simulator.config import ConfigError, ObjectiveConfig, format_errors
from simulator.report.metrics import METRICS
from simulator.report.thresholds import holds, parse_expression
from simulator.report.units import format_value, label

__all__ = [
    "ALIASES",
    "DEFAULT_OBJECTIVE",
    "STAR_NOTE",
    "Floor",
    "Objective",
    "Ranking",
    "parse_objective",
    "rank",
    "same",
    "star_candidates",
    "stars",
    "verdict_lines",
    "winner_record",
]

# Short names a scenario may use in ``objective``.
ALIASES: dict[str, str] = {
    "success": "success_rate",
    "latency": "p95_latency_ms",
    "p95": "p95_latency_ms",
    "ttft": "p95_ttft_ms",
    "cost": "cost_usd",
    "cost_per_success": "cost_per_success_usd",
    "amplification": "amplification",
}


@dataclass(frozen=True, slots=True)
class Floor:
    metric: str
    op: str
    limit: float

    @property
    def text(self) -> str:
        return f"{label(self.metric)} {self.op} {format_value(self.metric, self.limit)}"

    def holds(self, value: float | None) -> bool:
        return value is not None and holds(self.op, float(value), self.limit)


@dataclass(frozen=True, slots=True)
class Objective:
    rank_by: tuple[str, ...]
    floor: tuple[Floor, ...] = ()
    stated: bool = True  # False: the default, when the scenario states none

    def describe(self) -> str:
        order = ", then ".join(label(m) for m in self.rank_by)
        floor = (
            "; ".join(f.text for f in self.floor)
            if self.floor
            else "success rate within noise of the best"
        )
        return f"rank by {order}; floor: {floor}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank_by": list(self.rank_by),
            "floor": {f.metric: f"{f.op} {f.limit:g}" for f in self.floor},
            "stated": self.stated,
        }


DEFAULT_OBJECTIVE = Objective(("success_rate", "p95_latency_ms", "amplification"), (), False)


def parse_objective(
    raw: ObjectiveConfig | Mapping[str, Any] | str | list[str] | None, file: str
) -> Objective:
    """The scenario's objective, checked against the metrics registry; ConfigError if wrong."""
    if raw is None:
        return DEFAULT_OBJECTIVE
    try:
        cfg = raw if isinstance(raw, ObjectiveConfig) else ObjectiveConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            file, [("objective." + p if p else "objective", msg) for p, msg in format_errors(exc)]
        ) from exc
    problems: list[tuple[str, str]] = []
    rankable = sorted(n for n, m in METRICS.items() if m.better is not None)
    rank_by = []
    for i, name in enumerate(cfg.rank_by):
        metric = ALIASES.get(name, name)
        if metric not in METRICS or METRICS[metric].better is None:
            problems.append(
                (
                    f"objective.rank_by[{i}]",
                    f"{name!r} is not a metric with a better direction; use one of "
                    f"{', '.join(rankable)} (or {', '.join(sorted(ALIASES))})",
                )
            )
        rank_by.append(metric)
    floors = []
    for name, expr in cfg.floor.items():
        metric = ALIASES.get(name, name)
        if metric not in METRICS:
            problems.append((f"objective.floor.{name}", f"unknown metric {name!r}"))
            continue
        try:
            op, limit = parse_expression(expr)
        except ValueError as exc:
            problems.append((f"objective.floor.{name}", str(exc)))
            continue
        floors.append(Floor(metric, op, limit))
    if problems:
        raise ConfigError(file, problems)
    return Objective(tuple(rank_by), tuple(floors))


# --------------------------------------------------------------------------- noise


def _value(summary: Mapping[str, Any], s: str, metric: str) -> float | None:
    v = summary["strategies"].get(s, {}).get(metric)
    return None if v is None else float(v)


def _range(summary: Mapping[str, Any], s: str, metric: str) -> tuple[float, float] | None:
    r = (summary.get("spread") or {}).get(s, {}).get(metric)
    return None if r is None or None in r else (float(r[0]), float(r[1]))


def same(summary: Mapping[str, Any], metric: str, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are within noise of each other on ``metric`` (rule 3)."""
    va, vb = _value(summary, a, metric), _value(summary, b, metric)
    if va is None or vb is None:
        return va is None and vb is None
    ra, rb = _range(summary, a, metric), _range(summary, b, metric)
    if ra is not None and rb is not None:
        return ra[0] <= rb[1] and rb[0] <= ra[1]
    abs_tol, rel_tol = METRICS[metric].noise
    return abs(va - vb) <= max(abs_tol, rel_tol * max(abs(va), abs(vb)))


def _best(summary: Mapping[str, Any], cands: Sequence[str], metric: str) -> str | None:
    """The candidate with the best value of ``metric``; None when none has a value."""
    valued = [s for s in cands if _value(summary, s, metric) is not None]
    if not valued:
        return None
    sign = -1.0 if METRICS[metric].better == "higher" else 1.0
    return min(valued, key=lambda s: sign * float(_value(summary, s, metric) or 0.0))


def _groups(
    summary: Mapping[str, Any], cands: Sequence[str], metrics: Sequence[str]
) -> list[tuple[str, ...]]:
    """``cands`` in rank order as tie groups (rule 2)."""
    if not cands:
        return []
    if len(cands) == 1 or not metrics:
        return [tuple(cands)]
    metric, rest = metrics[0], metrics[1:]
    remaining, out = list(cands), []
    while remaining:
        lead = _best(summary, remaining, metric)
        if lead is None:  # nobody has a value: this metric cannot order them
            out += _groups(summary, remaining, rest)
            break
        group = [s for s in remaining if same(summary, metric, s, lead)]
        out += _groups(summary, group, rest)
        remaining = [s for s in remaining if s not in group]
    return out


# --------------------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class Ranking:
    """The verdict of one run: who is eligible, in which order, who won and why."""

    objective: Objective
    strategies: tuple[str, ...]  # every strategy of the run, in report order
    order: tuple[tuple[str, ...], ...]  # eligible ones, best tie group first
    below_floor: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> failures
    winner: str | None = None
    runner_up: str | None = None
    decided_by: str | None = None  # the metric that put the winner ahead, or "floor"
    reason: str = ""
    partial: bool = False

    @property
    def eligible(self) -> list[str]:
        return [s for group in self.order for s in group]


def _floor_failures(
    summary: Mapping[str, Any], strategies: Sequence[str], objective: Objective
) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if objective.floor:
        for s in strategies:
            failed = tuple(
                f"{label(f.metric)} {format_value(f.metric, _value(summary, s, f.metric))}, "
                f"needs {f.op} {format_value(f.metric, f.limit)}"
                for f in objective.floor
                if not f.holds(_value(summary, s, f.metric))
            )
            if failed:
                out[s] = failed
        return out
    # the implicit floor: a success rate within noise of the best (rule 1)
    lead = _best(summary, strategies, "success_rate")
    for s in strategies:
        value = _value(summary, s, "success_rate")
        if lead is None or value is None or not same(summary, "success_rate", s, lead):
            best = format_value(
                "success_rate", _value(summary, lead, "success_rate") if lead else None
            )
            out[s] = (f"success rate {format_value('success_rate', value)}, best is {best}",)
    return out


def rank(
    summary: Mapping[str, Any],
    strategies: Sequence[str],
    objective: Objective = DEFAULT_OBJECTIVE,
) -> Ranking:
    """Judge ``summary`` (from :func:`~simulator.report.metrics.summarize`) by ``objective``."""
    names = tuple(strategies)
    below = _floor_failures(summary, names, objective)
    order = tuple(_groups(summary, [s for s in names if s not in below], objective.rank_by))
    base = Ranking(objective, names, order, below, partial=bool(summary.get("partial")))
    if base.partial:
        return _with(base, reason="partial run: no winner is named for a run cut short")
    if not order:
        why = "no strategy meets the floor" if names else "no strategies ran"
        return _with(base, reason=why)
    lead = order[0]
    if len(lead) > 1:
        return _with(
            base, reason=f"{' and '.join(lead)} are within noise of each other on every ranked "
            f"metric ({', '.join(label(m) for m in objective.rank_by)})"
        )  # fmt: skip
    winner = lead[0]
    if len(order) == 1:
        if len(names) == 1:
            return _with(base, winner=winner, reason="the only strategy")
        # the runner-up is the best of those below the floor, so the reason can compare
        runner = _groups(summary, list(below), ("success_rate", *objective.rank_by))[0][0]
        if not objective.floor:  # the implicit floor is a success rate: say it in numbers
            reason = _reason(summary, objective, winner, runner, "success_rate", ties=())
            return _with(
                base, winner=winner, runner_up=runner, decided_by="success_rate", reason=reason
            )
        floor = "; ".join(f.text for f in objective.floor)
        reason = f"the only strategy that meets the floor ({floor}); {runner} has " + ", ".join(
            below[runner]
        )
        return _with(base, winner=winner, runner_up=runner, decided_by="floor", reason=reason)
    runner = order[1][0]
    decided = next(
        (m for m in objective.rank_by if not same(summary, m, winner, runner)),
        objective.rank_by[-1],
    )
    return _with(
        base,
        winner=winner,
        runner_up=runner,
        decided_by=decided,
        reason=_reason(summary, objective, winner, runner, decided),
    )


def _with(base: Ranking, **changes: Any) -> Ranking:
    fields = {f: getattr(base, f) for f in Ranking.__dataclass_fields__}
    return Ranking(**{**fields, **changes})


def _reason(
    summary: Mapping[str, Any],
    objective: Objective,
    w: str,
    r: str,
    decided: str,
    ties: Sequence[str] | None = None,
) -> str:
    direction = "highest" if METRICS[decided].better == "higher" else "lowest"
    if ties is None:  # the ranked metrics before the deciding one: the two were the same there
        ties = objective.rank_by[: objective.rank_by.index(decided)]
    prefix = "".join(
        f"same {label(m)} ({format_value(m, _value(summary, w, m))}) and " for m in ties
    )
    vw = format_value(decided, _value(summary, w, decided))
    vr = format_value(decided, _value(summary, r, decided))
    if decided == "success_rate" and _any_refused(summary):  # rule 6
        vw, vr = f"{vw} ({_served(summary, w)})", f"{vr} ({_served(summary, r)})"
    return f"{prefix}{direction} {label(decided)}: {vw} against {vr} for {r}"


def _any_refused(summary: Mapping[str, Any]) -> bool:
    return any((v.get("refused_by_guard") or 0) > 0 for v in summary["strategies"].values())


def _served(summary: Mapping[str, Any], s: str) -> str:
    """ "served 72.4%, 40 refused": what a success rate leaves out (rule 6)."""
    n = int(_value(summary, s, "refused_by_guard") or 0)
    served = format_value("served_rate", _value(summary, s, "served_rate"))
    return f"served {served}, {n:,} refused" if n else f"served {served}, none refused"


# What a star means, under the terminal table and the HTML page's (rule 5).
STAR_NOTE = (
    "best in column among the strategies that meet the objective's floor and give up no more "
    "than it allows"
)

# Floors that bound how many requests a strategy may give up on (rule 5).
_GIVE_UP_FLOORS = frozenset({"success_rate", "give_up_rate", "error_rate", "served_rate"})


def star_candidates(summary: Mapping[str, Any], ranking: Ranking) -> list[str]:
    """The eligible strategies that give up no more than the floor allows (rule 5)."""
    eligible = ranking.eligible
    floor = ranking.objective.floor
    if not floor or any(f.metric in _GIVE_UP_FLOORS for f in floor):
        return eligible  # the floor, stated or implicit, already bounds give-ups
    lead = _best(summary, eligible, "success_rate")
    return [s for s in eligible if lead is None or same(summary, "success_rate", s, lead)]


def stars(summary: Mapping[str, Any], ranking: Ranking, metric: str) -> set[str]:
    """The strategies starred in ``metric``'s column (rule 5)."""
    if METRICS[metric].better is None:
        return set()
    eligible = ranking.eligible
    lead = _best(summary, eligible, metric)
    if lead is None:
        return set()
    top = {s for s in eligible if same(summary, metric, s, lead)}
    valued = {s for s in eligible if _value(summary, s, metric) is not None}
    return set() if top == valued else top & set(star_candidates(summary, ranking))


def winner_record(ranking: Ranking) -> dict[str, Any] | None:
    """What ``summary.json`` records as ``"winner"``: None without a clear winner."""
    if ranking.winner is None:
        return None
    return {"strategy": ranking.winner, "runner_up": ranking.runner_up, "reason": ranking.reason}


# --------------------------------------------------------------------------- in words

# Metrics worth naming when the runner-up beats the winner on them. (Not time to first
# token: without streaming it is the whole answer again, and a stated objective names it.)
_TRADE_OFFS = (
    "success_rate",
    "p95_latency_ms",
    "amplification",
    "cost_per_success_usd",
    "herd_index",
)


def _trade_offs(summary: Mapping[str, Any], ranking: Ranking) -> list[str]:
    w, r = ranking.winner, ranking.runner_up
    if w is None or r is None or r not in ranking.eligible:
        return []  # a runner-up below the floor is cheap or fast by failing: no trade-off
    out = []
    for m in _TRADE_OFFS:
        if m in ranking.objective.rank_by or same(summary, m, w, r):
            continue
        vw, vr = _value(summary, w, m), _value(summary, r, m)
        if vw is None or vr is None:
            continue
        if (vr > vw) == (METRICS[m].better == "higher"):
            out.append(f"{label(m)} {format_value(m, vr)} against {format_value(m, vw)}")
    return out[:3]


def verdict_lines(summary: Mapping[str, Any], ranking: Ranking) -> list[str]:
    """The verdict as short sentences: objective, winner or why none, trade-offs, the floor."""
    lines = [f"Objective: {ranking.objective.describe()}."]
    if ranking.winner is not None:
        lines.append(f"Winner: {ranking.winner} — {ranking.reason}.")
        if offs := _trade_offs(summary, ranking):
            lines.append(f"At a cost: {ranking.runner_up} is better on {'; '.join(offs)}.")
    else:
        lines.append(f"No clear winner: {ranking.reason}.")
    if ranking.below_floor:
        lines.append(
            "Below the floor: "
            + "; ".join(f"{s} ({', '.join(f)})" for s, f in ranking.below_floor.items())
            + "."
        )
    refused = [
        (s, int(_value(summary, s, "refused_by_guard") or 0),
         _value(summary, s, "refusal_rate"))
        for s in ranking.strategies
        if (_value(summary, s, "refused_by_guard") or 0) > 0
    ]  # fmt: skip
    if refused:
        lines.append(
            "Refused on purpose by a guard (not failures): "
            + ", ".join(
                f"{s} {n:,} ({format_value('refusal_rate', v)} of requests)" for s, n, v in refused
            )
            + "."
        )
        lines.append(
            "Served share (successes over every request offered, refusals not served): "
            + ", ".join(
                f"{s} {format_value('served_rate', _value(summary, s, 'served_rate'))}"
                for s in ranking.strategies
            )
            + "."
        )
    eligible = ranking.eligible
    if ranking.winner is not None and len(eligible) > 2 and eligible[-1] != ranking.runner_up:
        worst, w = eligible[-1], ranking.winner
        # name the metric that put it behind the winner
        m = next((x for x in ranking.objective.rank_by if not same(summary, x, w, worst)),
                 ranking.objective.rank_by[0])  # fmt: skip
        lines.append(f"Last of the eligible: {worst} ({label(m)} "
                     f"{format_value(m, _value(summary, worst, m))}).")  # fmt: skip
    return lines
