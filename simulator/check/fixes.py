"""The change to a client config that would make a battery row hold, found by re-running it.

Theory of operation
-------------------
From the failed thresholds, the causes (:mod:`simulator.check.attribution`) and the checklist,
:func:`remedies` lists the changes that address them, each a patch of the client config: how
it retries first (when the checklist finds it broken and its retries mattered), then a
fallback model, the shedding settings, the attempts, the deadline, the retried statuses, the
daily budget, the read timeout, the input guard. A *slot* holds alternatives for one setting
(a retry budget of 10x and 100x its tokens, up to gRPC's 1000, then none). :func:`find_fix`
re-runs the item in virtual time with the patches, cumulatively: the first alternative with
which the row holds every threshold ends the search; otherwise the slot's best is kept and the
next slot is tried. Once the row holds, each earlier change it holds without is dropped. At
most :data:`MAX_TRIALS` re-runs a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simulator.check.attribution import Attribution
from simulator.check.checklist import Item
from simulator.client.guards import GUARD_REFUSALS
from simulator.config import RETRY_FIELDS, ClientConfig
from simulator.report.thresholds import Verdict

__all__ = [
    "MAX_TRIALS",
    "Fix",
    "Rerun",
    "Trial",
    "find_fix",
    "patched",
    "remedies",
    "shedding_fixes",
]

MAX_TRIALS = 8  # re-runs per row, at most
# What a fix proposes: the example well-built client's (examples/clients/well_built.yaml)
GOOD_BACKOFF = {
    "kind": "full_jitter",
    "base_s": 0.5,
    "cap_s": 20.0,
    "honor_retry_after": True,
    "max_retry_after_s": 30.0,
}
GOOD_DAILY_BUDGET_USD = 0.5
GOOD_READ_TIMEOUT_S = 30.0
GOOD_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Fix:
    """One change of the client config: ``setting: was -> now``, as a patch to merge in."""

    setting: str
    was: str
    now: str
    patch: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.setting}: {self.was} -> {self.now}"


def patched(cfg: ClientConfig, fixes: Sequence[Fix]) -> ClientConfig:
    """``cfg`` with every fix merged in; a retry kind's change drops fields it does not read.
    Raises ValidationError when the result is not a valid client."""
    data = cfg.model_dump(exclude_unset=True)
    for fix in fixes:
        data = _merge(data, fix.patch)
    retry = data.get("retry")
    if isinstance(retry, dict) and "kind" in retry:
        used = set(RETRY_FIELDS[retry["kind"]].used)
        data["retry"] = {k: v for k, v in retry.items() if k == "kind" or k in used}
    return ClientConfig.model_validate(data)


def _merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def shedding_fixes(cfg: ClientConfig, causes: Mapping[str, int]) -> list[Fix]:
    r, alts = cfg.retry, []
    if (b := r.retry_budget) is not None and causes.get("retry_budget"):
        # gRPC caps maxTokens at 1000; a burst of N failures at once needs more than 2N
        for tokens in dict.fromkeys(min(1000.0, b.max_tokens * k) for k in (10, 100)):
            alts.append(
                Fix(
                    "retry.retry_budget.max_tokens",
                    f"{b.max_tokens:g}",
                    f"{tokens:g}",
                    {"retry": {"retry_budget": {"max_tokens": tokens}}},
                )
            )
        alts.append(Fix("retry.retry_budget", "set", "removed", {"retry": {"retry_budget": None}}))
    if (c := r.circuit_breaker) is not None and causes.get("circuit_open"):
        for k in (2, 4):
            n = c.failure_threshold * k
            alts.append(
                Fix(
                    "retry.circuit_breaker.failure_threshold",
                    str(c.failure_threshold),
                    str(n),
                    {"retry": {"circuit_breaker": {"failure_threshold": n}}},
                )
            )
        alts.append(
            Fix("retry.circuit_breaker", "set", "removed", {"retry": {"circuit_breaker": None}})
        )
    if (a := r.adaptive_throttle) is not None and causes.get("throttled"):
        alts.append(
            Fix(
                "retry.adaptive_throttle.k",
                f"{a.k:g}",
                f"{a.k * 2:g}",
                {"retry": {"adaptive_throttle": {"k": a.k * 2}}},
            )
        )
        alts.append(
            Fix("retry.adaptive_throttle", "set", "removed", {"retry": {"adaptive_throttle": None}})
        )
    return alts


def remedies(
    cfg: ClientConfig,
    checklist: Sequence[Item],
    failed: Sequence[str],
    attribution: Attribution,
    spare_models: Sequence[str],
) -> list[list[Fix]]:
    """The slots of fixes for a row whose ``failed`` metrics failed (see the module doc)."""
    r, g, t = cfg.retry, cfg.guards, cfg.timeouts
    levels = {i.key: i.level for i in checklist}
    causes = attribution.causes
    slots: list[list[Fix]] = []
    latency = any(m.endswith("latency_ms") for m in failed)
    gave_up = any(c not in GUARD_REFUSALS for c in causes)
    retrying = gave_up or latency or "amplification" in failed  # how it retries mattered
    bad_waits = levels.get("backoff") == "fail" or levels.get("retry_after") == "fail"
    if retrying and bad_waits:
        patch: dict[str, Any] = dict(GOOD_BACKOFF)
        was = r.kind if r.kind != "full_jitter" else "full_jitter without Retry-After"
        slots.append(
            [
                Fix(
                    "retry.kind",
                    was,
                    "full_jitter (base_s 0.5, cap_s 20, honor_retry_after)",
                    {"retry": patch},
                )
            ]
        )
    if not cfg.fallback and spare_models and (gave_up or latency):
        slots.append(
            [Fix("fallback", "none", f"[{spare_models[0]}]", {"fallback": [spare_models[0]]})]
        )
    shed = shedding_fixes(cfg, causes)
    if shed:
        slots.append(shed)
    if causes.get("total_timeout"):
        slots.append(
            [
                Fix(
                    "timeouts.total_s",
                    f"{t.total_s:g}",
                    f"{t.total_s * 2:g}",
                    {"timeouts": {"total_s": t.total_s * 2}},
                )
            ]
        )
    if "max_attempts" in RETRY_FIELDS[r.kind].used:
        # fewer attempts when they pile up or hold users past the latency threshold (the
        # well-built example's 5), more when requests ran out of them
        counts: list[int] = []
        if "amplification" in failed or latency or causes.get("attempts_exhausted"):
            counts.append(GOOD_MAX_ATTEMPTS if r.max_attempts > GOOD_MAX_ATTEMPTS else 0)
        if causes.get("attempts_exhausted") and "amplification" not in failed:
            counts.append(min(1000, r.max_attempts * 2))
        slot = [
            Fix("retry.max_attempts", str(r.max_attempts), str(n), {"retry": {"max_attempts": n}})
            for n in dict.fromkeys(counts)
            if n and n != r.max_attempts
        ]
        if slot:
            slots.append(slot)
    if causes.get("not_retryable") and "retry_on" in RETRY_FIELDS[r.kind].used:
        on = sorted({*r.retry_on, 408, 429, 500, 502, 503, 504})
        slots.append([Fix("retry.retry_on", str(r.retry_on), str(on), {"retry": {"retry_on": on}})])
    if "cost_usd" in failed:
        budget = g.user_daily_budget_usd
        now = GOOD_DAILY_BUDGET_USD if budget is None else budget / 2
        slots.append(
            [
                Fix(
                    "guards.user_daily_budget_usd",
                    "none" if budget is None else f"${budget:g}",
                    f"${now:g}",
                    {"guards": {"user_daily_budget_usd": now}},
                )
            ]
        )
    if latency and t.read_s > GOOD_READ_TIMEOUT_S:
        slots.append(
            [
                Fix(
                    "timeouts.read_s",
                    f"{t.read_s:g}",
                    f"{GOOD_READ_TIMEOUT_S:g}",
                    {"timeouts": {"read_s": GOOD_READ_TIMEOUT_S}},
                )
            ]
        )
    if "refusal_rate" in failed and g.max_input_tokens:
        n = g.max_input_tokens * 2
        slots.append(
            [
                Fix(
                    "guards.max_input_tokens",
                    f"{g.max_input_tokens:,}",
                    f"{n:,}",
                    {"guards": {"max_input_tokens": n}},
                )
            ]
        )
    return slots


@dataclass(frozen=True)
class Trial:
    """What a re-run of the item with a changed client got."""

    metrics: dict[str, Any]
    verdicts: list[Verdict]
    attribution: Attribution

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def score(self) -> tuple[int, float]:
        """Lower is better: thresholds failed, then the share not served."""
        share = self.metrics.get("success_rate") or 0.0
        return (sum(not v.passed for v in self.verdicts), -share)

    def summary(self) -> str:
        share = self.metrics.get("success_rate")
        held = (
            "holds every threshold"
            if self.passed
            else "still fails " + ", ".join(v.metric for v in self.verdicts if not v.passed)
        )
        got = f"success {100 * share:.1f}%, " if share is not None else ""
        return f"re-run: {got}{held}"


Rerun = Callable[[ClientConfig], Trial]


def find_fix(
    cfg: ClientConfig, slots: Sequence[Sequence[Fix]], rerun: Rerun
) -> tuple[list[Fix], Trial | None]:
    """The fixes that, applied together, make the row hold, and that re-run's result.

    Slots are applied in order, cumulatively; of a slot's alternatives the first that makes
    the row hold ends the search, else the one with the best score is kept. Once the row
    holds, each earlier fix is dropped if the row holds without it. When nothing makes it
    hold: every fix kept and the last re-run. ([], None) with no slots. At most
    :data:`MAX_TRIALS` re-runs."""
    kept: list[Fix] = []
    last: Trial | None = None
    trials = 0

    def attempt(fixes: list[Fix]) -> Trial | None:
        nonlocal trials
        if trials >= MAX_TRIALS:
            return None
        try:
            candidate = patched(cfg, fixes)
        except ValidationError:
            return None
        trials += 1
        return rerun(candidate)

    for slot in slots:
        chosen: tuple[Fix, Trial] | None = None
        for fix in slot:
            trial = attempt([*kept, fix])
            if trial is None:
                continue
            if trial.passed:
                kept.append(fix)
                return _prune(kept, trial, attempt)
            if chosen is None or trial.score() < chosen[1].score():
                chosen = (fix, trial)
        if chosen is not None:
            kept.append(chosen[0])
            last = chosen[1]
    return kept, last


def _prune(
    kept: list[Fix], trial: Trial, attempt: Callable[[list[Fix]], Trial | None]
) -> tuple[list[Fix], Trial]:
    """Drop each fix but the last if the row holds without it."""
    for fix in kept[:-1]:
        fewer = [f for f in kept if f is not fix]
        again = attempt(fewer)
        if again is not None and again.passed:
            kept, trial = fewer, again
    return kept, trial
