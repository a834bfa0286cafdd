"""The mock provider's own config: its schema, and how any config file is read and refused.

The mock stands alone (``stampede serve`` needs nothing from the simulator), so it owns the
schema of what it serves: models and their limits, latency, faults, keys. The simulator's
scenario schema (``simulator.config``) embeds :class:`ProviderSettings` as its ``provider:``
section and reuses the machinery here: :class:`ConfigError` naming the file, the field path
and what was expected; durations written as ``90s`` or ``2m``; per-kind field tables.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "CATALOG_DATE",
    "FAULT_FIELDS",
    "PROFILE_RETRY_AFTER",
    "RUN_OWNED",
    "ConfigError",
    "DistConfig",
    "FaultKind",
    "FaultWindowConfig",
    "KindFields",
    "LatencyConfig",
    "LoadConfig",
    "ModelConfig",
    "ProviderConfig",
    "ProviderSettings",
    "RetryAfter",
    "Seconds",
    "StrictModel",
    "check_kind_fields",
    "field_problem",
    "format_errors",
    "load_provider_config",
    "owned_by_run",
    "parse_duration",
    "read_yaml",
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


class StrictModel(BaseModel):
    # No config means infinity or NaN (YAML's .inf, .nan): a duration, rate or size that is
    # not a number would only fail later, in arithmetic far from the field.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- kinds
#
# A config with a ``kind`` accepts the fields of every kind, but each kind reads only some of
# them: a field another kind reads would be silently ignored, and a field that sets the size
# of the load (a Poisson ``rate``) would silently take its default. So each such schema has
# one table, below its class, of the fields each kind reads (checked against the code that
# reads them by tests/test_config_kinds.py), and ``check_kind_fields`` turns a given field
# the kind ignores, or a required field left out, into a config error naming the field.


class KindFields(NamedTuple):
    """The fields one kind reads: those it needs given, and those with a usable default."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def used(self) -> tuple[str, ...]:
        return self.required + self.optional


def check_kind_fields(model: BaseModel, kind: str, table: dict[str, KindFields]) -> None:
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


def field_problem(field: str, message: str) -> PydanticCustomError:
    """An error about one field, found by a model validator: reported at the field's path."""
    return PydanticCustomError("field_problem", message, {"field": field})


# --------------------------------------------------------------------------- provider


class DistConfig(StrictModel):
    median: float = Field(ge=0)
    spread: float = Field(0.0, ge=0, le=3)


class LatencyConfig(StrictModel):
    network_ms: DistConfig | None = None
    prefill_ms_per_token: DistConfig | None = None
    first_token_ms: DistConfig | None = None
    decode_ms_per_token: DistConfig | None = None


RetryAfter = Literal["exact", "seconds", "none"]


class LoadConfig(StrictModel):
    """How a model slows down, and refuses, with its requests in flight
    (``mock_provider/model/load.py``): latency after the round trip times
    ``1 + slope * max(0, in_flight - free) ** exponent``; above ``capacity`` a 503 (OpenAI) or
    529 (Anthropic)."""

    free: int = Field(0, ge=0)
    slope: float = Field(0.0, ge=0)
    exponent: float = Field(1.0, gt=0, le=4)
    capacity: int | None = Field(None, gt=0)


class ModelConfig(StrictModel):
    """Overrides for one catalogue model (or a new model) plus its limits.

    ``retry_after`` is what a 429 says about when to retry: ``exact`` sends ``retry-after-ms``
    and ``retry-after`` (whole seconds, rounded up), ``seconds`` only ``retry-after``, and
    ``none`` neither. Unset, the provider's ``profile`` decides (see :class:`ProviderConfig`).
    """

    dialect: Literal["openai", "anthropic"] | None = None
    context_window: int | None = Field(None, gt=0)
    price_input: float | None = Field(None, ge=0)
    price_cached_input: float | None = Field(None, ge=0)
    price_output: float | None = Field(None, ge=0)
    max_output_tokens: int | None = Field(None, gt=0)
    latency: LatencyConfig | None = None
    cache_min_tokens: int | None = Field(None, ge=0)  # explicit (Anthropic) caching minimum
    rpm: int | None = Field(None, gt=0)
    # OpenAI models: tokens per minute, prompt + output. Anthropic models: an optional
    # combined cap over input and output (a workspace-style limit), off unless set.
    tpm: int | None = Field(None, gt=0)
    itpm: int | None = Field(None, gt=0)  # Anthropic models: input tokens per minute
    otpm: int | None = Field(None, gt=0)  # Anthropic models: output tokens per minute
    max_in_flight: int | None = Field(None, gt=0)  # per key: a 429 above it
    load: LoadConfig | None = None  # the model's own load curve and capacity, across keys
    retry_after: RetryAfter | None = None
    # Keys allowed to call this model (empty: every key the provider accepts); any other
    # key gets a 403 (permission_error).
    api_keys: list[str] = Field(default_factory=list)


FaultKind = Literal[
    "outage", "error_rate",  # the first two kinds: error windows, kept as they were
    "error", "reset", "hang", "empty", "malformed", "slow", "cut_stream", "stream_error",
    "slow_first_byte",
]  # fmt: skip
_SERVER_STATUS = (500, 502, 503, 504, 529)


class FaultWindowConfig(StrictModel):
    """One fault rule: which requests it strikes (the selection) and what it does (the kind).

    Selection, shared by every kind: ``model`` (``*``: any), ``key``, ``dialect`` (the wire
    format the request came in: ``openai``, ``openai_responses``, ``anthropic``), ``path``,
    ``stream`` and ``tools`` (true or false: only requests that do or do not), a
    scenario-time window ``start``..``end``, a seeded ``probability``, and ``times``: only
    the next N requests that match (a queue, as llmock's ``Fail(times=...)``).

    Kinds (``mock_provider/model/faults.py`` has one event class each):

    - ``error``: ``status`` (any 4xx or 5xx) with the dialect's error type, or ``error_type``
      (OpenAI's ``insufficient_quota``; Anthropic's follows the status: 402 ``billing_error``,
      529 ``overloaded_error``), ``retry_after``, ``should_retry`` (``x-should-retry``); left
      out, the two are what the service sends with the status (``model/family.py``);
    - ``reset``: the connection is reset before the status line, or after ``after_bytes``
      bytes of the body;
    - ``hang``: nothing is sent until the client gives up, or ``max_hang`` passes (then the
      connection is closed);
    - ``empty``: the connection is closed with no response;
    - ``malformed``: a non-JSON body, or (a stream) a broken SSE line after ``after_tokens``;
    - ``slow``: time to first token and each gap times ``factor``, plus ``delay`` before the
      first token;
    - ``cut_stream``: a stream stops after ``after_tokens`` tokens, with no final event;
    - ``stream_error``: an error event after ``after_tokens`` tokens, in the dialect's form;
    - ``slow_first_byte``: a stall of ``delay`` before the status line and headers (a cold
      start, a queue in front of the service), then the answer as planned.

    The first two kinds are error windows: ``outage`` fails every request with ``status``;
    ``error_rate`` fails a share ``rate`` of requests, each with a status from ``statuses``.
    """

    kind: FaultKind
    model: str = "*"
    key: str | None = None
    dialect: Literal["openai", "openai_responses", "anthropic"] | None = None
    path: str | None = None
    stream: bool | None = None
    tools: bool | None = None
    start: Seconds = 0.0
    end: Seconds | None = None
    probability: float = Field(1.0, ge=0, le=1)
    times: int | None = Field(None, gt=0)
    status: int = Field(503, ge=400, le=599)  # 529: Anthropic's "overloaded"
    rate: float = Field(1.0, ge=0, le=1)
    statuses: list[Literal[500, 502, 503, 504, 529]] = [500]
    error_type: str | None = None
    message: str | None = None
    retry_after: Seconds | None = None
    should_retry: bool | None = None
    after_bytes: int | None = Field(None, ge=0)
    after_tokens: int = Field(0, ge=0)
    max_hang: Seconds = Field(600.0, gt=0)
    factor: float = Field(1.0, ge=0)
    delay: Seconds = 0.0

    @model_validator(mode="after")
    def _window(self) -> FaultWindowConfig:
        check_kind_fields(self, self.kind, FAULT_FIELDS)
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.kind == "outage" and self.status not in _SERVER_STATUS:
            raise field_problem("status", f"an outage's status is one of {list(_SERVER_STATUS)}")
        if self.kind == "stream_error" and self.status < 500 and self.status != 429:
            raise field_problem("status", "a stream error's status is 429 or a 5xx")
        return self


# The selection every kind reads (mock_provider/model/faults.py: Selector).
_SELECT = ("model", "key", "dialect", "path", "stream", "tools", "start", "end", "times")
_DRAWN = (*_SELECT, "probability")
# What mock_provider/model/faults.py reads for each kind (FaultSchedule.from_config).
FAULT_FIELDS: dict[str, KindFields] = {
    "outage": KindFields((), (*_SELECT, "status")),
    "error_rate": KindFields(("rate",), (*_SELECT, "statuses")),
    "error": KindFields(
        ("status",), (*_DRAWN, "error_type", "message", "retry_after", "should_retry")
    ),
    "reset": KindFields((), (*_DRAWN, "after_bytes")),
    "hang": KindFields((), (*_DRAWN, "max_hang")),
    "empty": KindFields((), _DRAWN),
    "malformed": KindFields((), (*_DRAWN, "after_tokens")),
    "slow": KindFields((), (*_DRAWN, "factor", "delay")),
    "cut_stream": KindFields((), (*_DRAWN, "after_tokens")),
    "stream_error": KindFields((), (*_DRAWN, "after_tokens", "status", "error_type", "message")),
    "slow_first_byte": KindFields(("delay",), _DRAWN),
}


# The day the model catalogue (mock_provider/model/catalog.yaml) was read from the providers'
# pages: which models are served, deprecated or retired is decided on this day unless a
# scenario sets ``provider.catalog_date``. A constant, never the clock (determinism).
CATALOG_DATE = date(2026, 12, 7)

# What each profile's 429s carry, for models that do not set ``retry_after`` themselves.
PROFILE_RETRY_AFTER: dict[str, RetryAfter] = {"openai": "seconds", "azure": "exact"}


class ProviderSettings(StrictModel):
    """What the provider serves and how it behaves: a scenario's ``provider:`` section.

    ``profile`` names the service imitated where OpenAI-compatible services differ:
    ``openai`` (api.openai.com: a 429 carries a whole-second ``retry-after``) or ``azure``
    (Azure OpenAI: ``retry-after-ms`` too). ``tool_call_probability`` is how often a request
    that offers tools with ``tool_choice: auto`` gets a tool call rather than text;
    ``parallel_tool_call_probability`` how often an answer that calls a tool, where parallel
    calls are allowed, adds one more call (again for each further one).

    ``catalog_date`` is the day the catalogue is read on: models released later do not exist
    yet, models retired by then answer as after a shutdown. ``catalog_limits`` makes a model
    with no limits of its own take the catalogue's published tier limits instead of
    ``default_rpm`` / ``default_tpm``.
    """

    models: dict[str, ModelConfig] = Field(default_factory=dict)
    default_rpm: int = Field(10_000, gt=0)
    default_tpm: int = Field(30_000_000, gt=0)
    api_keys: list[str] = Field(default_factory=list)
    default_max_tokens: int = Field(4096, gt=0)
    output_tokens: DistConfig = DistConfig(median=200, spread=0.5)
    faults: list[FaultWindowConfig] = Field(default_factory=list)
    cache_ttl_s: Seconds = 300.0
    cache_min_tokens: int = Field(1024, ge=0)
    # None: each provider's documented limit (mock_provider/body.py); a number: one for all.
    max_body_bytes: int | None = Field(None, gt=0)
    profile: Literal["openai", "azure"] = "openai"
    # Half: an agent loop around the mock then makes two model calls on average (a geometric
    # number), so its tool path and its answer path both run, and the loop ends.
    tool_call_probability: float = Field(0.5, ge=0, le=1)
    parallel_tool_call_probability: float = Field(0.25, ge=0, le=1)
    catalog_date: date = CATALOG_DATE
    catalog_limits: bool = False

    def for_run(self, *, seed: int, time_scale: float) -> ProviderConfig:
        """The mock's config for a run whose seed and time scale someone else owns (a
        scenario: ``Scenario.mock_config``). Only the fields given are carried over, so a
        field a fault's kind ignores stays unset."""
        data = self.model_dump(exclude_unset=True)
        return ProviderConfig.model_validate({**data, "seed": seed, "time_scale": time_scale})


# The two settings a run owns rather than the provider: a scenario sets them at its top level.
RUN_OWNED = ("seed", "time_scale")


class ProviderConfig(ProviderSettings):
    """Everything the mock provider needs: its settings, and the seed of every random draw and
    how many times faster than scenario time it runs. ``stampede serve --config`` reads one;
    a scenario derives one (``Scenario.mock_config``), its own ``seed`` and ``time_scale``
    owning the last two."""

    time_scale: float = Field(1.0, gt=0)
    seed: int = Field(0, ge=0)


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
            out += _kindfield_problems(path, e["ctx"], msg)
            continue
        if e["type"] == "field_problem":
            out.append((f"{path}.{e['ctx']['field']}" if path else e["ctx"]["field"], msg))
            continue
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "value_error":  # our own validator's words, without pydantic's prefix
            msg = msg.removeprefix("Value error, ")
        elif "input" in e:
            msg = f"{msg} (got {e['input']!r})"
        out.append((path, msg))
    return out


def _kindfield_problems(path: str, ctx: dict[str, Any], msg: str) -> list[tuple[str, str]]:
    """One problem per field, each at its own path, from a ``kind_fields`` error."""
    at = f"{path}." if path else ""
    kind, uses = ctx["kind"], ", ".join(ctx["uses"]) or "nothing else"
    out = [
        (f"{at}{f}", f"{f} is not used by kind {kind} (it uses: {uses}); remove it")
        for f in ctx["unused"]
    ]
    out += [(f"{at}{f}", f"kind {kind} needs {f}; set it") for f in ctx["missing"]]
    return out or [(path, msg)]


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [], "no such file") from exc
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:  # a binary file, or text in another encoding
        raise ConfigError(
            str(path),
            [("", f"not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset "
                  f"{exc.start}); expected YAML")],
        ) from exc  # fmt: skip
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), [(where, f"not valid YAML: {exc}")]) from exc


def owned_by_run(field: str) -> str:
    """What is wrong with a scenario's ``provider:`` section that sets ``seed`` or
    ``time_scale``."""
    return (
        f"not a provider setting in a scenario: the scenario's own {field} owns it (the "
        f"mock's is derived from it); set {field} at the scenario's top level"
    )


def load_provider_config(path: str | Path) -> ProviderConfig:
    """Read a provider config; a scenario file is accepted too: its ``provider:`` section,
    with the scenario's own ``seed`` and ``time_scale`` (``auto``: 1, until a reset sets it)."""
    path = Path(path)
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "expected a mapping of provider settings")])
    if "provider" in data and "workload" in data:
        return _scenario_provider(str(path), data)
    try:
        return ProviderConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), format_errors(exc)) from exc


def _scenario_provider(file: str, scenario: dict[str, Any]) -> ProviderConfig:
    section = scenario["provider"] or {}
    try:
        settings = ProviderSettings.model_validate(section)
    except ValidationError as exc:
        problems = [(p, owned_by_run(p) if p in RUN_OWNED else m) for p, m in format_errors(exc)]
        raise ConfigError(file, [(f"provider.{p}", m) for p, m in problems]) from exc
    scale = scenario.get("time_scale", 1.0)
    try:
        return settings.for_run(
            seed=scenario.get("seed", 0), time_scale=1.0 if scale == "auto" else scale
        )
    except ValidationError as exc:  # the scenario's own seed or time_scale
        raise ConfigError(file, format_errors(exc)) from exc
