"""Schemas for scenario, client, workload and objective configs.

Every scenario enters through :func:`load_scenario`, which turns any schema error into a
:class:`~mock_provider.config.ConfigError` naming the file, the field path and what was
expected; the CLI prints it and exits with status 2 before anything starts. The ``provider:``
section is the mock's own schema (:class:`~mock_provider.config.ProviderSettings`), as is the
machinery of durations, per-kind field tables and error formatting. The scenario owns the seed
and time scale; the mock's config is derived from it (:attr:`Scenario.mock_config`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from mock_provider.config import (
    RUN_OWNED,
    ConfigError,
    DistConfig,
    KindFields,
    ProviderConfig,
    ProviderSettings,
    Seconds,
    StrictModel,
    check_kind_fields,
    field_problem,
    format_errors,
    owned_by_run,
    parse_duration,
    read_yaml,
)

__all__ = [
    "ARRIVAL_FIELDS",
    "MAX_PROMPT_TOKENS",
    "MAX_REQUESTS",
    "MAX_RUN_S",
    "RETRY_FIELDS",
    "RETRY_KIND_ALIASES",
    "SCENARIO_NAME",
    "AppConfig",
    "ArrivalConfig",
    "ClientConfig",
    "ConfigError",
    "GuardConfig",
    "ObjectiveConfig",
    "PromptConfig",
    "RetryConfig",
    "Scenario",
    "StrategyConfig",
    "SweepConfig",
    "SweepReference",
    "TimeoutConfig",
    "WorkloadConfig",
    "format_errors",
    "load_scenario",
    "parse_duration",
]


# --------------------------------------------------------------------------- bounds

# What one run may hold. A workload is materialised before anything runs (about 2 kB a
# request), so a duration or rate typed a few zeros too long would otherwise end in a
# MemoryError: the schema refuses it first, naming the field and the limit.
MAX_REQUESTS = 1_000_000  # logical requests drawn (simulator.workload.requests_drawn)
MAX_PROMPT_TOKENS = 2_000_000  # beyond every model's context window; a drawn prompt is cut here
MAX_RUN_S = 30 * 86_400.0  # scenario seconds of arrivals, and of drain


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


class RetryConfig(StrictModel):
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
        check_kind_fields(self, self.kind, RETRY_FIELDS)
        honors = "honor_retry_after" in RETRY_FIELDS[self.kind].used
        if honors and "max_retry_after_s" in self.model_fields_set and not self.honor_retry_after:
            raise field_problem(
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

# The kinds that are a named library as it is installed, rather than an idealised policy.
LIBRARY_RETRY_KINDS = frozenset(
    k for k, fields in RETRY_FIELDS.items() if fields is _LIBRARY or k == "litellm_router"
)


class RetryBudgetConfig(StrictModel):
    """gRPC retry throttling: start at max_tokens; -1 per failure, +token_ratio per success."""

    max_tokens: float = Field(10.0, gt=0)
    token_ratio: float = Field(0.1, gt=0)


class AdaptiveThrottleConfig(StrictModel):
    """Google SRE client-side throttling: reject with p = max(0, (req - k*acc)/(req + 1))."""

    k: float = Field(2.0, ge=1)
    window_s: Seconds = 120.0


class CircuitBreakerConfig(StrictModel):
    failure_threshold: int = Field(5, ge=1)
    reset_timeout_s: Seconds = 30.0
    half_open_max: int = Field(1, ge=1)


class GuardConfig(StrictModel):
    max_input_tokens: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    user_daily_budget_usd: float | None = Field(None, gt=0)
    feature_daily_budget_usd: float | None = Field(None, gt=0)


class TimeoutConfig(StrictModel):
    connect_s: Seconds = 10.0
    read_s: Seconds = 60.0
    total_s: Seconds = 600.0


FallbackTrigger = Literal["429", "5xx", "timeout"]
FALLBACK_TRIGGERS: tuple[FallbackTrigger, ...] = ("429", "5xx", "timeout")


class ClientConfig(StrictModel):
    """One named strategy: how the application calls the provider.

    ``preset`` names a real library's defaults (``simulator/client/presets.py``): they are
    merged under the fields given next to it, so ``{preset: litellm_router, fallback: [m]}`` is
    the Router's defaults with that fallback.
    """

    preset: str | None = None
    description: str = ""
    retry: RetryConfig = RetryConfig()
    fallback: list[str] = Field(default_factory=list)
    fallback_on: list[FallbackTrigger] = Field(default_factory=lambda: list(FALLBACK_TRIGGERS))
    guards: GuardConfig = GuardConfig()
    timeouts: TimeoutConfig = TimeoutConfig()
    stream: bool = False
    api_key: str = "sk-stampede"
    # The application's own prompt template, overriding workload.prompts.layout for this
    # strategy: the same arrivals, users and user messages, laid out differently.
    prompt_layout: PromptLayout | None = None

    @model_validator(mode="before")
    @classmethod
    def _merge_preset(cls, value: Any) -> Any:
        if not isinstance(value, dict) or value.get("preset") is None:
            return value
        from simulator.client.presets import PRESET_FIELDS, merge_under  # imports this module

        name = value["preset"]
        if not isinstance(name, str) or name not in PRESET_FIELDS:
            raise field_problem(
                "preset", f"no preset {name!r}; choose one of: {', '.join(sorted(PRESET_FIELDS))}"
            )
        return merge_under(PRESET_FIELDS[name], value)

    @field_validator("fallback_on", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> Any:
        """``[429, 5xx]``: YAML reads an unquoted 429 as a number; it means the status."""
        if isinstance(value, list):
            return [str(v) if type(v) is int and v == 429 else v for v in value]
        return value


PromptLayout = Literal["plain", "cache_friendly", "cache_busting"]
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class AppConfig(StrictModel):
    """A strategy that is the user's own code: ``{app: "myapp.llm:answer", path: "."}``.

    The run imports the module with ``path`` (relative to the scenario file) first on
    ``sys.path``, after setting the SDKs' environment variables to the mock, and calls the
    function, sync or async, once per logical request with a
    :class:`simulator.apps.request.AppRequest`; the app calls the mock itself. Its attempts
    come from the mock's request journal (``simulator/apps/attribution.py``). ``fallback``
    names the models the app may call besides the workload's, so that they are checked
    against the mock's catalogue and counted by the pre-flight; the app gets them in its
    request. ``stream`` and ``api_key`` are what the request says; the app decides.
    """

    app: str
    path: str = "."
    description: str = ""
    fallback: list[str] = Field(default_factory=list)
    stream: bool = False
    api_key: str = "sk-stampede"
    prompt_layout: PromptLayout | None = None

    @field_validator("app")
    @classmethod
    def _import_path(cls, value: str) -> str:
        if not _IMPORT_PATH.match(value):
            raise ValueError(f"expected 'module:function', e.g. 'myapp.llm:answer', got {value!r}")
        return value


def _strategy_kind(value: Any) -> str:
    """Which schema a strategy entry is: an app names ``app``, anything else is a client."""
    if isinstance(value, dict):
        return "AppConfig" if "app" in value else "ClientConfig"
    return "AppConfig" if isinstance(value, AppConfig) else "ClientConfig"


# Tags capitalised: ``format_errors`` drops a union member's name from the field path.
StrategyConfig = Annotated[
    Annotated[ClientConfig, Tag("ClientConfig")] | Annotated[AppConfig, Tag("AppConfig")],
    Discriminator(_strategy_kind),
]


# --------------------------------------------------------------------------- workload


class ArrivalConfig(StrictModel):
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
        check_kind_fields(self, self.kind, ARRIVAL_FIELDS)
        if self.kind == "spike" and self.spike_end <= self.spike_start:
            raise field_problem("spike_end", "must be after spike_start")
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


class PromptConfig(StrictModel):
    layout: Literal["plain", "cache_friendly", "cache_busting"] = "plain"
    input_tokens: DistConfig = DistConfig(median=300, spread=0.5)
    system_tokens: int = Field(0, ge=0, le=MAX_PROMPT_TOKENS)
    max_tokens: int | None = Field(256, gt=0)
    users: int = Field(20, ge=1)
    features: list[str] = Field(default_factory=lambda: ["chat"])
    prompt_version: str = "v1"
    repeat: int = Field(1, ge=1)  # a loop bug: each logical request is sent this many times

    @field_validator("input_tokens")
    @classmethod
    def _prompt_size(cls, value: DistConfig) -> DistConfig:
        if value.median > MAX_PROMPT_TOKENS:
            raise ValueError(
                f"median {value.median:g} tokens is beyond any model's context window; at most "
                f"{MAX_PROMPT_TOKENS:,}"
            )
        return value


class WorkloadConfig(StrictModel):
    """``arrivals`` may be a list of open-loop phases (a ramp plus a spike): they overlay."""

    arrivals: ArrivalConfig | list[ArrivalConfig]
    prompts: PromptConfig = PromptConfig()
    model: str = "gpt-4o-mini"

    @model_validator(mode="before")
    @classmethod
    def _some_arrivals(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("arrivals") == []:
            raise field_problem("arrivals", "expected an arrival, or a list of at least one")
        return value


# --------------------------------------------------------------------------- scenario


class ObjectiveConfig(StrictModel):
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


class SweepReference(StrictModel):
    """A published result a sweep is held to: per strategy, the numbers it reports at one
    point (``at``: path -> value). ``stampede sweep`` says whether its own ordering of the
    strategies on each metric is the same (``simulator.sweep.outcome``)."""

    source: str
    at: dict[str, Any] = Field(default_factory=dict)
    strategies: dict[str, dict[str, float]] = Field(min_length=2)


class SweepConfig(StrictModel):
    """``stampede sweep``'s grid when the command line gives none: ``vary`` maps a dotted path
    into this file to the values it takes; ``seeds`` runs each point with N seeds. A single
    ``stampede run`` ignores it and runs the file as written."""

    vary: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: int = Field(1, ge=1, le=1000)
    reference: SweepReference | None = None


def _time_scale(value: Any) -> float | Literal["auto"]:
    """A number above 0, or ``auto``; one message for both (not one per union member)."""
    if value == "auto":
        return "auto"
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = 0.0
        if number > 0 and math.isfinite(number):
            return number
    raise ValueError(f"expected a number above 0 or 'auto', got {value!r}")


TimeScale = Annotated[float | Literal["auto"], PlainValidator(_time_scale)]


# What a scenario's name may hold: it is a folder name under reports/, never a path.
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


class Scenario(StrictModel):
    """One scenario file. It owns ``seed`` and ``time_scale``: the mock's config is derived
    from it in one place, :attr:`mock_config`, and a ``provider:`` section that sets either
    is refused, so no caller (a driver, a library user of :func:`load_scenario`) can start a
    mock with a seed or scale of its own."""

    name: str
    description: str = ""
    seed: int = Field(0, ge=0)  # numpy seeds its streams from it: a whole number from 0
    duration: Seconds = 120.0  # arrivals happen in [0, duration)
    drain: Seconds = 60.0  # then in-flight requests get this long to finish
    # "auto": chosen by a calibration against the mock before a live run (see ``scale``)
    time_scale: TimeScale = 1.0
    provider: ProviderSettings = ProviderSettings()
    workload: WorkloadConfig
    strategies: dict[str, StrategyConfig] = Field(min_length=1)
    objective: ObjectiveConfig | None = None
    thresholds: dict[str, dict[str, str]] = Field(default_factory=dict)
    baseline: str | None = None
    sweep: SweepConfig | None = None  # stampede sweep's grid (simulator/sweep/)
    # "intended": demand above a model's RPM or TPM limit is what the scenario is about (a
    # herd, a launch spike); the pre-flight check then states it as info, not as a warning
    overload: Literal["intended"] | None = None

    @property
    def clients(self) -> dict[str, ClientConfig]:
        """The built-in strategies: a client brain runs each."""
        return {n: c for n, c in self.strategies.items() if isinstance(c, ClientConfig)}

    @property
    def apps(self) -> dict[str, AppConfig]:
        """The strategies that are the user's own code (:class:`AppConfig`)."""
        return {n: c for n, c in self.strategies.items() if isinstance(c, AppConfig)}

    @property
    def scale(self) -> float:
        """The time scale as a number: ``auto`` is replaced by one before a live run starts."""
        if self.time_scale == "auto":
            raise ValueError("time_scale is 'auto': it is chosen when a live run starts")
        return self.time_scale

    @property
    def mock_config(self) -> ProviderConfig:
        """The mock's config: the ``provider:`` section with this scenario's seed and time
        scale (``auto``: 1 until the calibration chooses one, which resets the mock to it).
        The only place the mock's seed and time scale come from."""
        scale = 1.0 if self.time_scale == "auto" else self.time_scale
        return self.provider.for_run(seed=self.seed, time_scale=scale)

    @field_validator("name")
    @classmethod
    def _file_safe(cls, value: str) -> str:
        """The name becomes the report folder's name (``reports/<name>-<stamp>``): no path."""
        if not SCENARIO_NAME.fullmatch(value):
            raise ValueError(
                "letters, digits, '_', '-' and '.' (not first), at most 100 characters: "
                f"it names the report folder; got {value!r}"
            )
        return value

    @field_validator("provider", mode="before")
    @classmethod
    def _run_owned(cls, value: Any) -> Any:
        given = value.model_fields_set if isinstance(value, ProviderSettings) else value
        if isinstance(given, dict | set):
            for field in RUN_OWNED:
                if field in given:
                    raise field_problem(field, owned_by_run(field))
        return value

    @field_validator("duration", "drain")
    @classmethod
    def _run_length(cls, value: float) -> float:
        if value > MAX_RUN_S:
            raise ValueError(
                f"at most {MAX_RUN_S:,.0f} s (30 days) of scenario time, got {value:g} s"
            )
        return value

    @model_validator(mode="after")
    def _workload_size(self) -> Scenario:
        from simulator.workload import requests_drawn  # it imports this module

        drawn = requests_drawn(self.workload, self.duration)
        if not drawn <= MAX_REQUESTS:  # NaN too
            raise field_problem(
                "duration",
                f"{self.duration:g} s of workload.arrivals draws about {drawn:,.0f} logical "
                f"requests; a run holds at most {MAX_REQUESTS:,}: shorten duration, or lower the "
                "arrivals' rate, n or users (or prompts.repeat)",
            )
        return self

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


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "expected a mapping with name, workload, strategies")])
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), format_errors(exc)) from exc
    return with_app_paths(sc, path.resolve().parent)


def with_app_paths(sc: Scenario, base: Path) -> Scenario:
    """``sc`` with each app strategy's ``path`` made absolute from ``base`` (the scenario
    file's folder), so a copy of the scenario in a run folder still finds the app."""
    if not sc.apps:
        return sc
    strategies = {
        name: s.model_copy(update={"path": str((base / s.path).resolve())})
        if isinstance(s, AppConfig)
        else s
        for name, s in sc.strategies.items()
    }
    return sc.model_copy(update={"strategies": strategies})
