"""Faults as data: a closed set of frozen events, and the rules that pick a request for one.

Theory of operation
-------------------
A fault is one of nine events (:data:`Fault`): an :class:`ErrorFault` replaces the response
with an error status; the others shape a response the brain admitted and charged, and travel
on its ``Completion``: ``mock_provider/delivery.py`` turns each into the steps of the
response's delivery (the one place that says what a fault does to the bytes), which the live
executor and the virtual transport carry out. A :class:`SlowFault` is applied by the brain
itself, to the timing plan.

A :class:`FaultRule` pairs a :class:`Selector` (model, key, dialect, path, stream, tools, a
scenario-time window) with the event, a seeded probability and an optional count (``times``:
the next N matching requests). :class:`FaultSchedule` holds the rules in order; for each
request the first rule that matches and whose draw succeeds strikes. Draws come from the
request's own generator, so a seeded run strikes the same requests every time. The schedule
also takes rules at run time (``POST /_stampede/faults``), each with an id.

A request may ask for a fault itself, with a header ``x-stampede-fault: <kind>[;param=value]``
(in the spirit of Envoy's header-selected faults): :func:`parse_fault_header`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pydantic import ValidationError

from mock_provider.config import FaultWindowConfig, format_errors

from .randomness import RequestRandom

__all__ = [
    "FAULT_KINDS",
    "CutStream",
    "EmptyFault",
    "ErrorFault",
    "Fault",
    "FaultRule",
    "FaultSchedule",
    "FaultTarget",
    "HangFault",
    "MalformedFault",
    "ResetFault",
    "Selector",
    "SlowFault",
    "SlowFirstByte",
    "StreamError",
    "StrikeCounter",
    "parse_fault_header",
    "rule_from_config",
]

FAULT_HEADER = "x-stampede-fault"


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ErrorFault:
    """An error response instead of the answer: ``status`` with the dialect's error type (or
    ``error_type``), and the retry hints the service sends with that status (``retry-after``,
    ``x-should-retry``: :mod:`.family`) unless ``retry_after_s`` or ``should_retry``
    names its own."""

    kind: ClassVar[str] = "error"
    status: int
    error_type: str | None = None
    message: str | None = None
    retry_after_s: float | None = None
    should_retry: bool | None = None
    reason: str = "error"  # "outage" | "error_rate" | "error": which rule made it


@dataclass(frozen=True, slots=True)
class ResetFault:
    """The connection is reset: before the status line (``after_bytes`` None) or after that
    many bytes of the body."""

    kind: ClassVar[str] = "reset"
    after_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class HangFault:
    """Nothing is sent until the client gives up, or ``max_s`` passes (then the connection
    is closed, as an :class:`EmptyFault`)."""

    kind: ClassVar[str] = "hang"
    max_s: float = 600.0


@dataclass(frozen=True, slots=True)
class EmptyFault:
    """The connection is closed with no response at all."""

    kind: ClassVar[str] = "empty"


@dataclass(frozen=True, slots=True)
class MalformedFault:
    """A body that is not JSON; for a stream, a broken SSE line after ``after_tokens``."""

    kind: ClassVar[str] = "malformed"
    after_tokens: int = 0


@dataclass(frozen=True, slots=True)
class SlowFault:
    """Time to first token and each gap multiplied by ``factor``, plus ``delay_s`` before the
    first token (the brain applies it to the plan)."""

    kind: ClassVar[str] = "slow"
    factor: float = 1.0
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CutStream:
    """A stream that stops after ``after_tokens`` tokens: no final chunk, no ``[DONE]``, no
    ``message_stop``. A request that does not stream is reset after its headers instead."""

    kind: ClassVar[str] = "cut_stream"
    after_tokens: int = 0


@dataclass(frozen=True, slots=True)
class StreamError:
    """An error event after ``after_tokens`` tokens of a 200 stream, in the dialect's form
    (Anthropic's ``event: error``, OpenAI's ``data: {"error": ...}``); then the stream ends.
    A request that does not stream gets the error as its response."""

    kind: ClassVar[str] = "stream_error"
    after_tokens: int = 0
    status: int = 529
    error_type: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class SlowFirstByte:
    """Nothing at all for ``delay_s`` (not even the status line), then the answer as planned:
    a cold start, or a queue in front of the service."""

    kind: ClassVar[str] = "slow_first_byte"
    delay_s: float


Fault = (
    ErrorFault | ResetFault | HangFault | EmptyFault | MalformedFault | SlowFault | CutStream
    | StreamError | SlowFirstByte
)  # fmt: skip
FAULT_KINDS: tuple[str, ...] = (
    "error", "reset", "hang", "empty", "malformed", "slow", "cut_stream", "stream_error",
    "slow_first_byte",
)  # fmt: skip


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True, slots=True)
class FaultTarget:
    """What a rule may select a request by (the brain's view of it)."""

    model: str
    key: str | None = None
    dialect: str | None = None  # the wire format it came in ("openai_responses", ...)
    path: str | None = None
    stream: bool = False
    tools: bool = False


@dataclass(frozen=True, slots=True)
class Selector:
    """Which requests a rule may strike; None (and model ``*``) match anything."""

    model: str = "*"
    key: str | None = None
    dialect: str | None = None
    path: str | None = None
    stream: bool | None = None
    tools: bool | None = None
    start: float = 0.0
    end: float | None = None

    def matches(self, t: FaultTarget, now: float) -> bool:
        return (
            (self.model == "*" or self.model == t.model)
            and now >= self.start
            and (self.end is None or now < self.end)
            and (self.key is None or self.key == t.key)
            and (self.dialect is None or self.dialect == t.dialect)
            and (self.path is None or self.path == t.path)
            and (self.stream is None or self.stream == t.stream)
            and (self.tools is None or self.tools == t.tools)
        )


@dataclass(frozen=True, slots=True)
class FaultRule:
    """A selector, the event it brings, its probability and how many times it may strike.

    ``statuses`` (the ``error_rate`` kind) draws the error's status from a list.
    """

    select: Selector
    event: Fault
    probability: float = 1.0
    times: int | None = None
    statuses: tuple[int, ...] = ()

    def draw(self, rng: RequestRandom | None) -> Fault | None:
        """The event, if this request's draw says it strikes (no draw at probability 1)."""
        if self.statuses:  # an error_rate window: it always drew, at rate 1 too
            assert rng is not None and isinstance(self.event, ErrorFault)
            if rng.random() >= self.probability:
                return None
            status = self.statuses[rng.integers(len(self.statuses))]
            return ErrorFault(status, reason=self.event.reason)
        if self.probability < 1.0 and (rng is None or rng.random() >= self.probability):
            return None
        return self.event


def _event(cfg: FaultWindowConfig) -> Fault:
    kind = cfg.kind
    if kind == "outage":
        return ErrorFault(cfg.status, reason=kind)
    if kind == "error_rate":  # its status is drawn from ``statuses`` (FaultRule.draw)
        return ErrorFault(500, reason=kind)
    if kind == "error":
        return ErrorFault(
            cfg.status, cfg.error_type, cfg.message, cfg.retry_after, cfg.should_retry
        )
    if kind == "reset":
        return ResetFault(cfg.after_bytes)
    if kind == "hang":
        return HangFault(cfg.max_hang)
    if kind == "empty":
        return EmptyFault()
    if kind == "malformed":
        return MalformedFault(cfg.after_tokens)
    if kind == "slow":
        return SlowFault(cfg.factor, cfg.delay)
    if kind == "cut_stream":
        return CutStream(cfg.after_tokens)
    if kind == "slow_first_byte":
        return SlowFirstByte(cfg.delay)
    assert kind == "stream_error"
    status = cfg.status if "status" in cfg.model_fields_set else 529
    return StreamError(cfg.after_tokens, status, cfg.error_type, cfg.message)


def rule_from_config(cfg: FaultWindowConfig) -> FaultRule:
    select = Selector(
        cfg.model, cfg.key, cfg.dialect, cfg.path, cfg.stream, cfg.tools, cfg.start, cfg.end
    )
    if cfg.kind == "error_rate":
        return FaultRule(select, _event(cfg), cfg.rate, cfg.times, tuple(cfg.statuses))
    probability = 1.0 if cfg.kind == "outage" else cfg.probability
    return FaultRule(select, _event(cfg), probability, cfg.times)


class StrikeCounter(Protocol):
    """Counts the strikes of rules with ``times`` where several processes see them all
    (``mock_provider/redis_store.py``); without one, each schedule counts its own."""

    def strike(self, rule_id: str, times: int) -> bool:
        """Count one strike of the rule; whether it is within its ``times``."""
        ...


@dataclass
class _Entry:
    id: str
    rule: FaultRule
    config: FaultWindowConfig
    left: int | None  # strikes left (``times``); None: unlimited
    struck: int = 0


@dataclass
class FaultSchedule:
    """The rules in order, with their ids and strike counts (see the module docstring)."""

    entries: list[_Entry] = field(default_factory=list)
    _next_id: int = 1
    strikes: StrikeCounter | None = None  # shared ``times`` counts; None: ``left`` decides

    @classmethod
    def from_config(
        cls, windows: Sequence[FaultWindowConfig], strikes: StrikeCounter | None = None
    ) -> FaultSchedule:
        schedule = cls(strikes=strikes)
        for w in windows:
            schedule.add(w)
        return schedule

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return tuple(e.rule for e in self.entries)

    def add(self, cfg: FaultWindowConfig) -> str:
        """Append a rule; its id (``f1``, ``f2``, ...)."""
        fid = f"f{self._next_id}"
        self._next_id += 1
        self.entries.append(_Entry(fid, rule_from_config(cfg), cfg, cfg.times))
        return fid

    def remove(self, ids: Iterable[str] | None = None) -> list[str]:
        """Remove the rules with these ids (all of them for None); the ids removed."""
        if ids is None:
            gone = [e.id for e in self.entries]
            self.entries = []
            return gone
        wanted = set(ids)
        gone = [e.id for e in self.entries if e.id in wanted]
        self.entries = [e for e in self.entries if e.id not in wanted]
        return gone

    def listing(self) -> list[dict[str, object]]:
        """Each rule as its config fields, plus ``id``, ``struck`` and ``left``."""
        out: list[dict[str, object]] = []
        for e in self.entries:
            row: dict[str, object] = {"id": e.id}
            row.update(e.config.model_dump(mode="json", exclude_unset=True))
            row["kind"] = e.config.kind
            row["struck"] = e.struck
            row["left"] = e.left
            out.append(row)
        return out

    def decide(self, target: FaultTarget, now: float, rng: RequestRandom | None) -> Fault | None:
        """The fault that strikes this request at scenario time ``now``, if any."""
        for e in self.entries:
            if e.left == 0 or not e.rule.select.matches(target, now):
                continue
            fault = e.rule.draw(rng)
            if fault is None:
                continue
            times, strikes = e.rule.times, self.strikes
            if (
                times is not None
                and strikes is not None
                and not strikes.strike(_shared_id(e), times)
            ):
                e.left = 0  # the other processes used up its times
                continue
            e.struck += 1
            if e.left is not None:
                e.left -= 1
            return fault
        return None


def _shared_id(e: _Entry) -> str:
    """A rule's name in a shared counter: its id and its config, so that two processes' own
    rules (added at run time) under one id are never counted together."""
    return f"{e.id}:{e.config.model_dump_json(exclude_unset=True)}"


# --------------------------------------------------------------------------- the header


class FaultHeaderError(ValueError):
    """An ``x-stampede-fault`` header that names no fault the mock knows, or a bad value."""


_HEADER_KINDS = frozenset(FAULT_KINDS)


def parse_fault_header(value: str) -> Fault:
    """``<kind>[;param=value]...`` as the event it asks for: the params are the kind's fields
    in the config schema (``error;status=429;retry_after=3``, ``cut_stream;after_tokens=5``).
    """
    kind, *params = (part.strip() for part in value.split(";"))
    if kind not in _HEADER_KINDS:
        raise FaultHeaderError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    fields: dict[str, object] = {"kind": kind}
    if kind == "error":
        fields["status"] = 500
    for p in params:
        if not p:
            continue
        name, sep, raw = p.partition("=")
        if not sep:
            raise FaultHeaderError(f"expected param=value, got {p!r}")
        fields[name.strip()] = raw.strip()
    selecting = sorted(set(fields) & _SELECTION)
    if selecting:  # the header's request is the one selected: a selector would be ignored
        raise FaultHeaderError(
            f"{', '.join(selecting)}: a header fault strikes its own request; selection "
            "fields belong to rules (provider.faults, POST /_stampede/faults)"
        )
    try:
        cfg = FaultWindowConfig.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{path}: {msg}" for path, msg in format_errors(exc))
        raise FaultHeaderError(problems) from None
    return _event(cfg)


_SELECTION = frozenset(
    {"model", "key", "dialect", "path", "stream", "tools", "start", "end", "probability", "times"}
)
