"""The article's production checklist, as a lint of one client config.

Theory of operation
-------------------
Each item of the checklist is one rule: a pure function of a :class:`ClientConfig` returning an
:class:`Item` that passes, warns or fails, with the reason and the config field to change.

The retry items do not read the config's kind and look it up in a table of what each library
does: they *ask the client brain*. A probe runs one logical request of the real
:class:`~simulator.client.engine.ClientBrain` against scripted outcomes (h11's fake link): a
run of 429s to see the waits between attempts, a 429 with a Retry-After to see whether the
wait follows it, and a 400, 401, 403 or 404 to see whether another attempt follows. So a
library model and its lint cannot drift apart, and a config the table never thought of (an
idealised kind told to retry 400s, a total timeout that caps a Retry-After) is judged by what
it does.

Levels: *fail* is a checklist item missing in a way that loses requests, money or users in
production (``stampede check`` exits 1); *warn* is an item done partly, or one that depends on
the application (streaming matters for user-facing features only); *pass* says how it is met.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from mock_provider.config import ProviderConfig
from mock_provider.model.catalog import ModelSpec, build_catalog
from simulator.client.engine import ClientBrain, Responder, respond, run_scripted
from simulator.client.events import Send
from simulator.config import LIBRARY_RETRY_KINDS, RETRY_FIELDS, ClientConfig
from simulator.workload import LogicalRequest

__all__ = [
    "CHECKLIST",
    "CLIENT_ERRORS",
    "Item",
    "Level",
    "lint_client",
    "probe_waits",
]

Level = Literal["pass", "warn", "fail"]
CLIENT_ERRORS = (400, 401, 403, 404)  # never succeed on a retry (the article)
SDK_TIMEOUT_S = 600.0  # the openai and anthropic SDKs' default timeout
PROBE_MODEL = "gpt-4o"
# Two Retry-After values, each longer than the first backoff of every library default: a
# client that honours them waits each; one whose own backoff happens to be long waits the same
# for both.
PROBE_RETRY_AFTERS_S = (3.0, 11.0)
LONG_RETRY_AFTER_S = 3600.0  # a Retry-After nobody should wait for a user
_PROBES = 12  # logical requests probed for the waits (different draws each)
_CATALOG: dict[str, ModelSpec] = build_catalog(ProviderConfig())


@dataclass(frozen=True, slots=True)
class Item:
    """One checklist item's finding for one client."""

    key: str
    title: str
    level: Level
    reason: str
    field: str  # the config field to change ("" when it passes and nothing needs changing)


# --------------------------------------------------------------------------- probes


def _request(seq: int) -> LogicalRequest:
    return LogicalRequest(
        seq, 0.0, "user-0", "chat", "v1", (("user", "hi"),), 100, 256, PROBE_MODEL
    )


def _run(cfg: ClientConfig, script: Sequence[Responder], seq: int = 0) -> list[Send]:
    """The attempts one logical request makes against ``script`` (then 200s)."""
    brain = ClientBrain(cfg, _CATALOG, random.Random(f"check:{seq}"))
    replies = [*script, *([respond(200, latency_s=0.5)] * 50)]
    _, events = run_scripted(brain.request(_request(seq), 0.0), replies)
    return [e for e in events if isinstance(e, Send)]


def _alone(cfg: ClientConfig) -> ClientConfig:
    """The retry policy on its own: no fallback model to move to, no deadline to stop it."""
    timeouts = cfg.timeouts.model_copy(update={"total_s": 10 * LONG_RETRY_AFTER_S})
    return cfg.model_copy(update={"fallback": [], "timeouts": timeouts})


def probe_waits(cfg: ClientConfig, failures: int = 6, seq: int = 0) -> list[float]:
    """Seconds waited before each retry of one request that meets ``failures`` 429s in a row
    (no Retry-After) on a model with no fallback."""
    sends = _run(_alone(cfg), [respond(429, latency_s=0.1)] * failures, seq)
    return [s.slept_s for s in sends[1:]]


# --------------------------------------------------------------------------- the rules


def _backoff(cfg: ClientConfig) -> Item:
    title = "retries with exponential backoff and jitter"
    runs = [probe_waits(cfg, seq=i) for i in range(_PROBES)]
    if not runs[0]:
        return Item(
            "backoff", title, "warn", "no retries: every 429 or 5xx fails its request", "retry.kind"
        )
    if max(max(r) for r in runs) == 0:
        return Item(
            "backoff",
            title,
            "fail",
            "retries at once: every rejected client comes straight back, in a herd",
            "retry.kind (full_jitter, decorrelated_jitter)",
        )
    depth = min(len(r) for r in runs)
    by_retry = [[r[k] for r in runs] for k in range(depth)]
    grows = depth > 1 and statistics.mean(by_retry[-1]) >= 1.5 * statistics.mean(by_retry[0])
    # jitter: some retry's wait differs between requests (tenacity's first one does not)
    jitter = any(max(w) - min(w) > 0.01 * statistics.mean(w) for w in by_retry if max(w) > 0)
    shape = ", ".join(f"{w:.2f}" for w in runs[0][:4])
    if not jitter:
        what = "exponential backoff" if grows else "a fixed wait"
        return Item(
            "backoff",
            title,
            "fail",
            f"{what} without jitter (waits {shape} s): clients rejected together retry "
            "together, in waves",
            "retry.kind (full_jitter, decorrelated_jitter)",
        )
    if depth == 1:
        return Item(
            "backoff",
            title,
            "warn",
            f"one retry only, jittered ({shape} s): a burst longer than one wait fails",
            "retry.max_attempts",
        )
    if not grows:
        return Item(
            "backoff",
            title,
            "fail",
            f"jittered but not growing (waits {shape} s): a long overload is hit at "
            "the same rate throughout",
            "retry.kind (full_jitter)",
        )
    return Item(
        "backoff", title, "pass", f"jittered waits that grow with each attempt (e.g. {shape} s)", ""
    )


def _retry_after(cfg: ClientConfig) -> Item:
    title = "Retry-After honoured, with a cap"
    alone = _alone(cfg)
    waits = {}
    for told in PROBE_RETRY_AFTERS_S:
        sends = _run(alone, [respond(429, retry_after_s=told, latency_s=0.1)])
        if len(sends) < 2:
            return Item("retry_after", title, "pass", "no retries: nothing to wait for", "")
        waits[told] = sends[1].slept_s
    field = "retry.honor_retry_after" if "honor_retry_after" in _fields(cfg) else "retry.kind"
    ignored = [told for told, waited in waits.items() if waited < told - 1e-6]
    if not ignored and len(set(waits.values())) == 1:  # a long backoff of its own, not the header
        ignored = [PROBE_RETRY_AFTERS_S[0]]
    if ignored:
        told = ignored[0]
        if waits[told] < told:
            what = (
                f"told to wait {told:g} s it came back after {waits[told]:.2f} s, into a "
                "limit that will refuse it again"
            )
        else:
            what = f"it waits {waits[told]:.2f} s whatever the header says"
        return Item("retry_after", title, "fail", f"ignores Retry-After: {what}", field)
    capped = cfg.model_copy(update={"fallback": []})  # its own deadline may be the cap
    long = _run(capped, [respond(429, retry_after_s=LONG_RETRY_AFTER_S, latency_s=0.1)])
    if len(long) >= 2 and long[1].slept_s >= LONG_RETRY_AFTER_S - 1e-6:
        cap = (
            "retry.max_retry_after_s" if field == "retry.honor_retry_after" else "timeouts.total_s"
        )
        return Item(
            "retry_after",
            title,
            "warn",
            f"honoured without a cap: told to wait {LONG_RETRY_AFTER_S:g} s it waits "
            "that long, holding its user",
            cap,
        )
    shown = " and ".join(f"{t:g}" for t in PROBE_RETRY_AFTERS_S)
    return Item(
        "retry_after",
        title,
        "pass",
        f"waits a Retry-After of {shown} s; does not wait one of {LONG_RETRY_AFTER_S:g} s",
        "",
    )


def _client_errors(cfg: ClientConfig) -> Item:
    title = "400, 401, 403 and 404 never retried"
    retried = [s for s in CLIENT_ERRORS if len(_run(cfg, [respond(s, latency_s=0.1)])) > 1]
    if not retried:
        return Item(
            "client_errors", title, "pass", "one attempt on each: they never succeed on a retry", ""
        )
    library = cfg.retry.kind in LIBRARY_RETRY_KINDS
    field = "retry.kind (this library retries every error)" if library else "retry.retry_on"
    if not library and cfg.fallback:
        field = "fallback_on"
    return Item(
        "client_errors",
        title,
        "fail",
        f"retries {', '.join(map(str, retried))}: each retry costs a call and a wait, "
        "and can never succeed",
        field,
    )


def _token_limit(cfg: ClientConfig) -> Item:
    title = "a per-request token limit"
    g = cfg.guards
    if g.max_input_tokens and g.max_output_tokens:
        return Item(
            "token_limit",
            title,
            "pass",
            f"input up to {g.max_input_tokens:,} tokens, output up to {g.max_output_tokens:,}",
            "",
        )
    if g.max_input_tokens or g.max_output_tokens:
        missing = "max_output_tokens" if g.max_input_tokens else "max_input_tokens"
        return Item(
            "token_limit",
            title,
            "warn",
            f"only one side limited: no {missing}",
            f"guards.{missing}",
        )
    return Item(
        "token_limit",
        title,
        "fail",
        "no limit: one oversized prompt costs what it likes and drains the TPM limit for everyone",
        "guards.max_input_tokens, guards.max_output_tokens",
    )


def _fallback(cfg: ClientConfig) -> Item:
    title = "a fallback model"
    if not cfg.fallback:
        return Item(
            "fallback",
            title,
            "fail",
            "none: an outage of the one model is an outage of the feature",
            "fallback",
        )
    if not cfg.fallback_on:
        return Item(
            "fallback",
            title,
            "fail",
            f"{', '.join(cfg.fallback)} listed, but fallback_on is empty: never used",
            "fallback_on",
        )
    return Item(
        "fallback",
        title,
        "pass",
        f"{' -> '.join(cfg.fallback)} on {', '.join(cfg.fallback_on)}",
        "",
    )


def _budgets(cfg: ClientConfig) -> Item:
    title = "per-user or per-feature budgets"
    g = cfg.guards
    set_ = [
        f"{who} ${v:g}/day"
        for who, v in (("user", g.user_daily_budget_usd), ("feature", g.feature_daily_budget_usd))
        if v
    ]
    if set_:
        return Item("budgets", title, "pass", ", ".join(set_), "")
    return Item(
        "budgets",
        title,
        "fail",
        "none: a loop bug spends at full speed until someone notices",
        "guards.user_daily_budget_usd",
    )


def _timeouts(cfg: ClientConfig) -> Item:
    title = "client timeouts set (not the SDKs' 600 s)"
    t = cfg.timeouts
    if "timeouts" not in cfg.model_fields_set and not cfg.preset:
        return Item(
            "timeouts",
            title,
            "fail",
            f"not set: an attempt may hang {t.read_s:g} s and a request {t.total_s:g} s",
            "timeouts.read_s, timeouts.total_s",
        )
    if t.read_s >= SDK_TIMEOUT_S:
        return Item(
            "timeouts",
            title,
            "fail",
            f"read timeout {t.read_s:g} s: a hung attempt holds its user {t.read_s / 60:g} minutes",
            "timeouts.read_s",
        )
    if t.total_s >= SDK_TIMEOUT_S:
        return Item(
            "timeouts",
            title,
            "warn",
            f"read {t.read_s:g} s, but no deadline for the whole request (retries and "
            "waits included)",
            "timeouts.total_s",
        )
    return Item(
        "timeouts",
        title,
        "pass",
        f"read {t.read_s:g} s, connect {t.connect_s:g} s, whole request {t.total_s:g} s",
        "",
    )


def _streaming(cfg: ClientConfig) -> Item:
    title = "streaming on for user-facing features"
    if cfg.stream:
        return Item("streaming", title, "pass", "streams: the first token shows at once", "")
    return Item(
        "streaming",
        title,
        "warn",
        "off: fine for batch work, but a user waits for the whole answer",
        "stream",
    )


def _fields(cfg: ClientConfig) -> set[str]:
    return set(RETRY_FIELDS[cfg.retry.kind].used)


CHECKLIST: tuple[Callable[[ClientConfig], Item], ...] = (
    _backoff,
    _retry_after,
    _client_errors,
    _token_limit,
    _fallback,
    _budgets,
    _timeouts,
    _streaming,
)


def lint_client(cfg: ClientConfig) -> list[Item]:
    """Every checklist item for ``cfg``, in the checklist's order."""
    return [rule(cfg) for rule in CHECKLIST]
