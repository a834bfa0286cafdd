"""The models the providers publish: ``catalog.yaml``, read once and checked against a schema.

Theory of operation. Each entry is one model ID (a dated snapshot, or a dateless ID) with the
aliases that resolve to it, its limits and prices, and its lifecycle: ``released``,
``deprecated`` (the notice) and ``retires`` (the shutdown). On a given day an entry is

- *unreleased* before ``released``: its ID and aliases do not exist yet (a plain 404);
- *retired* on and after ``retires``: requests fail as the provider's do after a shutdown
  (OpenAI: 404 ``model_not_found``, "The model `<id>` has been deprecated, learn more here:
  ...", as quoted in openai/openai-quickstart-node issue 127; Anthropic: 404
  ``not_found_error``, "model: <id>", as public reports of a retired Claude 3.5 ID quote it);
- *served* otherwise, *deprecated* too once it has a shutdown date (and its notice is out).

The day is a scenario's ``provider.catalog_date`` (``CATALOG_DATE`` by default), never the
clock: the same scenario serves the same models on any machine, on any day.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from mock_provider.config import StrictModel

__all__ = [
    "CACHE_WRITE_1H",
    "CACHE_WRITE_5M",
    "Lifecycle",
    "Price",
    "PublishedModel",
    "TierLimits",
    "lifecycle",
    "published",
    "published_model",
    "retired_names",
]

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
CACHE_WRITE_5M = 1.25  # a 5-minute cache write, times the base input price (Anthropic)
CACHE_WRITE_1H = 2.0  # a 1-hour cache write
_CENT = 0.015  # the published write prices are rounded to the cent (Haiku 3: $0.30, not $0.3125)

Lifecycle = Literal["unreleased", "active", "deprecated", "retired"]


class Price(StrictModel):
    """USD per million tokens, as the provider's pricing page lists them."""

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)  # OpenAI's cached input; Anthropic's cache read
    output: float = Field(ge=0)
    cache_write_5m: float | None = Field(None, ge=0)  # Anthropic only
    cache_write_1h: float | None = Field(None, ge=0)


class TierLimits(StrictModel):
    """The provider's default rate limits for one usage tier (``tier`` names it)."""

    tier: str
    rpm: int = Field(gt=0)
    tpm: int | None = Field(None, gt=0)  # OpenAI: prompt + output tokens per minute
    itpm: int | None = Field(None, gt=0)  # Anthropic: input tokens per minute
    otpm: int | None = Field(None, gt=0)  # Anthropic: output tokens per minute


class PublishedModel(StrictModel):
    id: str
    aliases: tuple[str, ...] = ()
    kind: Literal["chat", "embedding"] = "chat"
    embedding_dims: int = 0
    display_name: str = ""
    released: date | None = None  # None: out before any date the mock is asked about
    context_window: int = Field(gt=0)
    max_output: int = Field(ge=0)
    price: Price
    limits: TierLimits | None = None
    deprecated: date | None = None
    retires: date | None = None
    replacement: str | None = None
    cache_min_tokens: int = Field(1024, ge=0)
    latency: Literal["fast", "big", "embedding"]
    source: str = Field(min_length=1)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


class _Table(StrictModel):
    openai: tuple[PublishedModel, ...]
    anthropic: tuple[PublishedModel, ...]

    @model_validator(mode="after")
    def _consistent(self) -> _Table:
        seen: set[str] = set()
        for m in (*self.openai, *self.anthropic):
            for name in m.names:
                if name in seen:
                    raise ValueError(f"{name}: named by two entries")
                seen.add(name)
            if m.deprecated and m.retires and m.deprecated > m.retires:
                raise ValueError(f"{m.id}: deprecated after it retires")
        for m in self.openai:
            if m.limits and (m.limits.tpm is None or m.limits.itpm or m.limits.otpm):
                raise ValueError(f"{m.id}: OpenAI limits are rpm and tpm")
        for m in self.anthropic:
            if m.limits and (m.limits.itpm is None or m.limits.otpm is None or m.limits.tpm):
                raise ValueError(f"{m.id}: Anthropic limits are rpm, itpm and otpm")
            p = m.price
            # cost_usd prices writes by multiplier: the page's own figures must agree.
            for written, times in ((p.cache_write_5m, CACHE_WRITE_5M),
                                   (p.cache_write_1h, CACHE_WRITE_1H)):  # fmt: skip
                if written is None or abs(written - times * p.input) > _CENT:
                    raise ValueError(f"{m.id}: a cache write is {times}x input")
        return self


@functools.cache
def published() -> dict[str, tuple[PublishedModel, ...]]:
    """Every published model, by dialect (``openai``, ``anthropic``); read once."""
    # libyaml's loader when present: ten times faster than the pure one (0.02 s against 0.25)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    table = _Table.model_validate(yaml.load(CATALOG_FILE.read_text(), Loader=loader))
    return {"openai": table.openai, "anthropic": table.anthropic}


def lifecycle(m: PublishedModel, day: date) -> Lifecycle:
    if m.released is not None and day < m.released:
        return "unreleased"
    if m.retires is not None and day >= m.retires:
        return "retired"
    if m.retires is not None and (m.deprecated is None or day >= m.deprecated):
        return "deprecated"
    return "active"


@functools.cache
def retired_names(day: date) -> frozenset[str]:
    """The IDs and aliases that have retired by ``day``: a request for one gets the
    provider's after-shutdown 404, not its does-not-exist one."""
    return frozenset(
        name
        for models in published().values()
        for m in models
        if lifecycle(m, day) == "retired"
        for name in m.names
    )


def published_model(name: str) -> PublishedModel | None:
    """The entry an ID or alias names, whatever its state; None for a name never published."""
    return _by_name().get(name)


@functools.cache
def _by_name() -> dict[str, PublishedModel]:
    return {n: m for models in published().values() for m in models for n in m.names}
