"""Guards that refuse or reshape a request before it costs money.

- ``max_input_tokens``: refuse with ``"input_too_long"`` before any attempt.
- ``max_output_tokens``: clamp (or set) the request's ``max_tokens``.
- Daily USD budgets per user and per feature, kept in a :class:`BudgetLedger` shared by all
  logical requests of one strategy. The check happens before *each* attempt and the charge
  after it, so a runaway loop overshoots its budget by at most one attempt's cost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mock_provider.model.catalog import ModelSpec
from simulator.client.events import Outcome
from simulator.config import GuardConfig

__all__ = [
    "GUARD_REFUSALS",
    "BudgetLedger",
    "attempt_cost",
    "check_input",
    "clamp_max_tokens",
    "day_of",
    "estimate_cost",
]

SECONDS_PER_DAY = 86_400
# The result errors of a guard that refused on purpose. The strategy *meant* these: reports
# count them apart from failures (``refused_by_guard``), so a budget that stops a runaway loop
# is not scored as an outage.
GUARD_REFUSALS: frozenset[str] = frozenset({"input_too_long", "budget_exceeded"})
DEFAULT_OUTPUT_ESTIMATE = 1024  # output tokens assumed when a request sets no max_tokens


def day_of(now: float) -> int:
    return int(now // SECONDS_PER_DAY)


def check_input(input_tokens: int, cfg: GuardConfig) -> str | None:
    """``"input_too_long"`` when the prompt exceeds the guard, else None."""
    if cfg.max_input_tokens is not None and input_tokens > cfg.max_input_tokens:
        return "input_too_long"
    return None


def clamp_max_tokens(max_tokens: int | None, cfg: GuardConfig) -> int | None:
    cap = cfg.max_output_tokens
    if cap is None:
        return max_tokens
    return cap if max_tokens is None else min(max_tokens, cap)


def attempt_cost(spec: ModelSpec | None, outcome: Outcome) -> float:
    """What one attempt is billed: the tokens it consumed, priced from the catalogue.

    A failed attempt reports 0 tokens and costs 0; a cut stream costs what it produced. A model
    missing from the catalogue is priced at 0 (the provider would have answered 404). Cache
    reads are priced at the cached rate; cache writes (Anthropic's) at the 5-minute write
    rate, the TTL the live client asks for.
    """
    if spec is None:
        return 0.0
    return spec.cost_usd(
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.cached_tokens,
        outcome.cache_write_tokens,
    )


def estimate_cost(spec: ModelSpec | None, input_tokens: int, max_tokens: int | None) -> float:
    """The most one attempt can cost: every input token fresh, ``max_tokens`` of output."""
    if spec is None:
        return 0.0
    return spec.cost_usd(input_tokens, max_tokens or DEFAULT_OUTPUT_ESTIMATE, 0)


@dataclass(slots=True)
class BudgetLedger:
    """Spend per (user, day) and (feature, day), in USD."""

    cfg: GuardConfig
    by_user: defaultdict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    by_feature: defaultdict[tuple[str, int], float] = field(
        default_factory=lambda: defaultdict(float)
    )

    @property
    def budgeted(self) -> bool:
        """False when no daily budget is set: then :meth:`refuse` never refuses."""
        return (
            self.cfg.user_daily_budget_usd is not None
            or self.cfg.feature_daily_budget_usd is not None
        )

    def refuse(self, user: str, feature: str, now: float) -> str | None:
        """``"budget_exceeded"`` when today's spend already reached a budget, else None."""
        d = day_of(now)
        ub, fb = self.cfg.user_daily_budget_usd, self.cfg.feature_daily_budget_usd
        if ub is not None and self.by_user.get((user, d), 0.0) >= ub:
            return "budget_exceeded"
        if fb is not None and self.by_feature.get((feature, d), 0.0) >= fb:
            return "budget_exceeded"
        return None

    def charge(self, user: str, feature: str, now: float, usd: float) -> None:
        """Add ``usd`` to today's spend; negative amounts release part of a reservation."""
        if usd == 0:
            return
        d = day_of(now)
        self.by_user[(user, d)] += usd
        self.by_feature[(feature, d)] += usd
