"""The model catalogue: the published models (``catalog.yaml``, see ``published.py``) as
frozen :class:`ModelSpec` records, served as of a day.

A provider config may override any field of a served model or add models of its own. Prices
are USD per one million tokens, as the providers publish them: base input, cached input (a
cache read: 0.1x base for Claude) and output; a write to an explicit (Anthropic) cache costs
:data:`CACHE_WRITE_5M` or :data:`CACHE_WRITE_1H` times base input. Latency profiles are
scenario-time milliseconds (see ``latency.py`` for how they are drawn).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from mock_provider.config import CATALOG_DATE, PROFILE_RETRY_AFTER, ProviderSettings

from .published import (
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    Lifecycle,
    PublishedModel,
    TierLimits,
    lifecycle,
    published,
)

__all__ = [
    "CACHE_WRITE_1H",
    "CACHE_WRITE_5M",
    "DEFAULT_CATALOG",
    "Dialect",
    "Dist",
    "LatencyProfile",
    "ModelLimits",
    "ModelSpec",
    "build_catalog",
    "catalog_with",
    "limits_for",
    "served_on",
]

Dialect = Literal["openai", "anthropic"]
RetryAfter = Literal["exact", "seconds", "none"]  # what a 429 says (ModelConfig.retry_after)


@dataclass(frozen=True, slots=True)
class Dist:
    """A positive quantity drawn log-normally: ``median`` in its unit, ``spread`` = sigma of log.

    spread 0 makes the quantity a constant, which tests and benchmarks rely on.
    """

    median: float
    spread: float = 0.0


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """The article's latency phases, per request.

    ttft = network + prefill_per_token * input_tokens + first_token; then one decode gap
    per further output token. All values are scenario milliseconds.
    """

    network_ms: Dist = Dist(40.0, 0.3)
    prefill_ms_per_token: Dist = Dist(0.05, 0.2)
    first_token_ms: Dist = Dist(250.0, 0.4)
    decode_ms_per_token: Dist = Dist(15.0, 0.25)

    @property
    def is_instant(self) -> bool:
        return not (
            self.network_ms.median
            or self.prefill_ms_per_token.median
            or self.first_token_ms.median
            or self.decode_ms_per_token.median
        )

    @staticmethod
    def instant() -> LatencyProfile:
        zero = Dist(0.0, 0.0)
        return LatencyProfile(zero, zero, zero, zero)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    dialect: Dialect
    context_window: int
    price_input: float
    price_cached_input: float
    price_output: float
    latency: LatencyProfile = field(default_factory=LatencyProfile)
    max_output_tokens: int = 16_384
    kind: Literal["chat", "embedding"] = "chat"
    embedding_dims: int = 0
    owned_by: str = "openai"
    retry_after: RetryAfter = "seconds"
    # The shortest prompt prefix an explicit (Anthropic) cache breakpoint can cache; a
    # shorter one is processed uncached, without error.
    cache_min_tokens: int = 1024
    display_name: str = ""  # Anthropic's /v1/models shows it
    # From the published catalogue (a model a scenario adds has none of these):
    snapshot: str = (
        ""  # the published ID this name is (an alias's snapshot); "" for a scenario's own
    )
    released: date | None = None  # /v1/models' created / created_at
    lifecycle: Lifecycle = "active"  # "deprecated": still served, with a shutdown date
    retires: date | None = None
    tier_limits: TierLimits | None = None  # the provider's default limits (provider.catalog_limits)
    source: str = ""  # the provider pages the entry was read from

    def cost_usd(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        cache_write_5m: int = 0,
        cache_write_1h: int = 0,
    ) -> float:
        """Price one call. ``input_tokens`` is the whole prompt: the cached tokens read
        (billed at the cached rate) and the tokens written to a cache (billed at
        :data:`CACHE_WRITE_5M` or :data:`CACHE_WRITE_1H` times base input) are part of it."""
        fresh = max(0, input_tokens - cached_tokens - cache_write_5m - cache_write_1h)
        written = cache_write_5m * CACHE_WRITE_5M + cache_write_1h * CACHE_WRITE_1H
        return (
            (fresh + written) * self.price_input
            + cached_tokens * self.price_cached_input
            + output_tokens * self.price_output
        ) / 1_000_000


_FAST = LatencyProfile(
    network_ms=Dist(40.0, 0.3),
    prefill_ms_per_token=Dist(0.03, 0.2),
    first_token_ms=Dist(200.0, 0.4),
    decode_ms_per_token=Dist(8.0, 0.25),
)
_BIG = LatencyProfile(
    network_ms=Dist(40.0, 0.3),
    prefill_ms_per_token=Dist(0.08, 0.2),
    first_token_ms=Dist(400.0, 0.4),
    decode_ms_per_token=Dist(18.0, 0.25),
)

_EMBEDDING = LatencyProfile(Dist(40.0, 0.3), Dist(0.01, 0.2), Dist(20.0, 0.3), Dist(0.0))
_PROFILES = {"fast": _FAST, "big": _BIG, "embedding": _EMBEDDING}
_OWNER = {"openai": "system", "anthropic": "anthropic"}  # OpenAI's /v1/models says "system"


def _spec(m: PublishedModel, dialect: Dialect, day: date) -> ModelSpec:
    return ModelSpec(
        name=m.id,
        snapshot=m.id,
        dialect=dialect,
        context_window=m.context_window,
        price_input=m.price.input,
        price_cached_input=m.price.cached_input,
        price_output=m.price.output,
        latency=_PROFILES[m.latency],
        max_output_tokens=m.max_output,
        kind=m.kind,
        embedding_dims=m.embedding_dims,
        owned_by=_OWNER[dialect],
        cache_min_tokens=m.cache_min_tokens,
        display_name=m.display_name,
        released=m.released,
        lifecycle=lifecycle(m, day),
        retires=m.retires,
        tier_limits=m.limits,
        source=m.source,
    )


@functools.cache
def _every_published(day: date) -> dict[str, ModelSpec]:
    """Every published ID and alias, whatever its state on ``day``."""
    out = {}
    for dialect, models in published().items():
        for m in models:
            spec = _spec(m, dialect, day)  # type: ignore[arg-type]
            out[m.id] = spec
            for alias in m.aliases:
                out[alias] = replace(spec, name=alias)
    return out


@functools.cache
def served_on(day: date) -> dict[str, ModelSpec]:
    """The models the providers serve on ``day``, by ID and alias.

    An alias is a copy of its snapshot's spec under its own name (``snapshot`` names the
    ID): limits, faults and traces keep the name a client asked for.
    """
    return {n: s for n, s in _every_published(day).items() if s.lifecycle in _SERVED}


_SERVED = ("active", "deprecated")
DEFAULT_CATALOG: dict[str, ModelSpec] = dict(served_on(CATALOG_DATE))  # a copy: callers may edit


def catalog_with(overrides: dict[str, dict[str, object]]) -> dict[str, ModelSpec]:
    """The default catalogue with per-model field overrides applied (new names are added)."""
    out = dict(DEFAULT_CATALOG)
    for name, fields in overrides.items():
        base = out.get(name) or ModelSpec(name, "openai", 128_000, 1.0, 0.5, 4.0)
        out[name] = replace(base, name=name, **fields)  # type: ignore[arg-type]
    return out


def _dist(cfg: Any, default: Dist) -> Dist:
    return default if cfg is None else Dist(cfg.median, cfg.spread)


def build_catalog(cfg: ProviderSettings) -> dict[str, ModelSpec]:
    """The catalogue served on ``cfg.catalog_date``, with the config's models applied: each
    one overrides a catalogue model's fields, or adds a model of its own.

    A model's ``retry_after`` is its own setting, else the provider profile's default.
    """
    profile_default = PROFILE_RETRY_AFTER[cfg.profile]
    out = {
        name: spec
        if spec.retry_after == profile_default
        else replace(spec, retry_after=profile_default)
        for name, spec in served_on(cfg.catalog_date).items()
    }
    every = _every_published(cfg.catalog_date)
    for name, m in cfg.models.items():
        # A model the scenario declares is served whatever its state: its published data
        # (if any) is the base its fields override.
        base = (
            out.get(name)
            or every.get(name)
            or ModelSpec(
                name, m.dialect or "openai", 128_000, 1.0, 0.5, 4.0, retry_after=profile_default
            )
        )
        fields: dict[str, Any] = {
            k: v
            for k, v in m.model_dump(
                exclude={
                    "latency",
                    "rpm",
                    "tpm",
                    "itpm",
                    "otpm",
                    "max_in_flight",
                    "api_keys",
                    "load",
                }
            ).items()
            if v is not None
        }
        spec = replace(base, name=name, **fields)
        if m.latency is not None:
            lat = spec.latency
            spec = replace(
                spec,
                latency=LatencyProfile(
                    _dist(m.latency.network_ms, lat.network_ms),
                    _dist(m.latency.prefill_ms_per_token, lat.prefill_ms_per_token),
                    _dist(m.latency.first_token_ms, lat.first_token_ms),
                    _dist(m.latency.decode_ms_per_token, lat.decode_ms_per_token),
                ),
            )
        out[name] = spec
    return out


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """The limits the mock enforces on one model, per key, and where each came from."""

    rpm: int
    tpm: int | None  # OpenAI: prompt + output per minute; Anthropic: an optional combined cap
    itpm: int  # Anthropic's input and output tokens per minute (unused for OpenAI models)
    otpm: int
    rpm_default: bool  # from provider.default_rpm (not the model's own, nor its tier's)
    tpm_default: bool


def limits_for(cfg: ProviderSettings, spec: ModelSpec, anthropic_rules: bool) -> ModelLimits:
    """A model's limits: its own (``provider.models``), else with ``provider.catalog_limits``
    its published tier's, else ``default_rpm`` / ``default_tpm``. The one rule the mock's
    limiter and the simulator's preflight both read."""
    m = cfg.models.get(spec.name)
    tier = spec.tier_limits if cfg.catalog_limits else None
    own_rpm = (m.rpm if m else None) or (tier.rpm if tier else None)
    if anthropic_rules:
        itpm = (m.itpm if m else None) or (tier.itpm if tier else None)
        otpm = (m.otpm if m else None) or (tier.otpm if tier else None)
        cap = m.tpm if m else None
        return ModelLimits(own_rpm or cfg.default_rpm, cap, itpm or cfg.default_tpm,
                           otpm or cfg.default_tpm, own_rpm is None, cap is None)  # fmt: skip
    tpm = (m.tpm if m else None) or (tier.tpm if tier else None)
    return ModelLimits(own_rpm or cfg.default_rpm, tpm or cfg.default_tpm, cfg.default_tpm,
                       cfg.default_tpm, own_rpm is None, tpm is None)  # fmt: skip
