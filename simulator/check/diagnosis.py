"""Why a battery row failed, in the client's own settings, and what to change.

Theory of operation
-------------------
Each row's causes come from :mod:`simulator.check.attribution` (every request not served,
charged to why the client brain stopped, said in the client's own settings) and its fix from
:mod:`simulator.check.fixes` (changes that address the causes, confirmed by re-running the
item in virtual time).

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
3. the shedding is what failed the row: relaxing only the shedding settings
   (:func:`~simulator.check.fixes.shedding_fixes`: more tokens, a higher threshold, a larger
   ``k``, or none) makes a re-run of the item hold every threshold.

The warning states what the shedding cost (the requests it gave up) and the setting that would
have avoided it. Every other failed row fails, with its causes and the fix found. The rule
reads the client's settings, the checklist and the measured attribution, never a file name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.check.attribution import Attribution, attempts_allowed, cause_text
from simulator.check.checklist import SDK_TIMEOUT_S, Item
from simulator.check.fixes import Fix, Rerun, Trial, find_fix, remedies, shedding_fixes
from simulator.config import ClientConfig
from simulator.report.thresholds import Verdict
from simulator.report.units import format_value

__all__ = [
    "BROKEN_ITEMS",
    "SHEDDING_CAUSES",
    "Diagnosis",
    "diagnose",
    "sheds_on_purpose",
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
        fixes, trial = find_fix(cfg, [shedding_fixes(cfg, attribution.causes)], rerun)
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
    for metric in (m for m in failed if m.endswith("latency_ms")):
        t, r = cfg.timeouts, cfg.retry
        if t.read_s >= SDK_TIMEOUT_S / 10:
            why = f"a hung attempt waits out the read timeout (timeouts.read_s {t.read_s:g})"
        elif not cfg.fallback:
            why = f"no fallback model: requests wait on the first one (retry.kind {r.kind})"
        else:
            why = (
                f"up to {attempts_allowed(cfg)} attempts on each model before the next "
                f"(retry.max_attempts), read timeout {t.read_s:g} s"
            )
        out.append(f"{metric} {format_value(metric, metrics.get(metric))}: {why}")
    if "amplification" in failed:
        amp = metrics.get("amplification") or 0.0
        out.append(
            f"{amp:.2f} attempts a request (retry.kind {cfg.retry.kind}, "
            f"max_attempts {attempts_allowed(cfg)})"
        )
    if "refusal_rate" in failed:
        out.append(f"refused {100 * (metrics.get('refusal_rate') or 0):.1f}% by the guards")
    return out
