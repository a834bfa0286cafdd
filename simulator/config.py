"""Schemas for scenario, provider, client and threshold configs.

Every config enters through :func:`load_scenario` or :func:`load_provider_config`, which turn
any schema error into a :class:`ConfigError` naming the file, the field path and what was
expected. The CLI prints it and exits with status 2 before anything starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)

__all__ = [
    "ArrivalConfig",
    "ClientConfig",
    "ConfigError",
    "DistConfig",
    "FaultWindowConfig",
    "GuardConfig",
    "LatencyConfig",
    "ModelConfig",
    "PromptConfig",
    "ProviderConfig",
    "RetryConfig",
    "Scenario",
    "TimeoutConfig",
    "WorkloadConfig",
    "load_provider_config",
    "load_scenario",
    "parse_duration",
]


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is the message a user should see."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: invalid config"]
        lines += [f"  {path or '<top>'}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """Accept seconds as a number or a string like ``90s``, ``2m``, ``1.5h``, ``250ms``."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(
                f"expected a duration such as 30, '30s', '2m' or '250ms', got {value!r}"
            )
        return float(m.group(1)) * _UNIT[m.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- provider


class DistConfig(_Strict):
    median: float = Field(ge=0)
    spread: float = Field(0.0, ge=0, le=3)


class LatencyConfig(_Strict):
    network_ms: DistConfig | None = None
    prefill_ms_per_token: DistConfig | None = None
    first_token_ms: DistConfig | None = None
    decode_ms_per_token: DistConfig | None = None


class ModelConfig(_Strict):
    """Overrides for one catalogue model (or a new model) plus its limits."""

    dialect: Literal["openai", "anthropic"] | None = None
    context_window: int | None = Field(None, gt=0)
    price_input: float | None = Field(None, ge=0)
    price_cached_input: float | None = Field(None, ge=0)
    price_output: float | None = Field(None, ge=0)
    max_output_tokens: int | None = Field(None, gt=0)
    latency: LatencyConfig | None = None
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    max_in_flight: int | None = Field(None, gt=0)


class FaultWindowConfig(_Strict):
    """A scenario-time window in which a model fails.

    kind ``outage`` fails every request with ``status``; ``error_rate`` fails a share
    ``rate`` of requests, each with a status drawn from ``statuses``.
    """

    kind: Literal["outage", "error_rate"]
    model: str = "*"
    start: Seconds = 0.0
    end: Seconds | None = None
    status: Literal[500, 502, 503, 504] = 503
    rate: float = Field(1.0, ge=0, le=1)
    statuses: list[Literal[500, 502, 503, 504]] = [500]

    @model_validator(mode="after")
    def _window(self) -> FaultWindowConfig:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ProviderConfig(_Strict):
    """Everything the mock provider needs; a scenario's ``provider:`` section is one of these."""

    models: dict[str, ModelConfig] = Field(default_factory=dict)
    default_rpm: int = Field(10_000, gt=0)
    default_tpm: int = Field(30_000_000, gt=0)
    api_keys: list[str] = Field(default_factory=list)
    default_max_tokens: int = Field(4096, gt=0)
    output_tokens: DistConfig = DistConfig(median=200, spread=0.5)
    faults: list[FaultWindowConfig] = Field(default_factory=list)
    cache_ttl_s: Seconds = 300.0
    cache_min_tokens: int = Field(1024, ge=0)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    time_scale: float = Field(1.0, gt=0)
    seed: int = 0


# --------------------------------------------------------------------------- client


RetryKind = Literal[
    "none",
    "immediate",
    "fixed",
    "exponential",
    "full_jitter",
    "equal_jitter",
    "decorrelated_jitter",
    "call_with_backoff",
    "openai_default",
]


class RetryConfig(_Strict):
    kind: RetryKind = "openai_default"
    max_attempts: int = Field(3, ge=1, le=1000)
    base_s: Seconds = 0.5
    cap_s: Seconds = 60.0
    delay_s: Seconds = 1.0
    honor_retry_after: bool = False
    max_retry_after_s: Seconds = 60.0
    retry_on: list[int] = Field(default_factory=lambda: [408, 409, 429, 500, 502, 503, 504])
    # composable extras
    retry_budget: RetryBudgetConfig | None = None
    adaptive_throttle: AdaptiveThrottleConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None


class RetryBudgetConfig(_Strict):
    """gRPC retry throttling: start at max_tokens; -1 per failure, +token_ratio per success."""

    max_tokens: float = Field(10.0, gt=0)
    token_ratio: float = Field(0.1, gt=0)


class AdaptiveThrottleConfig(_Strict):
    """Google SRE client-side throttling: reject with p = max(0, (req - k*acc)/(req + 1))."""

    k: float = Field(2.0, ge=1)
    window_s: Seconds = 120.0


class CircuitBreakerConfig(_Strict):
    failure_threshold: int = Field(5, ge=1)
    reset_timeout_s: Seconds = 30.0
    half_open_max: int = Field(1, ge=1)


class GuardConfig(_Strict):
    max_input_tokens: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    user_daily_budget_usd: float | None = Field(None, gt=0)
    feature_daily_budget_usd: float | None = Field(None, gt=0)


class TimeoutConfig(_Strict):
    connect_s: Seconds = 10.0
    read_s: Seconds = 60.0
    total_s: Seconds = 600.0


class ClientConfig(_Strict):
    """One named strategy: how the application calls the provider."""

    description: str = ""
    retry: RetryConfig = RetryConfig()
    fallback: list[str] = Field(default_factory=list)
    fallback_on: list[Literal["429", "5xx", "timeout"]] = ["429", "5xx", "timeout"]
    guards: GuardConfig = GuardConfig()
    timeouts: TimeoutConfig = TimeoutConfig()
    stream: bool = False
    api_key: str = "sk-stampede"


# --------------------------------------------------------------------------- workload


class ArrivalConfig(_Strict):
    """How logical requests arrive. Fields used depend on ``kind``.

    burst: ``n`` requests at ``at``; poisson: ``rate`` per second; ramp: ``start_rate`` to
    ``end_rate``; spike: ``rate`` plus ``spike_rate`` inside [``spike_start``, ``spike_end``);
    diurnal: ``rate`` * (1 + ``amplitude`` * sin) over ``period``; closed_loop: ``users``
    each waiting ``think_time`` between requests.
    """

    kind: Literal["burst", "poisson", "ramp", "spike", "diurnal", "closed_loop"]
    n: int = Field(100, ge=0)
    at: Seconds = 0.0
    rate: float = Field(1.0, ge=0)
    start_rate: float = Field(0.0, ge=0)
    end_rate: float = Field(1.0, ge=0)
    spike_rate: float = Field(0.0, ge=0)
    spike_start: Seconds = 0.0
    spike_end: Seconds = 0.0
    amplitude: float = Field(0.5, ge=0, le=1)
    period: Seconds = 86_400.0
    users: int = Field(1, ge=1)
    think_time: DistConfig = DistConfig(median=5.0, spread=0.5)
    max_requests: int | None = Field(None, ge=1)


class PromptConfig(_Strict):
    layout: Literal["plain", "cache_friendly", "cache_busting"] = "plain"
    input_tokens: DistConfig = DistConfig(median=300, spread=0.5)
    system_tokens: int = Field(0, ge=0)
    max_tokens: int | None = Field(256, gt=0)
    users: int = Field(20, ge=1)
    features: list[str] = Field(default_factory=lambda: ["chat"])
    prompt_version: str = "v1"
    repeat: int = Field(1, ge=1)  # a loop bug: each logical request is sent this many times


class WorkloadConfig(_Strict):
    """``arrivals`` may be a list of open-loop phases (a ramp plus a spike): they overlay."""

    arrivals: ArrivalConfig | list[ArrivalConfig]
    prompts: PromptConfig = PromptConfig()
    model: str = "gpt-4o-mini"


# --------------------------------------------------------------------------- scenario


def _time_scale(value: Any) -> float | Literal["auto"]:
    """A number above 0, or ``auto``; one message for both (not one per union member)."""
    if value == "auto":
        return "auto"
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = 0.0
        if number > 0:
            return number
    raise ValueError(f"expected a number above 0 or 'auto', got {value!r}")


TimeScale = Annotated[float | Literal["auto"], PlainValidator(_time_scale)]


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: int = 0
    duration: Seconds = 120.0  # arrivals happen in [0, duration)
    drain: Seconds = 60.0  # then in-flight requests get this long to finish
    # "auto": chosen by a calibration against the mock before a live run (see ``scale``)
    time_scale: TimeScale = 1.0
    provider: ProviderConfig = ProviderConfig()
    workload: WorkloadConfig
    strategies: dict[str, ClientConfig] = Field(min_length=1)
    thresholds: dict[str, dict[str, str]] = Field(default_factory=dict)
    baseline: str | None = None

    @property
    def scale(self) -> float:
        """The time scale as a number: ``auto`` is replaced by one before a live run starts."""
        if self.time_scale == "auto":
            raise ValueError("time_scale is 'auto': it is chosen when a live run starts")
        return self.time_scale

    @model_validator(mode="after")
    def _cross_refs(self) -> Scenario:
        for key in self.thresholds:
            if key != "all" and key not in self.strategies:
                raise ValueError(
                    f"thresholds.{key}: no strategy named {key!r}; use 'all' or one of "
                    f"{sorted(self.strategies)}"
                )
        if self.baseline is not None and self.baseline not in self.strategies:
            raise ValueError(f"baseline {self.baseline!r} is not one of {sorted(self.strategies)}")
        return self


RetryConfig.model_rebuild()


# --------------------------------------------------------------------------- loading


def _is_union_tag(part: object) -> bool:
    """pydantic names the union member in ``loc`` ("ArrivalConfig", "list[ArrivalConfig]")."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def _format_errors(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    errors = err.errors()
    union_paths = {
        tuple(p for p in e["loc"] if not _is_union_tag(p))
        for e in errors
        if any(_is_union_tag(p) for p in e["loc"]) and e["type"] != "list_type"
    }
    for e in errors:
        loc = tuple(p for p in e["loc"] if not _is_union_tag(p))
        if e["type"] == "list_type" and any(p[: len(loc)] == loc for p in union_paths):
            continue  # "should be a list" from the other union member: noise
        path = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",):
            msg = f"{msg} (got {e['input']!r})"
        out.append((path, msg))
    return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read file: {exc.strerror}")]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), [(where, f"not valid YAML: {exc}")]) from exc


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "expected a mapping with name, workload, strategies")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), _format_errors(exc)) from exc


def load_provider_config(path: str | Path) -> ProviderConfig:
    """Read a provider config; a scenario file is accepted too (its ``provider:`` section)."""
    path = Path(path)
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "expected a mapping of provider settings")])
    prefix = ""
    if "provider" in data and "workload" in data:
        data, prefix = data["provider"] or {}, "provider."
    try:
        return ProviderConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), [(prefix + p, m) for p, m in _format_errors(exc)]) from exc
