"""The fallback chain: which model to try next, and when to move on.

Rules (the caller may rely on them):

- The chain is ``[request.model] + cfg.fallback`` with duplicates removed, order kept.
- Each model gets the retry policy's full set of attempts. The brain moves to the next model
  when the outcome is a *fallback trigger* (``fallback_on``: "429", "5xx", "timeout"; timeout
  covers status 0, 408 and a cut stream) and the policy will not retry it on this model.
- Exception: a 429 whose Retry-After exceeds :data:`LONG_RETRY_AFTER_S` moves on at once when
  there is a next model; waiting that long for one provider while another is idle is waste.
  Only for the idealised retry kinds: a library sleeps inside its own call, and the
  application's fallback sees nothing until the library raises its final error.
- A local refusal on a model (circuit open, throttled, a LiteLLM cooldown) moves on at once.
- 400/401/403/404 end the logical request; another model would not fix the request. The
  LiteLLM Router is the exception, because it is one: its ``fallbacks`` follow any error, a
  400 included, and it sleeps once more after a model's last failed try before moving on.
  (``RetryPolicy.skips_wait`` and ``RetryPolicy.falls_back`` apply these rules.)
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.client.events import Outcome
from simulator.client.outcomes import effective_status

__all__ = ["LONG_RETRY_AFTER_S", "chain_for", "is_fallback_trigger", "skip_wait"]

LONG_RETRY_AFTER_S = 10.0


def chain_for(first: str, fallback: Iterable[str]) -> tuple[str, ...]:
    """The models to try, in order, without repeats."""
    return tuple(dict.fromkeys([first, *fallback]))


def is_fallback_trigger(outcome: Outcome, fallback_on: Iterable[str]) -> bool:
    s = effective_status(outcome)
    kinds = set(fallback_on)
    return (
        ("429" in kinds and s == 429)
        or ("5xx" in kinds and s >= 500)
        or ("timeout" in kinds and s in (0, 408))
    )


def skip_wait(outcome: Outcome) -> bool:
    """True for a 429 that asks for a longer wait than a fallback is worth."""
    ra = outcome.retry_after_s
    return effective_status(outcome) == 429 and ra is not None and ra > LONG_RETRY_AFTER_S
