"""Every request a client did not serve in a battery item, charged to one cause.

Theory of operation
-------------------
The cause of a request that did not succeed is the ``gave_up`` of its request row, which the
client brain records when it stops (:mod:`simulator.client.engine`): ``retry_budget`` (the
retry budget refused a retry), ``circuit_open``, ``throttled``, ``cooldown`` (refused
locally), ``attempts_exhausted``, ``total_timeout`` (the whole-request deadline),
``not_retryable`` (a status the client does not retry), and the guards' ``input_too_long``
and ``budget_exceeded`` (refusals the client meant). A request the item's end cut short has no
cause and is counted as ``unfinished``. :func:`cause_text` says each cause in the settings
that produced it: "7 requests given up by the retry budget (retry.retry_budget: 10 tokens,
ratio 0.1)".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.config import ClientConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["UNFINISHED", "Attribution", "attempts_allowed", "attribute", "cause_text"]

UNFINISHED = "unfinished"


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


def attempts_allowed(cfg: ClientConfig) -> int:
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
            f"{reqs} given up after {attempts_allowed(cfg)} attempts (retry.kind {r.kind}, "
            f"max_attempts {attempts_allowed(cfg)}{how.get(r.kind, '')}) {chain}{err}"
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
