"""Schemas for scenario, provider, client and threshold configs.

Every config enters through :func:`load_scenario` or :func:`load_provider_config`, which turn
any schema error into a :class:`ConfigError` naming the file, the field path and what was
expected. The CLI prints it and exits with status 2 before anything starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "ARRIVAL_FIELDS",
    "FAULT_FIELDS",
    "RETRY_FIELDS",
    "RETRY_KIND_ALIASES",
    "ArrivalConfig",
    "ClientConfig",
    "ConfigError",
    "DistConfig",
    "FaultWindowConfig",
    "GuardConfig",
    "KindFields",
    "LatencyConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "PromptConfig",
    "ProviderConfig",
    "RetryConfig",
    "Scenario",
    "TimeoutConfig",
    "WorkloadConfig",
    "format_errors",
    "load_provider_config",
    "load_scenario",
    "parse_duration",
]


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is the message a user should see.

    ``headline`` says what is wrong with the file as a whole ("invalid config", "no such
    file"); ``problems`` are (field path, what was expected) pairs under it.
    """

    def __init__(
        self, file: str, problems: list[tuple[str, str]], headline: str = "invalid config"
    ) -> None:
        self.file = file
        self.problems = problems
        self.headline = headline
        lines = [f"{file}: {headline}"]
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


# --------------------------------------------------------------------------- kinds
#
# A config with a ``kind`` accepts the fields of every kind, but each kind reads only some of
# them: a field another kind reads would be silently ignored, and a field that sets the size
# of the load (a Poisson ``rate``) would silently take its default. So each such schema has
# one table, below its class, of the fields each kind reads (checked against the code that
# reads them by tests/test_config_kinds.py), and ``_check_kind_fields`` turns a given field
# the kind ignores, or a required field left out, into a config error naming the field.


class KindFields(NamedTuple):
    """The fields one kind reads: those it needs given, and those with a usable default."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def used(self) -> tuple[str, ...]:
        return self.required + self.optional


def _check_kind_fields(model: BaseModel, kind: str, table: dict[str, KindFields]) -> None:
    """Raise a ``kind_fields`` error listing ignored and missing fields (see _format_errors)."""
    fields = table[kind]
    given = model.model_fields_set - {"kind"}
    unused = sorted(given - set(fields.used))
    missing = [f for f in fields.required if f not in given]
    if unused or missing:
        raise PydanticCustomError(
            "kind_fields",
            "fields do not match kind {kind}",
            {"kind": kind, "unused": unused, "missing": missing, "uses": list(fields.used)},
        )


def _field_problem(field: str, message: str) -> PydanticCustomError:
    """An error about one field, found by a model validator: reported at the field's path."""
    return PydanticCustomError("field_problem", message, {"field": field})


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
        _check_kind_fields(self, self.kind, FAULT_FIELDS)
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


# What mock_provider/model/faults.py reads for each kind (FaultSchedule.from_config).
FAULT_FIELDS: dict[str, KindFields] = {
    "outage": KindFields((), ("model", "start", "end", "status")),
    "error_rate": KindFields(("rate",), ("model", "start", "end", "statuses")),
}


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
    "openai_sdk",
    "anthropic_sdk",
    "litellm_router",
    "langchain_with_retry",
    "tenacity_cookbook",
    "vercel_ai_sdk",
]

# Older names a scenario may still use; each means the kind it points to.
RETRY_KIND_ALIASES: dict[str, str] = {
    "openai_default": "openai_sdk",
    "anthropic_default": "anthropic_sdk",
}

# A library kind's defaults are the library's own, where they differ from the field's default
# (the OpenAI cookbook's tenacity decorator stops after 6 attempts, not 3).
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "tenacity_cookbook": {"max_attempts": 6},
}


class RetryConfig(_Strict):
    kind: RetryKind = "openai_sdk"
    max_attempts: int = Field(3, ge=1, le=1000)
    base_s: Seconds = 0.5
    cap_s: Seconds = 60.0
    delay_s: Seconds = 1.0
    honor_retry_after: bool = False
    max_retry_after_s: Seconds = 60.0
    retry_on: list[int] = Field(default_factory=lambda: [408, 409, 429, 500, 502, 503, 504])
    # LiteLLM Router's own settings (kind litellm_router), under their LiteLLM names
    num_retries: int = Field(2, ge=0, le=999)
    allowed_fails: int | None = Field(None, ge=0)
    cooldown_time_s: Seconds = 5.0
    min_wait_s: Seconds = 0.0  # the Router's ``retry_after``: the least wait before a retry
    # composable extras
    retry_budget: RetryBudgetConfig | None = None
    adaptive_throttle: AdaptiveThrottleConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind_aliases_and_defaults(cls, value: Any) -> Any:
        given = value.get("kind") if isinstance(value, dict) else None
        if not isinstance(given, str):
            return value
        kind = RETRY_KIND_ALIASES.get(given, given)
        return {**_KIND_DEFAULTS.get(kind, {}), **value, "kind": kind}

    @model_validator(mode="after")
    def _kind_fields(self) -> RetryConfig:
        _check_kind_fields(self, self.kind, RETRY_FIELDS)
        honors = "honor_retry_after" in RETRY_FIELDS[self.kind].used
        if honors and "max_retry_after_s" in self.model_fields_set and not self.honor_retry_after:
            raise _field_problem(
                "max_retry_after_s",
                "only read with honor_retry_after: true; set that too, or remove this",
            )
        return self


# What simulator/client/policies.py (build_retry_policy) reads for each kind. ``none`` makes
# one attempt, so nothing about retrying applies (a retry budget is never asked either);
# ``call_with_backoff`` has its own retryable statuses and always honours Retry-After, as the
# code it copies does. The library kinds (simulator/client/libraries.py, litellm_router.py)
# read only what the library itself lets a user set, with the library's defaults, and take no
# extras: a breaker in front of the openai SDK would no longer be the openai SDK.
_EXTRAS = ("retry_budget", "adaptive_throttle", "circuit_breaker")
_RETRIES = ("max_attempts", "retry_on", "honor_retry_after", "max_retry_after_s", *_EXTRAS)
_BACKOFF = KindFields((), ("base_s", "cap_s", *_RETRIES))
_LIBRARY = KindFields((), ("max_attempts",))
RETRY_FIELDS: dict[str, KindFields] = {
    "none": KindFields((), ("adaptive_throttle", "circuit_breaker")),
    "immediate": KindFields((), _RETRIES),
    "fixed": KindFields((), ("delay_s", *_RETRIES)),
    "exponential": _BACKOFF,
    "full_jitter": _BACKOFF,
    "equal_jitter": _BACKOFF,
    "decorrelated_jitter": _BACKOFF,
    "call_with_backoff": KindFields((), ("max_attempts", *_EXTRAS)),
    "openai_sdk": _LIBRARY,  # max_attempts = the SDK's max_retries + 1
    "anthropic_sdk": _LIBRARY,  # max_attempts = the SDK's max_retries + 1
    "litellm_router": KindFields(
        (), ("num_retries", "allowed_fails", "cooldown_time_s", "min_wait_s")
    ),
    "langchain_with_retry": _LIBRARY,  # max_attempts = with_retry(stop_after_attempt=...)
    "tenacity_cookbook": _LIBRARY,  # max_attempts = stop_after_attempt(...), 6 by default
    "vercel_ai_sdk": _LIBRARY,  # max_attempts = maxRetries + 1
}


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
    """One named strategy: how the application calls the provider.

    ``preset`` names a real library's defaults (``simulator/client/presets.py``): they are
    merged under the fields given next to it, so ``{preset: litellm_router, fallback: [m]}`` is
    the Router's defaults with that fallback.
    """

    preset: str | None = None
    description: str = ""
    retry: RetryConfig = RetryConfig()
    fallback: list[str] = Field(default_factory=list)
    fallback_on: list[Literal["429", "5xx", "timeout"]] = ["429", "5xx", "timeout"]
    guards: GuardConfig = GuardConfig()
    timeouts: TimeoutConfig = TimeoutConfig()
    stream: bool = False
    api_key: str = "sk-stampede"

    @model_validator(mode="before")
    @classmethod
    def _merge_preset(cls, value: Any) -> Any:
        if not isinstance(value, dict) or value.get("preset") is None:
            return value
        from simulator.client.presets import PRESET_FIELDS, merge_under  # imports this module

        name = value["preset"]
        if not isinstance(name, str) or name not in PRESET_FIELDS:
            raise _field_problem(
                "preset", f"no preset {name!r}; choose one of: {', '.join(sorted(PRESET_FIELDS))}"
            )
        return merge_under(PRESET_FIELDS[name], value)


# --------------------------------------------------------------------------- workload


class ArrivalConfig(_Strict):
    """How logical requests arrive. Fields used depend on ``kind`` (``ARRIVAL_FIELDS``).

    burst: ``n`` requests at ``at``; poisson: ``rate`` per second; ramp: ``start_rate`` to
    ``end_rate``; spike: ``rate`` plus ``spike_rate`` inside [``spike_start``, ``spike_end``);
    diurnal: ``rate`` * (1 + ``amplitude`` * sin) over ``period``; closed_loop: ``users``
    each waiting ``think_time`` between requests. Any kind may cap its ``max_requests``.
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

    @model_validator(mode="after")
    def _kind_fields(self) -> ArrivalConfig:
        _check_kind_fields(self, self.kind, ARRIVAL_FIELDS)
        if self.kind == "spike" and self.spike_end <= self.spike_start:
            raise _field_problem("spike_end", "must be after spike_start")
        return self


# What simulator/workload.py reads for each kind. The required fields set the size of the
# load: a Poisson arrival without a rate is a mistake, not 1 request/s.
ARRIVAL_FIELDS: dict[str, KindFields] = {
    "burst": KindFields(("n",), ("at", "max_requests")),
    "poisson": KindFields(("rate",), ("max_requests",)),
    "ramp": KindFields(("end_rate",), ("start_rate", "max_requests")),
    "spike": KindFields(("rate", "spike_rate", "spike_start", "spike_end"), ("max_requests",)),
    "diurnal": KindFields(("rate",), ("amplitude", "period", "max_requests")),
    "closed_loop": KindFields(("users",), ("think_time", "max_requests")),
}


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


class ObjectiveConfig(_Strict):
    """What the scenario is for: how its strategies are ranked (``simulator.report.verdict``).

    ``rank_by`` is an ordered list of metric names: the first decides, unless the leaders are
    within noise of each other on it; then the next decides among them. ``floor`` maps metrics
    to threshold expressions ("<= 0.01") that a strategy must meet to be ranked at all. Metric
    names are checked against the metrics module when the scenario is prepared.
    """

    rank_by: list[str] = Field(min_length=1)
    floor: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``objective: p95_ttft_ms`` and ``objective: [a, b]`` mean ``{rank_by: ...}``."""
        if isinstance(value, str):
            return {"rank_by": [value]}
        if isinstance(value, list):
            return {"rank_by": value}
        return value


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: int = 0
    duration: Seconds = 120.0  # arrivals happen in [0, duration)
    drain: Seconds = 60.0  # then in-flight requests get this long to finish
    time_scale: float = Field(1.0, gt=0)
    provider: ProviderConfig = ProviderConfig()
    workload: WorkloadConfig
    strategies: dict[str, ClientConfig] = Field(min_length=1)
    objective: ObjectiveConfig | None = None
    thresholds: dict[str, dict[str, str]] = Field(default_factory=dict)
    baseline: str | None = None

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


def format_errors(err: ValidationError) -> list[tuple[str, str]]:
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
        if e["type"] == "model_type" and any(
            len(p) > len(loc) and p[: len(loc)] == loc for p in union_paths
        ):
            continue  # "should be a mapping" while the list member got further: noise too
        path = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if e["type"] == "kind_fields":
            out += _kind_field_problems(path, e["ctx"], msg)
            continue
        if e["type"] == "field_problem":
            out.append((f"{path}.{e['ctx']['field']}" if path else e["ctx"]["field"], msg))
            continue
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",):
            msg = f"{msg} (got {e['input']!r})"
        out.append((path, msg))
    return out


def _kind_field_problems(path: str, ctx: dict[str, Any], msg: str) -> list[tuple[str, str]]:
    """One problem per field, each at its own path, from a ``kind_fields`` error."""
    at = f"{path}." if path else ""
    kind, uses = ctx["kind"], ", ".join(ctx["uses"]) or "nothing else"
    out = [
        (f"{at}{f}", f"{f} is not used by kind {kind} (it uses: {uses}); remove it")
        for f in ctx["unused"]
    ]
    out += [(f"{at}{f}", f"kind {kind} needs {f}; set it") for f in ctx["missing"]]
    return out or [(path, msg)]


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [], "no such file") from exc
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
        raise ConfigError(str(path), format_errors(exc)) from exc


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
        raise ConfigError(str(path), [(prefix + p, m) for p, m in format_errors(exc)]) from exc
