"""Provider families as data: one frozen record per family, read by the brain's one pipeline.

Theory of operation
-------------------
A model belongs to the family of the wire format it speaks (its catalogue ``dialect``); a
Claude model served as ``dialect: openai`` keeps OpenAI's rules. What differs between
families is written here once, as fields, and nothing else in the brain tests a dialect's
name:

- **limits**: ``rpm_tpm`` (requests and tokens per minute: OpenAI) or ``rpm_itpm_otpm``
  (requests, input and output tokens per minute, the cache's reads free: Anthropic);
- **cache**: OpenAI's automatic prefix cache, or Anthropic's explicit breakpoints;
- **max_tokens**: Anthropic's requests name it (the config's default stands in otherwise) and
  a value over the model's output cap is refused before the context window is checked;
  OpenAI's may leave it out (the model's cap bounds the answer);
- **overload status**: the status of a model over its capacity (OpenAI 503, Anthropic 529);
- **retry hints**: what an error response tells a client about retrying.

The retry hints, whoever refused (the limiter's 429, an injected ``error`` fault, an
``outage`` or ``error_rate`` window, a ``stream_error`` answered whole, an overloaded model):

- **Retryable statuses.** 408, 409, 429 and every 5xx (Anthropic's 529 included): the
  statuses both Stainless SDKs retry on their own (``_should_retry`` in openai-python's and
  anthropic-python's ``_base_client.py``), and the ones the services mark retryable.
- **``x-should-retry``.** Anthropic sends it on every error: ``true`` for a retryable status,
  else ``false`` (a 429 capture with ``x-should-retry: true``: anthropic-sdk-typescript#357;
  docs.claude.com/en/api/errors). A 429 that no wait can cure (a request larger than the
  bucket holds) says ``false``. OpenAI sends none (no capture of api.openai.com shows one):
  its SDK decides by the status.
- **``retry-after``.** A 429 carries a wait. Anthropic tells it in whole seconds, at least
  one ("429 responses include a retry-after header", docs.claude.com/en/api/rate-limits).
  What OpenAI's tells is the model's ``retry_after`` setting (``seconds``: api.openai.com's
  whole-second ``retry-after``; ``exact``: Azure's ``retry-after-ms`` too; ``none``:
  nothing). A 429 that names no wait of its own (an injected one, an outage at 429) tells the
  least the limiter ever tells, :data:`DEFAULT_429_WAIT_S`; a refusal for too many requests
  in flight tells a second. Other statuses carry no wait.
- An ``error`` fault may override both: its ``retry_after`` is the wait it tells (said as
  the family says waits), its ``should_retry`` the header.

The told wait is decided here, once, in scenario seconds (:meth:`ProviderFamily.told_wait`):
rounding a wall-clock wait instead would tell a time-compressed run a different wait from a
virtual one. Each dialect only writes it, in wall time and its own units
(``mock_provider/dialects/*/errors.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from .catalog import ModelSpec

__all__ = [
    "ANTHROPIC",
    "DEFAULT_429_WAIT_S",
    "FAMILIES",
    "OPENAI",
    "ProviderFamily",
    "family_of",
]

RetryAfter = Literal["exact", "seconds", "none"]

DEFAULT_429_WAIT_S: Final = 1.0  # the least a limiter's 429 tells (whole seconds, at least 1)
_RETRYABLE_4XX: Final = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class ProviderFamily:
    """One provider family's rules (see the module docstring)."""

    name: str
    limits: Literal["rpm_tpm", "rpm_itpm_otpm"]
    cache: Literal["automatic", "breakpoints"]
    max_tokens_required: bool  # refused over the model's cap before the context window
    overload_status: int
    whole_second_waits: bool  # True: every wait told in whole seconds, whatever the model's
    says_should_retry: bool  # sends ``x-should-retry`` on every error
    retryable_4xx: frozenset[int] = _RETRYABLE_4XX
    concurrency_wait_s: float = 1.0  # what a refusal for too many in flight tells

    @property
    def split_limits(self) -> bool:
        return self.limits == "rpm_itpm_otpm"

    def retryable(self, status: int) -> bool:
        """Whether a retry of a request refused with ``status`` may succeed."""
        return status >= 500 or status in self.retryable_4xx

    def should_retry_header(
        self, status: int, waiting_helps: bool = True, override: bool | None = None
    ) -> bool | None:
        """The ``x-should-retry`` sent with ``status``, or None for none.

        ``waiting_helps``: False for a 429 no wait can cure; ``override``: a fault's own value.
        """
        if override is not None:
            return override
        if not self.says_should_retry:
            return None
        return self.retryable(status) and (status != 429 or waiting_helps)

    def told_wait(self, mode: RetryAfter, wait_s: float | None) -> float | None:
        """What a refusal tells of a wait of ``wait_s`` scenario seconds (None: none), the
        model's ``retry_after`` being ``mode``: exact, whole seconds and at least one, or
        nothing; a family of whole-second waits always rounds."""
        if wait_s is None:
            return None
        if self.whole_second_waits or mode == "seconds":
            return float(max(1, math.ceil(wait_s)))
        return wait_s if mode == "exact" else None

    def fault_wait(
        self, mode: RetryAfter, status: int, retry_after_s: float | None
    ) -> float | None:
        """The wait an injected refusal with ``status`` tells: its own (``retry_after_s``,
        said as the family says waits, even where the model tells none), else a 429's
        default."""
        if retry_after_s is not None:
            return self.told_wait("seconds" if mode == "none" else mode, retry_after_s)
        if status == 429:
            return self.told_wait(mode, DEFAULT_429_WAIT_S)
        return None


OPENAI: Final = ProviderFamily(
    name="openai",
    limits="rpm_tpm",
    cache="automatic",
    max_tokens_required=False,
    overload_status=503,
    whole_second_waits=False,
    says_should_retry=False,
)
ANTHROPIC: Final = ProviderFamily(
    name="anthropic",
    limits="rpm_itpm_otpm",
    cache="breakpoints",
    max_tokens_required=True,
    overload_status=529,
    whole_second_waits=True,
    says_should_retry=True,
)
FAMILIES: Final = {f.name: f for f in (OPENAI, ANTHROPIC)}


def family_of(spec: ModelSpec) -> ProviderFamily:
    """The family whose rules serve a model: its catalogue dialect's."""
    return FAMILIES[spec.dialect]
