"""The provider brain: given a parsed request and ``now``, decide what the service does.

Sans-I/O: no aiohttp, no clock, no global random. The HTTP face calls :meth:`Provider.chat`
(or :meth:`Provider.embed`) with scenario time and renders the :class:`Decision` in its
dialect; when the response is finished (or cut) it calls :meth:`Provider.settle`. Order of
checks, as a real provider does them: authentication, model lookup, context window, faults,
then rate limits.

Per-request values (ChatRequest, RateLimitView, Ticket, Completion) are NamedTuples, not frozen
dataclasses: just as immutable, and about four times cheaper to build on the mock's hot path.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from simulator.config import ProviderConfig

from .cache import PromptCache
from .catalog import DEFAULT_CATALOG, Dist, LatencyProfile, ModelSpec
from .faults import FaultSchedule
from .latency import RequestRandom, TimingPlan, draw_plan, instant_plan
from .limits import Admitted, Limited, LimitState
from .tokens import count_text, token_pieces

__all__ = [
    "ChatRequest",
    "Completion",
    "Decision",
    "EmbedRequest",
    "Embedding",
    "Provider",
    "RateLimitView",
    "Rejection",
    "build_catalog",
]


class ChatRequest(NamedTuple):
    api_key: str | None
    model: str
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None
    stream: bool = False


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    api_key: str | None
    model: str
    inputs: Sequence[str]


class RateLimitView(NamedTuple):
    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """An error response. ``kind`` is dialect-neutral; the dialect picks wording and codes."""

    status: int
    kind: str  # auth | model_not_found | context_length | rate_limit | server_error
    message_args: Mapping[str, Any]
    ratelimit: RateLimitView | None
    retry_after_s: float | None = None
    limited: Limited | None = None


class Ticket(NamedTuple):
    key: tuple[str, str]
    charged: int
    input_tokens: int


class Completion(NamedTuple):
    request_id: str
    model: ModelSpec
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    finish_reason: str
    pieces: tuple[str, ...]  # the output, one string per token
    plan: TimingPlan
    ratelimit: RateLimitView
    ticket: Ticket

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True, slots=True)
class Embedding:
    request_id: str
    model: ModelSpec
    input_tokens: int
    vectors: np.ndarray  # float32, shape (len(inputs), dims)
    plan: TimingPlan
    ratelimit: RateLimitView
    ticket: Ticket


Decision = Completion | Rejection


def _dist(cfg: Any, default: Dist) -> Dist:
    return default if cfg is None else Dist(cfg.median, cfg.spread)


def build_catalog(cfg: ProviderConfig) -> dict[str, ModelSpec]:
    """The default catalogue with the config's per-model overrides applied."""
    out = dict(DEFAULT_CATALOG)
    for name, m in cfg.models.items():
        base = out.get(name) or ModelSpec(name, m.dialect or "openai", 128_000, 1.0, 0.5, 4.0)
        fields: dict[str, Any] = {
            k: v
            for k, v in m.model_dump(exclude={"latency", "rpm", "tpm", "max_in_flight"}).items()
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


class Provider:
    """The mock service's decisions; one instance per server, reset between strategy runs."""

    def __init__(self, cfg: ProviderConfig, now: float = 0.0) -> None:
        self.cfg = cfg
        self.catalog = build_catalog(cfg)
        self.faults = FaultSchedule.from_config(cfg.faults)
        self._keys = frozenset(cfg.api_keys)
        # Per-config constants of the chat hot path, worked out once.
        self._id_prefix = f"req_{cfg.seed:x}"
        d = cfg.output_tokens
        self._fixed_output = None if d.spread > 0 else max(1, round(d.median))
        self._instant = frozenset(n for n, m in self.catalog.items() if m.latency.is_instant)
        self.reset(now)

    def reset(self, now: float) -> None:
        self.epoch = now
        self._limits: dict[tuple[str, str], LimitState] = {}
        self._caches: dict[str, PromptCache] = {}
        self._seq = 0

    # -- checks ----------------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Rejection | None:
        if not api_key or (self._keys and api_key not in self._keys):
            return Rejection(401, "auth", {"key": api_key or ""}, None)
        return None

    def _limits_for(self, key: str, spec: ModelSpec, now: float) -> LimitState:
        state = self._limits.get((key, spec.name))
        if state is None:
            m = self.cfg.models.get(spec.name)
            rpm = (m.rpm if m and m.rpm else None) or self.cfg.default_rpm
            tpm = (m.tpm if m and m.tpm else None) or self.cfg.default_tpm
            state = LimitState(rpm, tpm, now, m.max_in_flight if m else None)
            self._limits[(key, spec.name)] = state
        return state

    def view(self, api_key: str | None, model: str, now: float) -> RateLimitView | None:
        """The rate-limit headers' values for a key and model, when both are known."""
        spec = self.catalog.get(model)
        if not api_key or spec is None:
            return None
        state = self._limits_for(api_key, spec, now)
        rr, rt, sr, st = state.snapshot(now)
        return RateLimitView(state.rpm, state.tpm, rr, rt, sr, st)

    def _next_rng(self) -> tuple[str, RequestRandom]:
        seq = self._seq
        self._seq += 1
        return self._id_prefix + format(seq, "010x"), RequestRandom(self.cfg.seed, seq)

    # -- chat ------------------------------------------------------------------------------

    def chat(self, req: ChatRequest, now: float, input_tokens: int) -> Decision:
        """Decide one chat completion. ``input_tokens`` is counted by the dialect's rules."""
        key = req.api_key
        if not key or (self._keys and key not in self._keys):  # authenticate(), inline
            return Rejection(401, "auth", {"key": key or ""}, None)
        spec = self.catalog.get(req.model)
        if spec is None or spec.kind != "chat":
            return Rejection(404, "model_not_found", {"model": req.model}, None)
        state = self._limits.get((key, spec.name)) or self._limits_for(key, spec, now)
        wanted = req.max_tokens or 0
        if input_tokens + wanted > spec.context_window:
            return Rejection(
                400,
                "context_length",
                {
                    "limit": spec.context_window,
                    "input": input_tokens,
                    "output": wanted,
                    "total": input_tokens + wanted,
                },
                self._view(state, now),
            )
        seq = self._seq  # self._next_rng(), inline
        self._seq = seq + 1
        request_id = self._id_prefix + format(seq, "010x")
        rng = RequestRandom(self.cfg.seed, seq)
        if self.faults.rules:
            fault = self.faults.decide(spec.name, now - self.epoch, rng)
            if fault is not None:
                return Rejection(fault.status, "server_error", {"reason": fault.reason}, None)
        estimate = input_tokens + (req.max_tokens or self.cfg.default_max_tokens)
        verdict = state.admit(estimate, now)
        if isinstance(verdict, Limited):
            return Rejection(
                429,
                "rate_limit",
                {"model": spec.name},
                RateLimitView(
                    state.rpm,
                    state.tpm,
                    verdict.remaining_requests,
                    verdict.remaining_tokens,
                    verdict.reset_requests_s,
                    verdict.reset_tokens_s,
                ),
                verdict.retry_after_s,
                verdict,
            )
        return self._complete(req, spec, state, verdict, input_tokens, request_id, rng, now)

    def _complete(
        self,
        req: ChatRequest,
        spec: ModelSpec,
        state: LimitState,
        admitted: Admitted,
        input_tokens: int,
        request_id: str,
        rng: RequestRandom,
        now: float,
    ) -> Completion:
        cached = 0
        if input_tokens >= self.cfg.cache_min_tokens:  # shorter prompts can never hit
            cached = self._cache(spec.name).lookup(_prefix_keys(req.messages), now)
            cached = min(cached, input_tokens)
        natural = self._fixed_output
        if natural is None:
            d = self.cfg.output_tokens
            natural = max(1, round(d.median * math.exp(d.spread * rng.gen.standard_normal())))
        cap = spec.max_output_tokens
        if req.max_tokens and req.max_tokens < cap:
            cap = req.max_tokens
        output = min(natural, cap)
        finish = "length" if natural > cap else "stop"
        if spec.name in self._instant:
            plan = instant_plan(output)
        else:
            plan = draw_plan(spec.latency, input_tokens - cached, output, rng)
        view = RateLimitView(
            state.rpm,
            state.tpm,
            admitted.remaining_requests,
            admitted.remaining_tokens,
            admitted.reset_requests_s,
            admitted.reset_tokens_s,
        )
        ticket = Ticket((req.api_key or "", spec.name), admitted.ticket_tokens, input_tokens)
        pieces = token_pieces(output, self._seq % 64)
        return Completion(
            request_id, spec, input_tokens, cached, output, finish, pieces, plan, view, ticket
        )

    def _cache(self, model: str) -> PromptCache:
        cache = self._caches.get(model)
        if cache is None:
            cache = self._caches[model] = PromptCache(
                self.cfg.cache_ttl_s, self.cfg.cache_min_tokens
            )
        return cache

    def settle(self, ticket: Ticket, output_tokens: int, now: float) -> None:
        """Correct the TPM charge to what was actually used (a cut stream used less)."""
        state = self._limits.get(ticket.key)
        if state is not None:
            state.settle(ticket.charged, ticket.input_tokens + output_tokens, now)

    # -- embeddings ------------------------------------------------------------------------

    def embed(
        self, req: EmbedRequest, now: float, dims: int | None = None
    ) -> Embedding | Rejection:
        rejected = self.authenticate(req.api_key)
        if rejected:
            return rejected
        assert req.api_key is not None
        spec = self.catalog.get(req.model)
        if spec is None or spec.kind != "embedding":
            return Rejection(404, "model_not_found", {"model": req.model}, None)
        state = self._limits_for(req.api_key, spec, now)
        counts = [count_text(text) for text in req.inputs]
        if max(counts, default=0) > spec.context_window:
            return Rejection(
                400,
                "context_length",
                {
                    "limit": spec.context_window,
                    "input": max(counts),
                    "output": 0,
                    "total": max(counts),
                },
                self._view(state, now),
            )
        request_id, rng = self._next_rng()
        fault = self.faults.decide(spec.name, now - self.epoch, rng)
        if fault is not None:
            return Rejection(fault.status, "server_error", {"reason": fault.reason}, None)
        total = sum(counts)
        verdict = state.admit(total, now)
        if isinstance(verdict, Limited):
            return Rejection(
                429,
                "rate_limit",
                {"model": spec.name},
                self._view(state, now),
                verdict.retry_after_s,
                verdict,
            )
        n_dims = dims or spec.embedding_dims
        vectors = _embed_vectors(req.inputs, n_dims)
        plan = draw_plan(spec.latency, total, 0, rng)
        view = RateLimitView(
            state.rpm,
            state.tpm,
            verdict.remaining_requests,
            verdict.remaining_tokens,
            verdict.reset_requests_s,
            verdict.reset_tokens_s,
        )
        ticket = Ticket((req.api_key, spec.name), verdict.ticket_tokens, total)
        return Embedding(request_id, spec, total, vectors, plan, view, ticket)

    @staticmethod
    def _view(state: LimitState, now: float) -> RateLimitView:
        rr, rt, sr, st = state.snapshot(now)
        return RateLimitView(state.rpm, state.tpm, rr, rt, sr, st)


def _prefix_keys(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(hash of messages[:i+1], prompt tokens of messages[:i+1]) for each prefix."""
    out = []
    key = 0
    tokens = 3  # reply priming, as in count_chat_tokens
    for m in messages:
        content = m.get("content")
        text = content if isinstance(content, str) else repr(content)
        role = str(m.get("role", ""))
        key = hash((key, role, text))
        tokens += 3 + count_text(role) + count_text(text)
        out.append((key, tokens))
    return out


def _embed_vectors(inputs: Sequence[str], dims: int) -> np.ndarray:
    """Deterministic unit vectors: the same text always embeds the same way."""
    out = np.empty((len(inputs), dims), dtype=np.float32)
    for i, text in enumerate(inputs):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
        out[i] = v / np.linalg.norm(v)
    return out
