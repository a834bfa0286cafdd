"""The model catalogue, as data.

Every entry is a frozen :class:`ModelSpec`; a provider config may override any field or add
models. Prices are USD per one million tokens, as the providers publish them: base input,
cached input (a cache read: 0.1x base for Claude) and output; a write to an explicit
(Anthropic) cache costs :data:`CACHE_WRITE_5M` or :data:`CACHE_WRITE_1H` times base input.
Latency profiles are scenario-time milliseconds (see ``latency.py`` for how they are drawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mock_provider.config import ProviderConfig

__all__ = [
    "CACHE_WRITE_1H",
    "CACHE_WRITE_5M",
    "DEFAULT_CATALOG",
    "Dialect",
    "Dist",
    "LatencyProfile",
    "ModelSpec",
    "build_catalog",
    "catalog_with",
]

Dialect = Literal["openai", "anthropic"]
CACHE_WRITE_5M = 1.25  # a 5-minute cache write, times the base input price (Anthropic)
CACHE_WRITE_1H = 2.0  # a 1-hour cache write


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
    # The shortest prompt prefix an explicit (Anthropic) cache breakpoint can cache; a
    # shorter one is processed uncached, without error.
    cache_min_tokens: int = 1024
    display_name: str = ""  # Anthropic's /v1/models shows it

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

DEFAULT_CATALOG: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("gpt-4o", "openai", 128_000, 2.50, 1.25, 10.00, _BIG),
        ModelSpec("gpt-4o-mini", "openai", 128_000, 0.15, 0.075, 0.60, _FAST),
        ModelSpec("gpt-4.1", "openai", 1_047_576, 2.00, 0.50, 8.00, _BIG, 32_768),
        ModelSpec("gpt-4.1-mini", "openai", 1_047_576, 0.40, 0.10, 1.60, _FAST, 32_768),
        # An OpenAI-compatible third-party model (Mistral's API speaks the OpenAI dialect).
        ModelSpec("mistral-large", "openai", 128_000, 2.00, 2.00, 6.00, _BIG, owned_by="mistralai"),
        # Claude models speak Anthropic's Messages API. Minimum cacheable prompt lengths per
        # Anthropic's prompt-caching docs: 1024 tokens for Sonnet-class, 2048 for Haiku 3.5.
        ModelSpec(
            "claude-3-5-sonnet",
            "anthropic",
            200_000,
            3.00,
            0.30,
            15.00,
            _BIG,
            8_192,
            owned_by="anthropic",
            cache_min_tokens=1024,
            display_name="Claude Sonnet 3.5",
        ),
        ModelSpec(
            "claude-3-5-haiku",
            "anthropic",
            200_000,
            0.80,
            0.08,
            4.00,
            _FAST,
            8_192,
            owned_by="anthropic",
            cache_min_tokens=2048,
            display_name="Claude Haiku 3.5",
        ),
        ModelSpec(
            "text-embedding-3-small",
            "openai",
            8_191,
            0.02,
            0.02,
            0.0,
            LatencyProfile(Dist(40.0, 0.3), Dist(0.01, 0.2), Dist(20.0, 0.3), Dist(0.0)),
            0,
            "embedding",
            1536,
        ),
    )
}


def catalog_with(overrides: dict[str, dict[str, object]]) -> dict[str, ModelSpec]:
    """The default catalogue with per-model field overrides applied (new names are added)."""
    out = dict(DEFAULT_CATALOG)
    for name, fields in overrides.items():
        base = out.get(name) or ModelSpec(name, "openai", 128_000, 1.0, 0.5, 4.0)
        out[name] = replace(base, name=name, **fields)  # type: ignore[arg-type]
    return out


def _dist(cfg: Any, default: Dist) -> Dist:
    return default if cfg is None else Dist(cfg.median, cfg.spread)


def build_catalog(cfg: ProviderConfig) -> dict[str, ModelSpec]:
    """The default catalogue with the config's per-model overrides applied."""
    out = dict(DEFAULT_CATALOG)
    for name, m in cfg.models.items():
        base = out.get(name) or ModelSpec(name, m.dialect or "openai", 128_000, 1.0, 0.5, 4.0)
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
