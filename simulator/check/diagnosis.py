"""Why a battery row failed, in the client's own settings, and what to change.

Theory of operation
-------------------
*Attribution.* Every logical request of the item that the client tried and did not serve is
charged to one cause: the ``gave_up`` of its request row, which the client brain records when
it stops (:mod:`simulator.client.engine`): ``retry_budget`` (the retry budget refused a
retry), ``circuit_open``, ``throttled``, ``cooldown`` (refused locally), ``attempts_exhausted``,
``total_timeout`` (the whole-request deadline), ``not_retryable`` (a status the client does not
retry), and the guards' ``input_too_long`` and ``budget_exceeded`` (refusals the client meant).
A request the item's end cut short has no cause and is counted as ``unfinished``. Each cause
is said in the settings that produced it (:func:`cause_text`): "7 requests given up by the retry
budget (retry.retry_budget: 10 tokens, ratio 0.1)".

*Fixes.* From the failed thresholds, the causes and the checklist, :func:`remedies` lists the
changes that address them, each a patch of the client config, the broken settings first; a
slot holds alternatives (a retry budget of 10x and 100x its tokens, up to gRPC's 1000, then
none). :func:`find_fix`
re-runs the item in virtual time with the patches, cumulatively: the first alternative of a
slot with which the row holds every threshold ends the search; otherwise the one that helped
most is kept and the next slot is tried. The row then names that fix and what the re-run got.

*Levels.* A row *passes* when every threshold holds. A row whose threshold fails is a
*deliberate trade-off* (a warning; ``stampede check`` still exits 0) when all of these hold:

1. the client sheds load on purpose: it sets a retry budget, a circuit breaker or an adaptive
   throttle, and none of them is stricter than its documented default (:func:`too_strict`):
   a retry budget of at least gRPC's documented example (``maxTokens`` 10, ``tokenRatio``
   0.1), a breaker that opens after at least 5 failures for at most 60 s (pybreaker's
   ``fail_max`` 5, ``reset_timeout`` 60), a throttle with ``k`` at least 2 (the SRE book's);
2. it is not broken: the checklist's backoff, client-error and timeout items do not fail
   (retrying a 400, retrying at once or without jitter, or no timeout is a failure whatever
   else the client sets);
3. the shedding is what failed the row: relaxing only the shedding settings (the first slot
   of the fixes) makes a re-run of the item hold every threshold.

The warning states what the shedding cost (the requests it gave up) and the setting that would
have avoided it. Every other failed row fails, with its causes and the fix found. The rule
reads the client's settings, the checklist and the measured attribution, never a file name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from simulator.check.checklist import Item
from simulator.client.guards import GUARD_REFUSALS
from simulator.config import RETRY_FIELDS, ClientConfig
from simulator.report.thresholds import Verdict

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BROKEN_ITEMS",
    "SHEDDING_CAUSES",
    "Attribution",
    "Diagnosis",
    "Fix",
    "Rerun",
    "Trial",
    "attribute",
    "cause_text",
    "diagnose",
    "find_fix",
    "remedies",
    "too_strict",
]

RowLevel = Literal["pass", "warn", "fail"]
SHEDDING_CAUSES = ("retry_budget", "circuit_open", "throttled")
_SHED_BY = {
    "retry_budget": "given up by the retry budget",
    "circuit_open": "refused by the open circuit breaker",
    "throttled": "refused by the adaptive throttle",
}
# The checklist items whose failure makes a client broken rather than a trade-off.
BROKEN_ITEMS = ("backoff", "client_errors", "timeouts")
UNFINISHED = "unfinished"
MAX_TRIALS = 8  # re-runs per row, at most
# The backoff a fix proposes: the example well-built client's (examples/clients/well_built.yaml)
GOOD_BACKOFF = {"kind": "full_jitter", "base_s": 0.5, "cap_s": 20.0}
GOOD_DAILY_BUDGET_USD = 0.5
GOOD_READ_TIMEOUT_S = 30.0
GOOD_MAX_ATTEMPTS = 5


# --------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Attribution:
    """The item's logical requests for one client: tried, served, and the rest by cause."""

    offered: int
    served: int
    causes: dict[str, int]  # cause -> requests, most first
    last_error: dict[str, str]  # cause -> the commonest last error of those requests

    def given_up(self, causes: Sequence[str]) -> int:
        return sum(self.causes.get(c, 0) for c in causes)


def attribute(requests: pd.DataFrame, strategy: str) -> Attribution:
    """Attribution from the request rows of ``traces.jsonl`` (the report's frame)."""
    rows = requests[(requests["kind"] == "request") & (requests["strategy"] == strategy)]
    failed = rows[rows["success"] != True]  # noqa: E712 - a nullable column
    counts: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = {}
    # traces written before the brain recorded ``gave_up`` have no such column
    gave = failed["gave_up"].tolist() if "gave_up" in failed else [None] * len(failed)
    for cause, error in zip(gave, failed["error"].tolist(), strict=True):
        key = cause if isinstance(cause, str) else UNFINISHED
        counts[key] += 1
        errors.setdefault(key, Counter())[str(error)] += 1
    return Attribution(
        len(rows),
        len(rows) - len(failed),
        dict(counts.most_common()),
        {k: c.most_common(1)[0][0] for k, c in errors.items()},
    )


def _attempts(cfg: ClientConfig) -> int:
    r = cfg.retry
    if r.kind == "litellm_router":
        return r.num_retries + 1
    return 1 if r.kind == "none" else r.max_attempts


def cause_text(cause: str, n: int, cfg: ClientConfig, last_error: str = "") -> str:
    """``n`` requests charged to ``cause``, said in ``cfg``'s own settings."""
    r, g, t = cfg.retry, cfg.guards, cfg.timeouts
    reqs = f"{n:,} request{'s' * (n != 1)}"
    err = f"; last error {last_error}" if last_error and last_error != cause else ""
    if cause == "retry_budget" and r.retry_budget is not None:
        b = r.retry_budget
        return (
            f"{reqs} given up by the retry budget (retry.retry_budget: {b.max_tokens:g} "
            f"tokens, ratio {b.token_ratio:g}), which refused their retries{err}"
        )
    if cause == "circuit_open" and r.circuit_breaker is not None:
        c = r.circuit_breaker
        return (
            f"{reqs} refused by the open circuit breaker (retry.circuit_breaker: opens after "
            f"{c.failure_threshold} failures, for {c.reset_timeout_s:g} s)"
        )
    if cause == "throttled" and r.adaptive_throttle is not None:
        return (
            f"{reqs} refused by the adaptive throttle (retry.adaptive_throttle: k "
            f"{r.adaptive_throttle.k:g})"
        )
    if cause == "cooldown":
        return f"{reqs} refused while LiteLLM cooled the model down (retry.cooldown_time_s)"
    if cause == "attempts_exhausted":
        how = {"immediate": ", retrying at once", "fixed": f", {r.delay_s:g} s apart"}
        chain = "on each model" if cfg.fallback else "with no fallback model"
        return (
            f"{reqs} given up after {_attempts(cfg)} attempts (retry.kind {r.kind}, "
            f"max_attempts {_attempts(cfg)}{how.get(r.kind, '')}) {chain}{err}"
        )
    if cause == "total_timeout":
        return f"{reqs} given up at the whole-request deadline (timeouts.total_s {t.total_s:g})"
    if cause == "not_retryable":
        return f"{reqs} ended on a status retry.retry_on does not retry{err}"
    if cause == "input_too_long":
        return f"{reqs} refused by the input guard (guards.max_input_tokens {g.max_input_tokens:,})"
    if cause == "budget_exceeded":
        spend = [
            f"{who} ${v:g}"
            for who, v in (
                ("user", g.user_daily_budget_usd),
                ("feature", g.feature_daily_budget_usd),
            )
            if v
        ]
        return f"{reqs} refused by the daily budget (guards: {', '.join(spend)} a day)"
    if cause == UNFINISHED:
        return f"{reqs} still unfinished when the item ended"
    return f"{reqs} given up: {cause}{err}"


# --------------------------------------------------------------------------- the trade-off rule


def too_strict(cfg: ClientConfig) -> list[str]:
    """The shedding settings stricter than their documented defaults, as ``field (why)``."""
    r, out = cfg.retry, []
    if (b := r.retry_budget) is not None and (b.max_tokens < 10 or b.token_ratio < 0.1):
        out.append("retry.retry_budget (under gRPC's documented maxTokens 10, tokenRatio 0.1)")
    if (c := r.circuit_breaker) is not None and (c.failure_threshold < 5 or c.reset_timeout_s > 60):
        out.append("retry.circuit_breaker (opens sooner or longer than after 5 failures for 60 s)")
    if (a := r.adaptive_throttle) is not None and a.k < 2:
        out.append("retry.adaptive_throttle (k under the SRE book's 2)")
    return out


def sheds_on_purpose(cfg: ClientConfig) -> bool:
    r = cfg.retry
    return any(x is not None for x in (r.retry_budget, r.circuit_breaker, r.adaptive_throttle))


# --------------------------------------------------------------------------- fixes


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


def _shedding_slot(cfg: ClientConfig, causes: Mapping[str, int]) -> list[Fix]:
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
        if "honor_retry_after" in RETRY_FIELDS["full_jitter"].used:
            patch.update(honor_retry_after=True, max_retry_after_s=30.0)
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
    shed = _shedding_slot(cfg, causes)
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


# --------------------------------------------------------------------------- the diagnosis


@dataclass
class Diagnosis:
    level: RowLevel
    causes: list[str] = field(default_factory=list)  # in the client's settings, most first
    fixes: list[Fix] = field(default_factory=list)
    trial: Trial | None = None  # the re-run with the fixes
    note: str = ""  # why a failed row is a warning, or why it is not
    cost: str = ""  # a warning's cost: "7 requests given up by the retry budget"

    def fix_text(self) -> str:
        if not self.fixes:
            return ""
        text = "; ".join(map(str, self.fixes))
        return f"{text} ({self.trial.summary()})" if self.trial else text


def diagnose(
    cfg: ClientConfig,
    checklist: Sequence[Item],
    verdicts: Sequence[Verdict],
    attribution: Attribution,
    spare_models: Sequence[str],
    rerun: Rerun,
    metrics: Mapping[str, Any],
) -> Diagnosis:
    """The row's level, causes and fix (see the module docstring for the rule)."""
    causes = [
        cause_text(c, n, cfg, attribution.last_error.get(c, ""))
        for c, n in attribution.causes.items()
    ]
    failed = [v.metric for v in verdicts if not v.passed]
    if not failed:
        return Diagnosis("pass", causes)
    causes += _metric_causes(cfg, failed, metrics)
    slots = remedies(cfg, checklist, failed, attribution, spare_models)
    broken = [i.key for i in checklist if i.key in BROKEN_ITEMS and i.level == "fail"]
    strict = too_strict(cfg)
    shed = attribution.given_up(SHEDDING_CAUSES)
    if shed and sheds_on_purpose(cfg) and not broken and not strict:
        fixes, trial = find_fix(cfg, [_shedding_slot(cfg, attribution.causes)], rerun)
        if trial is not None and trial.passed:
            note = (
                f"load shed on purpose: {shed:,} request{'s' * (shed != 1)} given up by "
                "settings no stricter than their documented defaults"
            )
            cost = "; ".join(
                f"{n:,} request{'s' * (n != 1)} {_SHED_BY[c]}"
                for c, n in attribution.causes.items()
                if c in SHEDDING_CAUSES
            )
            return Diagnosis("warn", causes, fixes, trial, note, cost)
    fixes, trial = find_fix(cfg, slots, rerun)
    note = ""
    if shed and broken:
        note = f"not a trade-off: the client is broken ({', '.join(broken)} fail the checklist)"
    elif shed and strict:
        note = f"not a trade-off: {'; '.join(strict)}"
    return Diagnosis("fail", causes, fixes, trial, note)


def _metric_causes(
    cfg: ClientConfig, failed: Sequence[str], metrics: Mapping[str, Any]
) -> list[str]:
    """Causes a give-up count does not tell: cost, latency, amplification, refusals."""
    out = []
    if "cost_usd" in failed:
        budget = cfg.guards.user_daily_budget_usd
        out.append(
            f"cost ${metrics.get('cost_usd', 0):.2f}: "
            + (
                "no daily budget (guards.user_daily_budget_usd unset)"
                if budget is None
                else f"a daily budget of ${budget:g} a user (guards.user_daily_budget_usd)"
            )
        )
    if any(m.endswith("latency_ms") for m in failed):
        t = cfg.timeouts
        why = "no fallback model" if not cfg.fallback else f"fallback {', '.join(cfg.fallback)}"
        out.append(f"slow answers with {why}, read timeout {t.read_s:g} s (timeouts.read_s)")
    if "amplification" in failed:
        amp = metrics.get("amplification") or 0.0
        out.append(
            f"{amp:.2f} attempts a request (retry.kind {cfg.retry.kind}, "
            f"max_attempts {_attempts(cfg)})"
        )
    if "refusal_rate" in failed:
        out.append(f"refused {100 * (metrics.get('refusal_rate') or 0):.1f}% by the guards")
    return out
