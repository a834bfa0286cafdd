"""What an error response tells a client about retrying: one rule per provider family.

Theory of operation
-------------------
Every refusal reads this rule, whoever made it: the limiter's 429, an injected ``error``
fault, an ``outage`` or ``error_rate`` window, a ``stream_error`` answered whole, an
overloaded model. So an injected 429 says what the limiter's 429 says, and a client tested
against a fault sees what it would see from the service.

The rule, per family:

- **Retryable statuses.** 408, 409, 429 and every 5xx (Anthropic's 529 included): the
  statuses both Stainless SDKs retry on their own (``_should_retry`` in openai-python's and
  anthropic-python's ``_base_client.py``), and the ones the services mark retryable.
- **``x-should-retry``.** Anthropic sends it on every error: ``true`` for a retryable status,
  else ``false`` (a 429 capture with ``x-should-retry: true``: anthropic-sdk-typescript#357;
  docs.claude.com/en/api/errors). A 429 that no wait can cure (a request larger than the
  bucket holds) says ``false``. OpenAI sends none (no capture of api.openai.com shows one):
  its SDK decides by the status.
- **``retry-after``.** A 429 carries a wait (Anthropic: "429 responses include a
  retry-after header", docs.claude.com/en/api/rate-limits). What OpenAI's 429 tells is the
  model's ``retry_after`` setting (``seconds``: api.openai.com's whole-second
  ``retry-after``; ``exact``: Azure's ``retry-after-ms`` too; ``none``: nothing). A 429 that
  names no wait of its own (an injected one, an outage at 429) tells the least the limiter
  ever tells, :data:`DEFAULT_429_WAIT_S`. Other statuses carry no wait.
- An ``error`` fault may override both: its ``retry_after`` is the wait it tells (said as
  the family says waits), its ``should_retry`` the header.

The wait is decided here in scenario seconds (:func:`told_wait`); each dialect writes it in
wall time, in its own units (``mock_provider/dialects/*/errors.py``).
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = [
    "DEFAULT_429_WAIT_S",
    "RETRYABLE_4XX",
    "fault_wait",
    "retryable",
    "should_retry_header",
    "told_wait",
]

Family = Literal["openai", "anthropic"]
RetryAfter = Literal["exact", "seconds", "none"]

RETRYABLE_4XX: Final = frozenset({408, 409, 429})
DEFAULT_429_WAIT_S: Final = 1.0  # the least a limiter's 429 tells (whole seconds, at least 1)

# Which families send ``x-should-retry`` on their errors (see the module docstring).
_SAYS_SHOULD_RETRY: Final = {"anthropic": True, "openai": False}


def retryable(status: int) -> bool:
    """Whether a retry of a request refused with ``status`` may succeed."""
    return status >= 500 or status in RETRYABLE_4XX


def should_retry_header(
    family: str, status: int, waiting_helps: bool = True, override: bool | None = None
) -> bool | None:
    """The ``x-should-retry`` a family sends with ``status``, or None for none.

    ``waiting_helps``: False for a 429 no wait can cure; ``override``: a fault's own value.
    """
    if override is not None:
        return override
    if not _SAYS_SHOULD_RETRY.get(family, False):
        return None
    return retryable(status) and (status != 429 or waiting_helps)


def told_wait(family: str, mode: RetryAfter, wait_s: float | None) -> float | None:
    """What a refusal tells of a wait of ``wait_s`` scenario seconds (None: it tells none).

    OpenAI's rounding happens here, in scenario time, so a time-compressed run tells what a
    real one would: the exact wait (``exact``), rounded up to whole seconds and at least one
    (``seconds``), or nothing (``none``). Anthropic's is whole wall seconds, which its
    dialect writes (``max(1, ceil)``).
    """
    if wait_s is None or family != "openai" or mode == "exact":
        return wait_s
    return None if mode == "none" else float(max(1, math.ceil(wait_s)))


def fault_wait(
    family: str, mode: RetryAfter, status: int, retry_after_s: float | None
) -> float | None:
    """The wait an injected refusal with ``status`` tells: its own (``retry_after_s``, said
    as the family says waits, even where the profile tells none), else a 429's default."""
    if retry_after_s is not None:
        return told_wait(family, "seconds" if mode == "none" else mode, retry_after_s)
    if status == 429:
        return told_wait(family, mode, DEFAULT_429_WAIT_S)
    return None
