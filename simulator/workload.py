"""Seeded arrival processes and prompt generators.

Why this module exists: a comparison of retry or fallback strategies is only fair if every
strategy faces *the same* traffic. :func:`build_workload` turns a :class:`WorkloadConfig`, a seed
and a duration into a fully materialised, immutable :class:`Workload`, so every strategy in a
scenario replays identical arrivals, users, features and token-exact prompts.

What callers may rely on:

- Same ``(cfg, seed, duration)`` gives an identical ``Workload`` (equal tuples), in any process.
  No clock and no global ``random`` are read.
- Each kind of draw has its own ``numpy`` stream (``default_rng([seed, STREAM])``), so e.g.
  changing the arrival rate changes *when* requests arrive but not the prompt, user or feature
  of the i-th one, and changing think times does not move anything else.
- ``seq`` is dense from 0 in arrival order (closed loop: in the order of the zero-service-time
  schedule). Open-loop arrivals lie in ``[0, duration)``; ``repeat`` copies follow their
  original 1 ms apart and may spill up to ``repeat - 1`` ms past it.
- ``input_tokens`` equals ``count_chat_tokens`` of ``messages`` exactly (OpenAI rules, the same
  counting the mock bills with). The drawn input-token count is the token size of the user
  message content; layouts add a system message on top.
- Users are drawn uniformly from ``prompts.users`` (no skew). In closed loop each sequence *is*
  one user: sequence ``u`` has ``user_id`` ``user-<u>``.

Prompt layouts (the article's prompt-caching advice; the mock caches whole-message prefixes):

- ``plain``: one user message.
- ``cache_friendly`` (GOOD): a stable system prompt of ``system_tokens`` tokens, byte-identical
  for every request, then the per-request user message.
- ``cache_busting`` (BAD): the same stable system prompt preceded by a per-request stamp, so the
  first message differs every time and never hits the cache.

Every user message starts with a request tag (``#000000042``), so distinct logical requests
never share a user message; ``repeat`` copies of one arrival share the whole prompt.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mock_provider.config import DistConfig
from mock_provider.dialects.openai.tokens import REPLY_PRIMING, TOKENS_PER_MESSAGE
from mock_provider.model.tokens import count_text, text_of_tokens
from simulator.config import MAX_PROMPT_TOKENS, ArrivalConfig, PromptConfig, WorkloadConfig

__all__ = [
    "LogicalRequest",
    "Workload",
    "build_workload",
    "describe",
    "laid_out",
    "requests_drawn",
]


@dataclass(frozen=True, slots=True)
class LogicalRequest:
    """What the application wanted once. Identical for every strategy under one seed."""

    seq: int  # unique, dense from 0, in arrival order
    at: float  # open loop: scenario seconds of arrival; closed loop: think time before it
    user_id: str
    feature: str
    prompt_version: str
    messages: tuple[tuple[str, str], ...]  # (role, content), token-exact text
    input_tokens: int  # OpenAI-rule prompt tokens of ``messages``
    max_tokens: int | None
    model: str  # the model the application asks for first


@dataclass(frozen=True, slots=True)
class Workload:
    open_loop: tuple[LogicalRequest, ...]  # sorted by ``at``
    closed_loop: tuple[tuple[LogicalRequest, ...], ...]  # one sequence per user

    @property
    def total(self) -> int:
        return len(self.open_loop) + sum(len(u) for u in self.closed_loop)


# Stream ids are part of the reproducibility contract: renumbering one changes every scenario.
_ARRIVALS = 1
_PROMPT_TOKENS = 2
_USERS = 3
_FEATURES = 4
_THINK = 5

REPEAT_GAP_S = 0.001  # spacing of the copies a ``repeat`` loop bug sends
TEXT_OFFSETS = 64  # distinct word rotations of generated text
_TAG_DIGITS = 9  # zero-padded to a fixed width: every 3-digit group is one cl100k token


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


# --------------------------------------------------------------------------- size


def requests_drawn(cfg: WorkloadConfig, duration: float) -> float:
    """About how many requests building ``cfg`` over ``duration`` draws: the expected
    arrivals of every phase (before ``max_requests`` keeps the earliest), times
    ``prompts.repeat``. A bound on what :func:`build_workload` allocates, computed without
    drawing: the rates the draws below use, integrated over ``[0, duration)``."""
    phases = cfg.arrivals if isinstance(cfg.arrivals, list) else [cfg.arrivals]
    return sum(_phase_drawn(a, duration) for a in phases) * cfg.prompts.repeat


def _phase_drawn(arr: ArrivalConfig, duration: float) -> float:
    kind = arr.kind
    if kind == "burst":
        return arr.n if arr.at < duration else 0.0
    if kind == "poisson":
        return arr.rate * duration
    if kind == "ramp":
        return (arr.start_rate + arr.end_rate) / 2 * duration
    if kind == "spike":
        window = max(0.0, min(arr.spike_end, duration) - arr.spike_start)
        return arr.rate * duration + arr.spike_rate * window
    if kind == "diurnal":  # thinning draws at the peak rate first
        return arr.rate * (1 + arr.amplitude) * duration
    # closed_loop: each user draws think times in chunks until they fill the duration
    mean = arr.think_time.median * math.exp(arr.think_time.spread**2 / 2)
    per_user = max(16.0, duration / mean * 1.2 + 8) if mean > 0 else arr.max_requests or 16
    return arr.users * per_user


# --------------------------------------------------------------------------- arrivals


def _homogeneous(rng: np.random.Generator, rate: float, start: float, end: float) -> np.ndarray:
    """A homogeneous Poisson process on [start, end): Poisson count, then uniform times."""
    if rate <= 0 or end <= start:
        return np.empty(0)
    n = int(rng.poisson(rate * (end - start)))
    return rng.uniform(start, end, n)


def _thinned(
    rng: np.random.Generator, peak: float, rate_at: Callable[[np.ndarray], np.ndarray], end: float
) -> np.ndarray:
    """Non-homogeneous Poisson on [0, end) by thinning a rate-``peak`` process."""
    t = _homogeneous(rng, peak, 0.0, end)
    keep = rng.uniform(0.0, peak, t.size) < rate_at(t)
    return t[keep]


def _ramp(rng: np.random.Generator, a: float, b: float, duration: float) -> np.ndarray:
    """Rate linear from ``a`` to ``b`` over [0, duration), by inverting the cumulative rate.

    Lambda(t) = a t + c t^2 with c = (b - a) / (2 duration). Solving Lambda(t) = y as
    ``2y / (a + sqrt(a^2 + 4cy))`` is stable for c of either sign and for c = 0.
    """
    if duration <= 0:
        return np.empty(0)
    total = (a + b) / 2 * duration
    if total <= 0:
        return np.empty(0)
    n = int(rng.poisson(total))
    y = rng.uniform(0.0, total, n)
    c = (b - a) / (2 * duration)
    denom = a + np.sqrt(np.maximum(a * a + 4 * c * y, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(denom > 0, 2 * y / denom, 0.0)
    return np.clip(t, 0.0, np.nextafter(duration, 0.0))


_PHASE_SEED = 7919


def _open_loop_times(arr: ArrivalConfig, seed: int, duration: float) -> np.ndarray:
    """Sorted arrival times in [0, duration), capped at ``max_requests``."""
    rng = _rng(seed, _ARRIVALS)
    kind = arr.kind
    if kind == "burst":
        t = np.full(arr.n, arr.at) if arr.at < duration else np.empty(0)
    elif kind == "poisson":
        t = _homogeneous(rng, arr.rate, 0.0, duration)
    elif kind == "ramp":
        t = _ramp(rng, arr.start_rate, arr.end_rate, duration)
    elif kind == "spike":
        base = _homogeneous(rng, arr.rate, 0.0, duration)
        extra = _homogeneous(rng, arr.spike_rate, arr.spike_start, min(arr.spike_end, duration))
        t = np.concatenate([base, extra])
    elif kind == "diurnal":
        omega = 2 * math.pi / arr.period if arr.period > 0 else 0.0
        amp, rate = arr.amplitude, arr.rate
        t = _thinned(
            rng, rate * (1 + amp), lambda x: rate * (1 + amp * np.sin(omega * x)), duration
        )
    else:  # pragma: no cover - closed_loop is handled by the caller
        raise ValueError(f"not an open-loop arrival kind: {kind}")
    t = np.sort(t, kind="stable")
    if arr.max_requests is not None:
        t = t[: arr.max_requests]
    return t


def _think_times(arr: ArrivalConfig, seed: int, duration: float) -> list[np.ndarray]:
    """Per user, the think times that fill ``duration`` at zero service time.

    A user keeps every request whose cumulative think time is below ``duration``; with
    ``max_requests`` only the earliest ``max_requests`` of all users' schedules are kept.
    """
    think = arr.think_time
    if think.median <= 0 and arr.max_requests is None:
        raise ValueError("closed_loop with a zero think time needs max_requests")
    mean = think.median * math.exp(think.spread**2 / 2)
    chunk = max(16, int(duration / mean * 1.2) + 8) if mean > 0 else arr.max_requests or 16
    per_user: list[np.ndarray] = []
    for u in range(arr.users):
        rng = _rng(seed, _THINK, u)  # one stream per user: adding users moves no one else
        gaps = np.empty(0)
        while True:
            gaps = np.concatenate([gaps, _lognormal(rng, think, chunk)])
            done = np.cumsum(gaps)
            if done[-1] >= duration or (mean <= 0 and gaps.size >= chunk):
                break
        per_user.append(gaps[: int(np.searchsorted(done, duration, side="left"))])
    if arr.max_requests is not None:
        starts = np.concatenate([np.cumsum(g) for g in per_user])
        owner = np.repeat(np.arange(arr.users), [g.size for g in per_user])
        kept = owner[np.argsort(starts, kind="stable")[: arr.max_requests]]
        counts = np.bincount(kept, minlength=arr.users)
        per_user = [g[:k] for g, k in zip(per_user, counts.tolist(), strict=True)]
    return per_user


def _lognormal(rng: np.random.Generator, dist: DistConfig, n: int) -> np.ndarray:
    """``median * exp(spread * Z)``: median stays the median, spread 0 is a constant."""
    return dist.median * np.exp(dist.spread * rng.standard_normal(n))


# --------------------------------------------------------------------------- prompts


def _tag(i: int) -> str:
    return f"#{i:09d}"


def _stamp(i: int) -> str:
    # The article's BAD layout: something that changes every request in front of the prompt.
    return f"Today's request number is {i:09d}."


# Nine zero-padded digits split into three 3-digit groups, each one cl100k token, and the
# last character cannot merge with the " word" that follows: so every tag (stamp) below
# 10**9 has the same token count, and a message's count is the sum of its parts.
MAX_PROMPTS = 10**9
_TAG_TOKENS = count_text(_tag(0))
_STAMP_TOKENS = count_text(_stamp(0))


class _TextSource:
    """Slices of one long generated text, equal to ``text_of_tokens(n, offset)``.

    ``text_of_tokens`` builds each (n, offset) string by joining words, and 100k distinct
    pairs overflow its cache; slicing one string at precomputed word boundaries is ~50x
    cheaper and gives the identical string (every word is one token with a leading space).
    """

    def __init__(self, max_tokens: int) -> None:
        self.text = text_of_tokens(max_tokens + TEXT_OFFSETS, 0)
        raw = np.frombuffer(self.text.encode("ascii"), dtype=np.uint8)
        starts = np.flatnonzero(raw == ord(" "))
        self.bounds: list[int] = [*starts.tolist(), len(self.text)]

    def get(self, n: int, offset: int) -> str:
        return self.text[self.bounds[offset] : self.bounds[offset + n]]


_ROLE_TOKENS = {r: count_text(r) for r in ("system", "user")}
_MSG = {r: TOKENS_PER_MESSAGE + t for r, t in _ROLE_TOKENS.items()}

Messages = tuple[tuple[str, str], ...]


class _PromptMaker:
    """Messages of prompt number ``k`` with ``size`` user-content tokens, and their count.

    The count is arithmetic (fixed overheads + ``size``), never an encode: encoding 100k
    distinct prompts would take seconds. Tests check it against ``count_chat_tokens``.
    """

    def __init__(self, p: PromptConfig, max_size: int) -> None:
        self.source = _TextSource(max_size)
        stable = text_of_tokens(p.system_tokens, 1) if p.system_tokens else ""
        layout = p.layout
        if layout == "cache_friendly" and not stable:
            layout = "plain"  # nothing stable to put first
        self.layout, self.stable, self.stable_msg = layout, stable, ("system", stable)
        self.base = REPLY_PRIMING + _MSG["user"]
        if layout != "plain":
            self.base += _MSG["system"] + p.system_tokens
        if layout == "cache_busting":
            self.base += _STAMP_TOKENS

    def make(self, k: int, size: int) -> tuple[Messages, int]:
        if k >= MAX_PROMPTS:
            raise ValueError(f"prompt numbers stop at {MAX_PROMPTS:,}")
        if size > _TAG_TOKENS:
            content = _tag(k) + self.source.get(size - _TAG_TOKENS, k % TEXT_OFFSETS)
        else:  # too small for a tag: plain text of exactly ``size`` tokens
            content = self.source.get(size, k % TEXT_OFFSETS)
        if self.layout == "plain":
            return (("user", content),), self.base + size
        if self.layout == "cache_friendly":
            return (self.stable_msg, ("user", content)), self.base + size
        return (("system", _stamp(k) + self.stable), ("user", content)), self.base + size


def _build_requests(
    cfg: WorkloadConfig, seed: int, at: list[float], user_ids: list[str]
) -> list[LogicalRequest]:
    """Request ``k`` (seq and prompt number) for each ``at[k]``, in order."""
    p: PromptConfig = cfg.prompts
    n = len(at)
    # Each draw is one value per request from its own stream, so request k's prompt does not
    # depend on how many requests there are or when they arrive.
    drawn = np.rint(_lognormal(_rng(seed, _PROMPT_TOKENS), p.input_tokens, n))
    tokens = np.clip(drawn, 1, MAX_PROMPT_TOKENS)
    tok = tokens.astype(np.int64).tolist()
    feats = _rng(seed, _FEATURES).integers(0, len(p.features), n).tolist()
    features = [p.features[f] for f in feats]
    make = _PromptMaker(p, max(tok, default=1)).make
    version, max_tokens, model = p.prompt_version, p.max_tokens, cfg.model
    out: list[LogicalRequest] = []
    for k in range(n):
        messages, input_tokens = make(k, tok[k])
        out.append(
            LogicalRequest(
                k,
                at[k],
                user_ids[k],
                features[k],
                version,
                messages,
                input_tokens,
                max_tokens,
                model,
            )
        )
    return out


def _repeat_open(reqs: list[LogicalRequest], repeat: int) -> tuple[LogicalRequest, ...]:
    """Each request becomes ``repeat`` copies 1 ms apart, re-sorted and re-numbered."""
    if repeat == 1:
        return tuple(reqs)
    at = np.repeat([r.at for r in reqs], repeat) + np.tile(
        np.arange(repeat) * REPEAT_GAP_S, len(reqs)
    )
    src = np.repeat(np.arange(len(reqs)), repeat)
    order = np.argsort(at, kind="stable")
    return tuple(
        _replace(reqs[s], seq, t)
        for seq, (s, t) in enumerate(zip(src[order].tolist(), at[order].tolist(), strict=True))
    )


def _replace(r: LogicalRequest, seq: int, at: float) -> LogicalRequest:
    return LogicalRequest(
        seq, at, r.user_id, r.feature, r.prompt_version, r.messages, r.input_tokens,
        r.max_tokens, r.model,
    )  # fmt: skip


# --------------------------------------------------------------------------- public


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Speed trick: building 100k+ small acyclic objects triggers repeated full collections
    # that scan everything built so far (about half the build time). Nothing here forms
    # cycles, so pausing the collector loses nothing; its previous state is restored.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def laid_out(cfg: WorkloadConfig, layout: str | None) -> WorkloadConfig:
    """``cfg`` with the prompts laid out as ``layout`` (a strategy's ``prompt_layout``); the
    same config when None. Arrivals, users and user messages do not depend on the layout."""
    if layout is None or layout == cfg.prompts.layout:
        return cfg
    prompts = cfg.prompts.model_copy(update={"layout": layout})
    return cfg.model_copy(update={"prompts": prompts})


def build_workload(cfg: WorkloadConfig, seed: int, duration: float) -> Workload:
    """Materialise the logical requests of one scenario run (see the module docstring)."""
    with _gc_paused():
        return _build(cfg, seed, duration)


def _build(cfg: WorkloadConfig, seed: int, duration: float) -> Workload:
    repeat = cfg.prompts.repeat
    phases = cfg.arrivals if isinstance(cfg.arrivals, list) else [cfg.arrivals]
    for arr in phases:
        if arr.kind == "burst" and arr.n and arr.at >= duration:
            raise ValueError(f"burst at {arr.at} s is not inside the run's duration {duration} s")
    if len(phases) > 1 and any(a.kind == "closed_loop" for a in phases):
        raise ValueError("closed_loop arrivals cannot be combined with other arrival phases")
    arr = phases[0]
    if arr.kind != "closed_loop":
        # Phases overlay: each draws from its own stream, so adding one shifts no other.
        parts = [
            _open_loop_times(a, seed + _PHASE_SEED * i, duration) for i, a in enumerate(phases)
        ]
        times = np.sort(np.concatenate(parts), kind="stable").tolist()
        users = _rng(seed, _USERS).integers(0, cfg.prompts.users, len(times)).tolist()
        reqs = _build_requests(cfg, seed, times, [f"user-{u}" for u in users])
        return Workload(open_loop=_repeat_open(reqs, repeat), closed_loop=())

    per_user = _think_times(arr, seed, duration)
    # Number prompts and seqs in the order of the zero-service-time schedule.
    starts = np.concatenate([np.cumsum(g) for g in per_user]) if per_user else np.empty(0)
    owner = np.repeat(np.arange(arr.users), [g.size for g in per_user])
    order = np.argsort(starts, kind="stable")
    flat_think = np.concatenate(per_user)[order].tolist() if per_user else []
    flat_owner = owner[order].tolist()
    reqs = _build_requests(cfg, seed, flat_think, [f"user-{u}" for u in flat_owner])
    seqs: list[list[LogicalRequest]] = [[] for _ in range(arr.users)]
    seq = 0
    for u, r in zip(flat_owner, reqs, strict=True):
        for j in range(repeat):  # copies follow at once: 1 ms of think time each
            seqs[u].append(_replace(r, seq, r.at if j == 0 else REPEAT_GAP_S))
            seq += 1
    return Workload(open_loop=(), closed_loop=tuple(tuple(s) for s in seqs))


def describe(workload: Workload) -> str:
    """A one-line summary for progress output: count, span and mean rate."""
    parts = [f"{workload.total:,} logical requests"]
    if workload.open_loop:
        first, last = workload.open_loop[0].at, workload.open_loop[-1].at
        span = last - first
        rate = f"{len(workload.open_loop) / span:,.1f}/s" if span > 0 else "all at once"
        parts.append(f"open loop {first:.1f}-{last:.1f} s ({rate})")
    if workload.closed_loop:
        users = len(workload.closed_loop)
        horizon = max((sum(r.at for r in s) for s in workload.closed_loop), default=0.0)
        parts.append(f"closed loop, {users} users over ~{horizon:.1f} s of think time")
    return ", ".join(parts)
