"""The client brain: one generator per logical request, sans I/O.

:class:`ClientBrain` holds what all logical requests of one strategy share (budget ledger,
retry budget, per-model throttles and breakers). :meth:`ClientBrain.request` yields
:class:`Send` / :class:`Sleep` and returns a :class:`RequestResult`; see ``events.py`` for the
protocol. The only clock is the ``now`` carried by replies.

Result errors (``RequestResult.error``), the caller may switch on them:

- ``None``: success.
- ``"input_too_long"``: refused by the input guard, 0 attempts.
- ``"budget_exceeded"``: the user's or feature's daily budget was reached before an attempt.
- ``"circuit_open"`` / ``"throttled"`` / ``"cooldown"``: every remaining model was refused
  locally (a local refusal is not an attempt: it moves on to the next model without waiting).
- ``"total_timeout"``: the next wait would end after ``start + timeouts.total_s``.
- otherwise the last attempt's error: ``Outcome.error`` or ``"http_<status>"``.

``RequestResult.gave_up`` says why a request that did not succeed stopped where it did: the
local refusal or ``"total_timeout"`` above, or why the last model tried got no further
attempt (:meth:`RetryPolicy.decide`: ``"not_retryable"``, ``"attempts_exhausted"``,
``"retry_budget"``, ``"cooldown"``). So ``stampede check`` can charge each give-up to the
setting that caused it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TypeVar

from mock_provider.model.catalog import ModelSpec
from mock_provider.model.randomness import RequestRandom
from simulator.client.events import (
    AttemptSpec,
    Event,
    Outcome,
    Reply,
    RequestResult,
    Send,
    Sleep,
    Woke,
)
from simulator.client.fallback import chain_for
from simulator.client.guards import (
    BudgetLedger,
    attempt_cost,
    check_input,
    clamp_max_tokens,
    estimate_cost,
)
from simulator.client.overload import Draws
from simulator.client.policies import Backoff, build_retry_policy
from simulator.config import ClientConfig
from simulator.workload import LogicalRequest

__all__ = ["ClientBrain", "RequestGen", "Responder", "respond", "run_scripted"]

RequestGen = Generator[Event, Reply, RequestResult]
Responder = Callable[[AttemptSpec, float], Outcome]

_T = TypeVar("_T", Outcome, Woke)


def _expect(reply: Reply, kind: type[_T]) -> _T:
    if not isinstance(reply, kind):
        raise TypeError(f"driver answered with {type(reply).__name__}, expected {kind.__name__}")
    return reply


def _error_of(outcome: Outcome) -> str:
    return outcome.error or f"http_{outcome.status}"


class ClientBrain:
    """The decisions of one client strategy; drivers own time and the network."""

    def __init__(
        self,
        config: ClientConfig,
        catalog: dict[str, ModelSpec],
        rng: random.Random,
        draws: Callable[[int], Draws] | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.rng = rng
        self.policy = build_retry_policy(config.retry, rng, config.fallback)
        # Each logical request draws its waits from a stream of its own, seeded by this and
        # its number: the draws do not depend on the order requests happen to interleave in,
        # so a live run and a virtual one draw the same waits for the same request.
        # (``draws`` replaces that stream: tests pin every draw to see a policy's range.)
        seed = rng.getrandbits(63)
        self.draws = draws or (lambda seq: RequestRandom(seed, seq))
        self.ledger = BudgetLedger(config.guards)
        self._chains: dict[str, tuple[str, ...]] = {}  # first model -> chain (config is frozen)

    def _spec(
        self,
        req: LogicalRequest,
        model: str,
        m: ModelSpec | None,
        attempt: int,
        max_tokens: int | None,
        total_left_s: float = float("inf"),
    ) -> AttemptSpec:
        cfg = self.config
        t = cfg.timeouts
        return AttemptSpec(
            attempt,
            model,
            m.dialect if m is not None else "openai",
            req.messages,
            max_tokens,
            cfg.stream,
            req.input_tokens,
            t.connect_s,
            t.read_s,
            cfg.api_key,
            total_left_s,
        )

    def request(self, req: LogicalRequest, now: float) -> RequestGen:
        """Run one logical request starting at ``now`` (see the module docstring)."""
        cfg = self.config
        deadline = now + cfg.timeouts.total_s
        chain = self._chains.get(req.model)
        if chain is None:
            chain = self._chains[req.model] = chain_for(req.model, cfg.fallback)
        attempts, cost, slept, pending = 0, 0.0, 0.0, 0.0
        final: Outcome | None = None
        model = chain[0]

        charged = 0.0  # the answered attempt's cost, until an event or the result carries it

        def done(success: bool, error: str | None, gave_up: str | None = None) -> RequestResult:
            used = model if success and model != chain[0] else None
            return RequestResult(
                success, model, attempts, used, error, cost, slept, final, charged, gave_up
            )

        refusal = check_input(req.input_tokens, cfg.guards)
        if refusal is not None:
            return done(False, refusal, refusal)
        max_tokens = clamp_max_tokens(req.max_tokens, cfg.guards)
        error: str | None = None
        stop: str | None = None  # why the last model tried got no further attempt
        policy, ledger = self.policy, self.ledger
        user, feature = req.user_id, req.feature
        fb_on = cfg.fallback_on
        # Decided once per logical request rather than per attempt (a speed trick for the live
        # driver's hot path): without shared state (breaker, throttle, retry budget, Router
        # cooldowns) ``policy.admit`` always admits and ``policy.record`` does nothing; without
        # a daily budget the ledger never refuses, so its reservations need not be kept.
        shared = policy.shares_state
        budgeted = ledger.budgeted
        draws = self.draws(req.seq)
        hold, held_at = 0.0, now

        for idx, model in enumerate(chain):  # ``done`` reads ``model``: the last one tried
            m = self.catalog.get(model)
            has_next = idx + 1 < len(chain)
            on_model, prev = 0, None
            if idx > 0 and now >= deadline:
                return done(False, "total_timeout", "total_timeout")
            while True:
                if budgeted:
                    refusal = ledger.refuse(user, feature, now)
                    if refusal is not None:
                        return done(False, refusal, refusal)
                if shared:
                    local = policy.admit(model, now, draws)
                    if local is not None:
                        error = stop = local
                        break
                attempts += 1
                on_model += 1
                spec = self._spec(req, model, m, attempts, max_tokens, deadline - now)
                if budgeted:
                    # Reserve the worst case before sending and settle to the real price
                    # after: requests in flight count against the budget, so a loop that
                    # fires many at once still stops within one request of it.
                    hold = estimate_cost(m, req.input_tokens, max_tokens)
                    held_at = now
                    ledger.charge(user, feature, held_at, hold)
                outcome = _expect((yield Send(spec, pending, charged)), Outcome)
                pending, now, final = 0.0, outcome.now, outcome
                c = attempt_cost(m, outcome)
                cost += c
                charged = c
                if budgeted:
                    ledger.charge(user, feature, held_at, c - hold)
                if shared:
                    policy.record(model, outcome)
                if outcome.ok and outcome.error is None:
                    return done(True, None)
                error = _error_of(outcome)
                # A stop reason: no retry on this model (for the idealised kinds always so after
                # a 400, 401, 403 or 404); a ``last`` backoff is slept, then this model is done.
                decision = policy.decide(on_model, outcome, prev, model, draws)
                backoff = decision if isinstance(decision, Backoff) else None
                stop = "attempts_exhausted" if backoff is not None else str(decision)
                if has_next and backoff is not None and policy.skips_wait(outcome, fb_on):
                    break
                if backoff is not None:
                    if now + backoff.seconds > deadline:
                        return done(False, "total_timeout", "total_timeout")
                    sleep = Sleep(backoff.seconds, backoff.reason, charged)
                    charged = 0.0
                    now = _expect((yield sleep), Woke).now
                    pending += backoff.seconds
                    slept += backoff.seconds
                    prev = backoff.seconds
                    if not backoff.last:
                        continue
                if has_next and policy.falls_back(outcome, fb_on):
                    break
                return done(False, error, stop)
        return done(False, error, stop)


def respond(
    status: int = 200,
    *,
    retry_after_s: float | None = None,
    latency_s: float = 0.0,
    error: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int = 0,
    cached_tokens: int = 0,
) -> Responder:
    """A scripted reply: an :class:`Outcome` arriving ``latency_s`` after the attempt starts.

    ``input_tokens`` defaults to the attempt's count on a 2xx and to 0 otherwise.
    """

    def make(spec: AttemptSpec, now: float) -> Outcome:
        ok = 200 <= status < 300
        tokens_in = input_tokens if input_tokens is not None else (spec.input_tokens if ok else 0)
        return Outcome(
            now=now + latency_s,
            status=status,
            error=error,
            retry_after_s=retry_after_s,
            input_tokens=tokens_in,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            latency_s=latency_s,
        )

    return make


def run_scripted(
    gen: RequestGen, script: Responder | Iterable[Responder], now: float = 0.0
) -> tuple[RequestResult, list[Event]]:
    """Drive ``gen`` in virtual time: answer each Send with the next scripted reply (or the one
    responder given) and each Sleep by advancing the clock. Returns the result and the events.
    """
    if callable(script):
        one: Responder = script
        replies: Iterator[Responder] = iter(lambda: one, None)
    else:
        replies = iter(script)
    events: list[Event] = []
    reply: Reply | None = None
    while True:
        try:
            event = gen.send(reply) if reply is not None else next(gen)
        except StopIteration as stop:
            return stop.value, events
        events.append(event)
        if isinstance(event, Sleep):
            now += event.seconds
            reply = Woke(now)
        else:
            reply = next(replies)(event.attempt, now)
            now = reply.now
