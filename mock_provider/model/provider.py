"""The provider brain: given a parsed request and ``now``, decide what the service does.

Sans-I/O: no aiohttp, no clock, no global random. The HTTP face calls :meth:`Provider.chat`
(or :meth:`Provider.embed`) with scenario time and renders the :class:`Decision` in its
dialect; when the response is finished (or cut) it calls :meth:`Provider.settle`. Order of
checks, as a real provider does them: authentication, model lookup, output cap and context
window, faults, then rate limits. One pipeline serves every provider family: what differs
(limit scheme, cache, overload status, the waits a refusal tells) is read from the model's
:class:`~.family.ProviderFamily` record, never from a dialect's name.

Every refusal takes time too: a real 429 or 503 comes back after a network round trip, not
at once. A :class:`Rejection` carries ``latency_s``, the model's network time drawn from the
request's own generator (a 429, a fault), or its median for refusals made before the request
is numbered (context window; a key or a model that is refused before any model is known uses
:data:`~.latency.REFUSAL_NETWORK_S`). Numbering those would renumber every later request.

Per-request values (Completion, Rejection, Ticket, and the limits' RateLimitView and Limited)
are frozen ``msgspec.Struct`` classes: as immutable as frozen dataclasses, built in C at about
half a NamedTuple's cost, and their fields are read like slots (a NamedTuple's through a
descriptor call). ``gc=False``: they hold no cycles, so the collector need not track them.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from mock_provider.config import FaultWindowConfig, ProviderConfig

from .cache import NO_CACHE_USE, BreakpointCache, PromptCache
from .catalog import ModelSpec, build_catalog, limits_for
from .family import ProviderFamily, family_of
from .faults import ErrorFault, Fault, FaultSchedule, FaultTarget, SlowFault, StrikeCounter
from .ids import BLOCK, SHIFT, IdStream
from .latency import (
    REFUSAL_NETWORK_S,
    TimingPlan,
    draw_network,
    draw_plan,
    instant_plan,
    make_plan,
)
from .limits import InProcessLimits, Limited, LimitState, LimitStore, RateLimitView, SplitLimits
from .load import ModelLoad
from .memo import fill
from .outputs import Choice, OutputSpec, shape
from .published import retired_names
from .randomness import RequestRandom
from .tokens import count_text, text_of_ids, token_pieces
from .vocabulary import END, MAX_TOKENS, FinishReason, RejectionKind

__all__ = [
    "ChatRequest",
    "Choice",
    "Completion",
    "Decision",
    "EmbedRequest",
    "Embedding",
    "OutputSpec",
    "Provider",
    "RateLimitView",
    "Rejection",
    "build_catalog",
    "injected_rejection",
]


# The dialect's own messages, and how it cuts them into cacheable prefixes (see .cache):
# (key, cumulative prompt tokens) pairs for automatic caching, (key, cumulative prompt tokens,
# breakpoint ttl_s) triples for explicit caching. The brain never looks inside the messages.
PrefixesOf = Callable[[Any], Sequence[Any]]


def _no_prefixes(messages: Any) -> Sequence[Any]:
    return ()


class ChatRequest(msgspec.Struct, frozen=True, gc=False):
    """One chat request as the brain sees it, whatever the wire format.

    ``input_tokens`` is counted by the dialect's own rules. ``messages`` are the dialect's;
    the brain reads them only through ``prefixes_of``, and only when the prompt is long
    enough to hit the prompt cache. ``output`` is None for one plain-text answer, the common
    case, which never touches :mod:`.outputs`.
    """

    api_key: str | None
    model: str
    input_tokens: int
    max_tokens: int | None = None
    stream: bool = False
    messages: Any = ()
    prefixes_of: PrefixesOf = _no_prefixes
    dialect: str = "openai"  # the wire format it came in: a model answers only in its own
    # What fault rules may select it by, and a fault it asked for itself (the
    # ``x-stampede-fault`` header): see .faults.
    route: str | None = None  # the dialect's own name ("openai_responses", ...)
    path: str | None = None
    tools: bool = False
    fault: Fault | None = None
    output: OutputSpec | None = None


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """Texts to embed; an input may also be given as its tokens (a list of token ids)."""

    api_key: str | None
    model: str
    inputs: Sequence[str | Sequence[int]]


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """An error response. ``kind`` is dialect-neutral; the dialect picks wording and codes.

    ``latency_s``: scenario seconds before it is sent (see the module docstring).
    ``retry_after_s`` is the wait the refusal tells, counted from when the client *receives*
    it; None when it tells none (see :func:`_rate_limited`).
    """

    status: int
    kind: RejectionKind
    message_args: Mapping[str, Any]
    ratelimit: RateLimitView | None
    retry_after_s: float | None = None
    limited: Limited | None = None
    latency_s: float = 0.0
    fault: str | None = None  # the kind of the fault that made it, if one did


class Ticket(msgspec.Struct, frozen=True, gc=False):
    """What :meth:`Provider.settle` needs: the limits charged (not their key, so settling
    costs no lookup; a ticket from before a reset settles the old, discarded limits)."""

    limits: LimitState | SplitLimits
    charged: int
    input_tokens: int
    load: ModelLoad | None = None  # the model's requests in flight, when it has a load curve


class Completion(msgspec.Struct, frozen=True, gc=False):
    """An admitted chat request's answer.

    Without ``choices`` it is one plain text: ``pieces``, ending with ``finish_reason``. With
    them (a request with an :class:`~.outputs.OutputSpec`) the answers are ``choices``;
    ``pieces`` is then the longest answer's stream (the steps the plan times) and
    ``finish_reason`` the first answer's. ``output_tokens`` always counts every answer.
    ``response_key`` is 29 random-looking characters naming the response (OpenAI's
    ``chatcmpl-`` id), unique across resets (:mod:`.ids`).
    """

    request_id: str
    model: ModelSpec
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    finish_reason: FinishReason
    pieces: tuple[str, ...]  # the output, one string per token (per stream step)
    plan: TimingPlan
    ratelimit: RateLimitView
    ticket: Ticket | None  # None: settled at admission (see Provider.chat)
    response_key: str = ""
    choices: tuple[Choice, ...] | None = None
    # Prompt tokens written to an explicit (breakpoint) cache, by TTL; part of input_tokens,
    # as cached_tokens (the tokens read) are.
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    # A fault the plan executor carries out (a slow fault is in the plan already).
    fault: Fault | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def tokens_after(self, steps: int) -> int:
        """Output tokens delivered once a stream has sent ``steps`` steps (a cut stream)."""
        if self.choices is None:
            return steps
        return sum(min(c.tokens, steps) for c in self.choices)


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

# The chat path's shared values, keyed by one int (hashing an int is free; a tuple key is
# built and hashed per lookup): token_pieces(n, offset) by ``n << 6 | offset`` (offset < 64),
# instant plans by token count.
# Memos (see model.memo), looked up inline.
_pieces: dict[int, tuple[str, ...]] = {}
_instant_plans: dict[int, TimingPlan] = {}

# A chat (key, model) pair that passed authentication and model lookup: its model, limits,
# whether the model has zero latency and never draws a random number, and its family's
# rules (:mod:`.family`). A plain tuple: unpacking one is a single specialised instruction.
_Route = tuple[ModelSpec, LimitState | SplitLimits, bool, bool, ProviderFamily]


_ID_MASK = BLOCK - 1  # a request's place in its block of ids


def _pieces_of(key: int) -> tuple[str, ...]:
    return token_pieces(key >> 6, key & 63)


# The generator of a request that never draws: using it is a bug, and fails loudly.
_NO_DRAWS: Any = None


class Provider:
    """The mock service's decisions; one instance per server, reset between strategy runs."""

    def __init__(
        self,
        cfg: ProviderConfig,
        now: float = 0.0,
        limits: LimitStore | None = None,
        strikes: StrikeCounter | None = None,
    ) -> None:
        """``limits`` keeps the buckets (default: this process); ``strikes`` counts the
        strikes of fault rules with ``times`` (default: this process), for a shared store."""
        self.cfg = cfg
        self.catalog = build_catalog(cfg)
        # Published models retired by the catalogue's day (a declared one is served instead).
        self._retired = retired_names(cfg.catalog_date) - cfg.models.keys()
        self.store: LimitStore = InProcessLimits() if limits is None else limits
        self.faults = FaultSchedule.from_config(cfg.faults, strikes)
        self.api_keys = frozenset(cfg.api_keys)  # empty: any non-empty key is accepted
        # Per-config constants of the chat hot path, worked out once.
        d = cfg.output_tokens
        self._fixed_output = None if d.spread > 0 else max(1, round(d.median))
        self._instant = frozenset(n for n, m in self.catalog.items() if m.latency.is_instant)
        # Models whose chat requests never draw a random number: no RequestRandom for them.
        drawless = self._fixed_output is not None and not self.faults.rules
        self._drawless = self._instant if drawless else frozenset()
        self._faulty = bool(self.faults.rules)
        self._cache_min_tokens = cfg.cache_min_tokens
        self._default_max_tokens = cfg.default_max_tokens
        self._load_cfg = {n: m.load for n, m in cfg.models.items() if m.load is not None}
        self._loaded = bool(self._load_cfg)
        self.generation = -1  # resets so far; ids differ between generations (see .ids)
        self.reset(now)

    def reset(self, now: float) -> None:
        self.epoch = now
        self._limits: dict[tuple[str, str], LimitState | SplitLimits] = {}
        self._routes: dict[tuple[str, str], _Route] = {}
        self._caches: dict[str, PromptCache] = {}
        self._breakpoint_caches: dict[str, BreakpointCache] = {}
        self._loads = {name: ModelLoad(c) for name, c in self._load_cfg.items()}
        self._seq = 0
        self.generation += 1
        self._ids = IdStream(self.cfg.seed, self.generation, 0)
        self._error_ids = IdStream(self.cfg.seed, self.generation, 1)
        self._errors = 0

    def _request_id(self, seq: int) -> str:
        return self._ids.request_id(seq)

    def unnumbered_request_id(self) -> str:
        """A request id for a response no numbered request stands behind (a refusal, a bad
        body): from its own stream, so it never renumbers the requests."""
        n = self._errors
        self._errors = n + 1
        return self._error_ids.request_id(n)

    # -- checks ----------------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Rejection | None:
        if not api_key or (self.api_keys and api_key not in self.api_keys):
            return Rejection(401, "auth", {"key": api_key or ""}, None, latency_s=REFUSAL_NETWORK_S)
        return None

    def unknown_model(self, model: str) -> Rejection:
        """The 404 for a model the mock does not serve: after a shutdown for a retired one
        (``retired`` in the message arguments), else as for a name that never existed."""
        args: dict[str, Any] = {"model": model}
        if model in self._retired:
            args["retired"] = True
        return Rejection(404, "model_not_found", args, None, latency_s=REFUSAL_NETWORK_S)

    def _limits_for(self, key: str, spec: ModelSpec, now: float) -> LimitState | SplitLimits:
        """The pair's limits, by the model's family (:mod:`.family`): RPM and TPM, or RPM,
        ITPM, OTPM and, if the model sets ``tpm``, a combined cap. Unset limits take
        ``default_rpm`` / ``default_tpm``."""
        state = self._limits.get((key, spec.name))
        if state is None:
            m = self.cfg.models.get(spec.name)
            in_flight = m.max_in_flight if m else None
            split = family_of(spec).split_limits
            lim = limits_for(self.cfg, spec, split)
            if split:
                state = self.store.anthropic(key, spec.name, lim.rpm, lim.itpm, lim.otpm,
                                             lim.tpm, now, in_flight)  # fmt: skip
            else:
                assert lim.tpm is not None  # an OpenAI model always has a TPM
                state = self.store.openai(key, spec.name, lim.rpm, lim.tpm, now, in_flight)
            self._limits[(key, spec.name)] = state
        return state

    def view(self, api_key: str | None, model: str, now: float) -> RateLimitView | None:
        """The rate-limit headers' values for a key and model, when both are known."""
        spec = self.catalog.get(model)
        if not api_key or spec is None:
            return None
        return self._view(self._limits_for(api_key, spec, now), now)

    def _next_rng(self) -> tuple[str, RequestRandom]:
        seq = self._seq
        self._seq += 1
        return self._request_id(seq), RequestRandom(self.cfg.seed, seq)

    # -- chat ------------------------------------------------------------------------------

    def chat(self, req: ChatRequest, now: float) -> Decision:
        """Decide one chat completion at scenario time ``now``: one pipeline for every
        provider family, each step reading the model's family record (:mod:`.family`).

        The steps, in the order a real provider takes them: the route (key, model, wire
        format), the size (``max_tokens`` against the model's cap, then the context window),
        the request's number and generator, a fault, the model's load, the answer's length,
        the explicit cache (before admission: ITPM charges cache writes, not reads), the rate
        limits, the automatic cache (after admission), the timing plan, the completion.

        A completion that is not streamed from a zero-latency model is finished the moment it
        is admitted: it is settled then (its ``ticket`` is None) and never counts in flight.
        Every other completion must be passed to :meth:`settle` when it is done or cut.
        """
        api_key, model, input_tokens = req.api_key, req.model, req.input_tokens
        route = self._routes.get((api_key, model)) if api_key else None
        if route is None:
            refused = self._chat_route(api_key, model, now)
            if isinstance(refused, Rejection):
                return refused
            route = refused
        spec, state, instant, drawless, family = route
        if spec.dialect != req.dialect:  # a model answers only in its own wire format
            return Rejection(
                404, "model_not_found", {"model": model, "dialect": spec.dialect}, None,
                latency_s=REFUSAL_NETWORK_S,
            )  # fmt: skip
        asked = req.max_tokens or (self._default_max_tokens if family.max_tokens_required else 0)
        cap = spec.max_output_tokens
        if asked > cap or input_tokens + asked > spec.context_window:
            return self._too_big(spec, state, input_tokens, asked, now)
        if 0 < asked < cap:
            cap = asked
        seq = self._seq  # self._next_rng(), inline, and the generator only if a draw can happen
        self._seq = seq + 1
        ids = self._ids  # ids.ids(seq), inline: a block is read directly
        if seq >> SHIFT != ids.block:
            ids.fill(seq >> SHIFT)
        request_id, response_key = ids.request_ids[seq & _ID_MASK], ids.keys[seq & _ID_MASK]
        rng = None if drawless else RequestRandom(self.cfg.seed, seq)
        fault = None
        if self._faulty or req.fault is not None:
            fault = self._fault(req, spec, now, rng)
            if isinstance(fault, ErrorFault):
                return _fault_error(spec, fault, draw_network(spec.latency, rng))
        load = self._loads.get(spec.name) if self._loaded else None
        if load is not None and load.full():
            return _overloaded(spec, load, draw_network(spec.latency, rng))
        natural = self._fixed_output
        if natural is None:
            assert rng is not None
            natural = self._draw_output(rng)
        output = steps = natural if natural < cap else cap
        reserve = req.max_tokens or self._default_max_tokens  # the output the limits hold
        shaped = None
        if req.output is not None:  # choices, tools, structured content, stop sequences
            d = self.cfg.output_tokens
            shaped = shape(
                req.output, natural, cap, random.Random(hash((self.cfg.seed, seq))),
                response_key, self.cfg.tool_call_probability, d.median, d.spread,
                self.cfg.parallel_tool_call_probability,
            )  # fmt: skip
            output, steps = shaped.tokens, shaped.steps
            reserve *= len(shaped.choices)  # room for every answer
        use = NO_CACHE_USE
        if family.cache == "breakpoints":
            breakpoints = self._breakpoint_cache(spec)
            if input_tokens >= breakpoints.min_tokens:  # shorter prompts are never cached
                use = breakpoints.plan(req.prefixes_of(req.messages), now)
        charged = input_tokens - use.read  # explicit caching: input and writes, not reads
        done_now = instant and not req.stream  # done at admission: charge what it uses
        if family.split_limits:
            assert isinstance(state, SplitLimits)
            view = state.admit(charged, reserve, now, output if done_now else None)
        else:
            assert isinstance(state, LimitState)
            view = state.admit(charged + reserve, now, charged + output if done_now else None)
        if isinstance(view, Limited):
            # A model that never draws (``drawless``) is instant: no network time to draw.
            network = 0.0 if instant else draw_network(spec.latency, rng)
            return _rate_limited(spec, view, network)
        ticket = None if done_now else Ticket(state, charged + reserve, charged)
        cached = use.read
        if family.cache == "automatic" and input_tokens >= self._cache_min_tokens:
            cached = self._cache(spec.name).lookup(req.prefixes_of(req.messages), now)
            cached = min(cached, input_tokens)
        if instant:
            try:
                plan = _instant_plans[steps]
            except KeyError:
                plan = fill(_instant_plans, steps, instant_plan)
        else:
            assert rng is not None
            plan = draw_plan(spec.latency, input_tokens - cached, steps, rng)
        if use is not NO_CACHE_USE:
            breakpoints.commit(use, now, now + plan.ttft_s)
        if load is not None and ticket is not None:
            plan = load.stretch(plan)
            load.in_flight += 1
            ticket = Ticket(state, charged + reserve, charged, load)
        if shaped is not None:
            finish, pieces, choices = shaped.choices[0].finish_reason, shaped.pieces, shaped.choices
        else:
            finish, choices = MAX_TOKENS if natural > cap else END, None
            key = output << 6 | (self._seq & 63)  # token_pieces(output, self._seq % 64)
            try:
                pieces = _pieces[key]
            except KeyError:
                pieces = fill(_pieces, key, _pieces_of)
        completion = Completion(
            request_id, spec, input_tokens, cached, output, finish, pieces, plan, view, ticket,
            response_key, choices, use.write_5m, use.write_1h,
        )  # fmt: skip
        return completion if fault is None else _with_fault(completion, fault)

    def _fault(
        self, req: ChatRequest, spec: ModelSpec, now: float, rng: RequestRandom | None
    ) -> Fault | None:
        """The fault that strikes this request: the one it asked for, else the schedule's."""
        if req.fault is not None:
            return req.fault
        target = FaultTarget(
            spec.name, req.api_key, req.route or req.dialect, req.path, req.stream, req.tools
        )
        return self.faults.decide(target, now - self.epoch, rng)

    # -- runtime control (POST/DELETE /_stampede/faults) ---------------------------------------

    def add_fault(self, cfg: FaultWindowConfig) -> str:
        """Add a fault rule while serving; its id."""
        fid = self.faults.add(cfg)
        self._faults_changed()
        return fid

    def remove_faults(self, ids: list[str] | None = None) -> list[str]:
        """Remove fault rules by id (all of them for None); the ids removed."""
        gone = self.faults.remove(ids)
        self._faults_changed()
        return gone

    def _faults_changed(self) -> None:
        """Whether requests draw depends on the rules: routes remember it, so drop them."""
        self._faulty = bool(self.faults.entries)
        drawless = self._fixed_output is not None and not self._faulty
        self._drawless = self._instant if drawless else frozenset()
        self._routes = {}

    def _chat_route(self, api_key: str | None, model: str, now: float) -> _Route | Rejection:
        """Authenticate and look the model up; remember the answer for the pair if it is yes.

        Only an accepted (key, model) pair gets a route, so a cached route is proof of both
        checks, and the chat path makes one dict lookup instead of four.
        """
        denied = self.authenticate(api_key)
        if denied is not None:
            return denied
        assert api_key is not None  # authenticate() refuses a missing key
        spec = self.catalog.get(model)
        if spec is None or spec.kind != "chat":
            return self.unknown_model(model)
        m = self.cfg.models.get(spec.name)
        if m is not None and m.api_keys and api_key not in m.api_keys:
            return Rejection(
                403, "permission", {"model": model, "key": api_key}, None,
                latency_s=REFUSAL_NETWORK_S,
            )  # fmt: skip
        route = (
            spec,
            self._limits_for(api_key, spec, now),
            spec.name in self._instant,
            spec.name in self._drawless,
            family_of(spec),
        )
        self._routes[(api_key, model)] = route
        return route

    def _too_big(
        self,
        spec: ModelSpec,
        state: LimitState | SplitLimits,
        input_tokens: int,
        asked: int,
        now: float,
    ) -> Rejection:
        """The 400 for ``max_tokens`` over the model's output cap (checked first, as both
        APIs do), else for a prompt plus ``max_tokens`` over its context window."""
        network = draw_network(spec.latency, None)
        cap = spec.max_output_tokens
        if asked > cap:
            return Rejection(
                400, "invalid_request",
                {"reason": "max_tokens", "model": spec.name, "limit": cap, "requested": asked},
                self._view(state, now), latency_s=network,
            )  # fmt: skip
        return Rejection(
            400,
            "context_length",
            {"limit": spec.context_window, "input": input_tokens, "output": asked,
             "total": input_tokens + asked},
            self._view(state, now),
            latency_s=network,
        )  # fmt: skip

    def _draw_output(self, rng: RequestRandom) -> int:
        """The answer's natural length (before ``max_tokens`` cuts it), log-normal."""
        d = self.cfg.output_tokens
        return max(1, round(d.median * math.exp(d.spread * rng.standard_normal())))

    def _breakpoint_cache(self, spec: ModelSpec) -> BreakpointCache:
        cache = self._breakpoint_caches.get(spec.name)
        if cache is None:
            cache = self._breakpoint_caches[spec.name] = BreakpointCache(spec.cache_min_tokens)
        return cache

    def _cache(self, model: str) -> PromptCache:
        cache = self._caches.get(model)
        if cache is None:
            cache = self._caches[model] = PromptCache(
                self.cfg.cache_ttl_s, self.cfg.cache_min_tokens
            )
        return cache

    def settle(self, ticket: Ticket, output_tokens: int, now: float) -> None:
        """Correct the TPM charge to what was actually used (a cut stream used less)."""
        ticket.limits.settle(ticket.charged, ticket.input_tokens + output_tokens, now)
        if ticket.load is not None:
            ticket.load.release()

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
            return self.unknown_model(req.model)
        state = self._limits_for(req.api_key, spec, now)
        assert isinstance(state, LimitState)  # embedding models are OpenAI's
        if dims is not None and not 1 <= dims <= spec.embedding_dims:
            # The dimensions a model can shorten to: 1 up to its own (text-embedding-3-*).
            return Rejection(
                400,
                "invalid_request",
                {"reason": "dimensions", "limit": spec.embedding_dims, "requested": dims},
                self._view(state, now),
                latency_s=draw_network(spec.latency, None),
            )
        counts = [count_text(x) if isinstance(x, str) else len(x) for x in req.inputs]
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
                latency_s=draw_network(spec.latency, None),
            )
        request_id, rng = self._next_rng()
        target = FaultTarget(spec.name, req.api_key, "openai", "/v1/embeddings")
        fault = self.faults.decide(target, now - self.epoch, rng) if self._faulty else None
        if isinstance(fault, ErrorFault):  # the other kinds shape a chat response only
            return _fault_error(spec, fault, draw_network(spec.latency, rng))
        total = sum(counts)
        verdict = state.admit(total, now)
        if isinstance(verdict, Limited):
            return _rate_limited(spec, verdict, draw_network(spec.latency, rng))
        n_dims = dims or spec.embedding_dims
        vectors = _embed_vectors(req.inputs, n_dims)
        plan = draw_plan(spec.latency, total, 0, rng)
        ticket = Ticket(state, total, total)
        return Embedding(request_id, spec, total, vectors, plan, verdict, ticket)

    @staticmethod
    def _view(state: LimitState | SplitLimits, now: float) -> RateLimitView:
        return state.view(now)


def _embed_vectors(inputs: Sequence[str | Sequence[int]], dims: int) -> np.ndarray:
    """Deterministic unit vectors: the same text always embeds the same way, whether it is
    sent as text or as its tokens."""
    out = np.empty((len(inputs), dims), dtype=np.float32)
    for i, item in enumerate(inputs):
        text = item if isinstance(item, str) else text_of_ids(item)
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
        out[i] = v / np.linalg.norm(v)
    return out


def _rate_limited(spec: ModelSpec, limited: Limited, latency_s: float) -> Rejection:
    """The 429 for a refused admission, with the limits as they stood when it was refused.

    Its Retry-After counts from when the client receives it, ``latency_s`` after admission:
    the limits' wait, less that. A client that waits exactly that long after receiving it is
    back at the instant the limits named, and is admitted (barring competition); one that
    waits less is not. (A request reaches the mock the moment it is sent: the whole round
    trip is the latency paid after admission.) A wait shorter than the round trip is 0. A
    refusal for too many requests in flight suggests the family's ``concurrency_wait_s``.

    What the 429 *tells* (``Rejection.retry_after_s``) is that wait as the model's family
    says waits (:meth:`.family.ProviderFamily.told_wait`: exact, whole seconds, or nothing),
    decided here in scenario time, so a time-compressed run tells what a real one would; the
    exact wait stays in ``message_args["wait_s"]`` for the message.
    """
    family = family_of(spec)
    retry = limited.retry_after_s
    if limited.kind == "concurrency":
        retry = family.concurrency_wait_s
    elif retry is not None:
        retry = retry - latency_s if retry > latency_s else 0.0
    args: dict[str, Any] = {"model": spec.name, "retry_after": spec.retry_after, "wait_s": retry}
    told = family.told_wait(spec.retry_after, retry)
    return Rejection(429, "rate_limit", args, limited.view, told, limited, latency_s)


def _fault_error(spec: ModelSpec, fault: ErrorFault, latency_s: float) -> Rejection:
    """The refusal an error fault makes. An error window (``outage``, ``error_rate``) keeps
    the wording it always had; an ``error`` fault names its own type, wait and retry hint.
    Either tells the wait and retry hint the service sends with its status (:mod:`.family`);
    the family's overload status is an overload."""
    family = family_of(spec)
    if fault.reason != "error":
        kind: RejectionKind = (
            "overloaded" if fault.status == family.overload_status else "server_error"
        )
        wait = family.fault_wait(spec.retry_after, fault.status, None)
        return Rejection(fault.status, kind, {"reason": fault.reason,
                                              "retry_after": spec.retry_after}, None,
                         wait, latency_s=latency_s, fault="error")  # fmt: skip
    return injected_rejection(
        spec, fault.status, fault.error_type, fault.message, fault.retry_after_s,
        fault.should_retry, latency_s, "error",
    )  # fmt: skip


def injected_rejection(
    spec: ModelSpec,
    status: int,
    error_type: str | None,
    message: str | None,
    retry_after_s: float | None,
    should_retry: bool | None,
    latency_s: float,
    fault: str,
) -> Rejection:
    """The refusal of an ``error`` fault, or of a ``stream_error`` fault on a request that
    does not stream (``mock_provider/delivery.py`` builds that one)."""
    args = {"reason": "error", "error_type": error_type, "message": message,
            "should_retry": should_retry, "retry_after": spec.retry_after}  # fmt: skip
    wait = family_of(spec).fault_wait(spec.retry_after, status, retry_after_s)
    return Rejection(status, "injected", args, None, wait, latency_s=latency_s, fault=fault)


def _with_fault(c: Completion, fault: Fault) -> Completion:
    """A completion carrying its fault; a slow fault stretches the plan instead."""
    if isinstance(fault, SlowFault):
        p = c.plan
        f = fault.factor
        plan = make_plan(p.network_s, p.prefill_s, p.ttft_s * f + fault.delay_s,
                         tuple(g * f for g in p.gaps_s))  # fmt: skip
        return msgspec.structs.replace(c, plan=plan, fault=fault)
    return msgspec.structs.replace(c, fault=fault)


def _overloaded(spec: ModelSpec, load: ModelLoad, latency_s: float) -> Rejection:
    """The model is over its capacity (its load curve's ``capacity`` in flight): the
    family's overload status."""
    return Rejection(family_of(spec).overload_status, "overloaded",
                     {"model": spec.name, "in_flight": load.in_flight}, None,
                     latency_s=latency_s)  # fmt: skip
