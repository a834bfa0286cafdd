"""Rate limits as continuously refilled token buckets, per (API key, model).

Theory of operation
-------------------
The bucket rule (:class:`TokenBucket`, the readable reference): a bucket holds at most
``capacity`` (a per-minute limit) and refills at ``capacity / 60`` per second of scenario
time, starting full. A request that needs ``n`` from it is admitted when the level is at
least ``n`` (less a rounding slack far below one unit), and then ``n`` is taken; otherwise
it must wait ``(n - level) / rate``. A level may go negative when usage exceeded an
estimate. Every limit below is made of such buckets; a rejected request charges nothing,
so the Retry-After it is given is exact: a client that waits that long (and meets no
competition) is admitted.

Two schemes, one per provider:

- :class:`LimitState` (OpenAI's, and every OpenAI-compatible model's): an RPM bucket and a
  TPM bucket. Admission takes one request and the *estimated* tokens (prompt +
  ``max_tokens``, or a default); after the response :meth:`LimitState.settle` corrects the
  token charge to the actual prompt + output. It is the hot path of the mock, so it keeps
  its two buckets' levels in its own slots, a fast copy of the rule that
  ``tests/test_limits.py`` holds equal to two :class:`TokenBucket`.
- :class:`SplitLimits` (Anthropic's): an RPM bucket, an input-token bucket (ITPM) and an
  output-token bucket (OTPM), and, when the model sets ``tpm``, a combined token bucket (a
  workspace-style cap over both). ITPM is charged the prompt's input tokens plus its
  cache-creation tokens, never its cache reads, exactly, at admission. OTPM (and the
  combined bucket) is charged ``max_tokens`` at admission and settled to the actual output
  at the end. The request is refused when any bucket is short; the Retry-After is the
  longest of the buckets' waits, and the limit named is that bucket's.

The view handed to a dialect (:class:`RateLimitView`) names its buckets: ``requests`` and
``tokens`` always, ``input_tokens`` and ``output_tokens`` for a split scheme, whose
``tokens`` is the most restrictive token limit in effect: input plus output, or the
combined bucket when it has less left.

Where the buckets live is a :class:`LimitStore`: this process (:class:`InProcessLimits`, the
default and the reference) or a store several mock processes share
(``mock_provider/redis_store.py``, whose scripts follow the same rule to the bit).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, Protocol

import msgspec

__all__ = [
    "Bucket",
    "InProcessLimits",
    "LimitState",
    "LimitStore",
    "Limited",
    "RateLimitView",
    "SplitLimits",
    "TokenBucket",
    "format_go_duration",
]


class Bucket(msgspec.Struct, frozen=True, gc=False):
    """One bucket as the headers show it: its limit, what is left, seconds until full."""

    limit: int
    remaining: int
    reset_s: float


class RateLimitView(msgspec.Struct, frozen=True, gc=False):
    """The values of the rate-limit headers after a decision, bucket by bucket."""

    requests: Bucket
    tokens: Bucket  # TPM; for a split scheme the most restrictive token limit in effect
    input_tokens: Bucket | None = None  # split schemes only
    output_tokens: Bucket | None = None


LimitKind = Literal[
    "requests", "tokens", "input_tokens", "output_tokens", "concurrency", "too_large"
]


class Limited(msgspec.Struct, frozen=True, gc=False):
    """A 429: ``kind`` names the limit that bit; ``retry_after_s`` None means waiting won't help.

    ``bucket`` is the bucket a ``too_large`` request can never fit in (else ``kind``'s).
    """

    kind: LimitKind
    limit: int
    used: int
    requested: int
    retry_after_s: float | None
    view: RateLimitView
    bucket: str = "tokens"


_floor = math.floor  # a C function: int(x) goes through the int type's constructor, 2x slower
_SLACK = 1e-12  # relative to a bucket's capacity: far below one request or one token


class LimitState:
    """The limits of one (API key, model) pair: an RPM and a TPM bucket.

    The two buckets' levels are slots of this object rather than two bucket objects, and
    share one refill timestamp: admission refills both at the same instant anyway, and every
    attribute hop and call costs on the mock's hot path (one admission per request served).
    A level may go negative when usage exceeded an estimate.
    """

    __slots__ = (
        "_r_cap", "_r_level", "_r_need", "_r_rate", "_t_cap", "_t_level", "_t_rate", "_t_slack",
        "_updated",
        "in_flight", "max_in_flight", "rpm", "tpm",
    )  # fmt: skip

    def __init__(self, rpm: int, tpm: int, now: float, max_in_flight: int | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._r_cap = self._r_level = float(rpm)
        self._t_cap = self._t_level = float(tpm)
        self._r_rate = self._r_cap / 60.0
        self._t_rate = self._t_cap / 60.0
        # A level a rounding error short of the need is enough: a client that waited exactly
        # its Retry-After refilled the bucket by (wait * rate) in floats, which can land a
        # few ulps short of the one request it was told it would get.
        self._r_need = 1.0 - _SLACK * self._r_cap
        self._t_slack = _SLACK * self._t_cap
        self._updated = now
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    def _refill(self, now: float) -> None:
        dt = now - self._updated
        if dt > 0:
            self._r_level = min(self._r_cap, self._r_level + dt * self._r_rate)
            self._t_level = min(self._t_cap, self._t_level + dt * self._t_rate)
            self._updated = now

    def admit(
        self, estimated_tokens: int, now: float, actual_tokens: int | None = None
    ) -> RateLimitView | Limited:
        """Charge one request and ``estimated_tokens``; the headers' view, or why not.

        Admission charges exactly ``estimated_tokens``: pass that to :meth:`settle` later.
        A response that is finished the moment it is admitted (nothing to wait for, nothing
        streamed) passes its ``actual_tokens`` instead: it is settled here, at the same
        instant, and is never in flight. The view still shows the estimate's charge, as the
        provider's headers do at admission.
        """
        # The refill is written out here (not _refill()), min() as conditionals: same
        # arithmetic, no calls, on the path every request takes.
        dt = now - self._updated
        if dt > 0:
            r_level = self._r_level + dt * self._r_rate
            if r_level > self._r_cap:
                r_level = self._r_cap
            t_level = self._t_level + dt * self._t_rate
            if t_level > self._t_cap:
                t_level = self._t_cap
            self._r_level, self._t_level, self._updated = r_level, t_level, now
        else:
            r_level, t_level = self._r_level, self._t_level
        if r_level < self._r_need or t_level + self._t_slack < estimated_tokens:
            # (A request larger than the whole TPM capacity is always short of tokens.)
            if estimated_tokens > self.tpm:
                return self._limited("too_large", self.tpm, 0, estimated_tokens, None)
            wait_r = 0.0 if r_level >= self._r_need else (1 - r_level) / self._r_rate
            wait_t = 0.0 if t_level + self._t_slack >= estimated_tokens else (
                (estimated_tokens - t_level) / self._t_rate
            )  # fmt: skip
            if wait_r >= wait_t:
                used = self.rpm - math.floor(max(r_level, 0.0))
                return self._limited("requests", self.rpm, used, 1, wait_r)
            used = self.tpm - math.floor(max(t_level, 0.0))
            return self._limited("tokens", self.tpm, used, estimated_tokens, wait_t)
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return self._limited("concurrency", self.max_in_flight, self.in_flight, 1, None)
        self._r_level = r_level = r_level - 1
        t_level -= estimated_tokens
        if actual_tokens is None:
            self._t_level = t_level
            self.in_flight += 1
        else:  # settle(estimated_tokens, actual_tokens, now), inline
            self._t_level = t_level + estimated_tokens - actual_tokens
        # Both levels are now below capacity, so both resets are positive.
        return RateLimitView(
            Bucket(self.rpm, _floor(r_level) if r_level > 0 else 0,  # max(0, floor(level))
                   (self._r_cap - r_level) / self._r_rate),
            Bucket(self.tpm, _floor(t_level) if t_level > 0 else 0,
                   (self._t_cap - t_level) / self._t_rate),
        )  # fmt: skip

    def settle(self, charged: int, actual: int, now: float) -> None:
        """Correct the token charge to actual usage once the response is done (or cut)."""
        if now > self._updated:
            self._refill(now)
        level = self._t_level + charged - actual
        self._t_level = level if level < self._t_cap else self._t_cap
        if self.in_flight > 0:
            self.in_flight -= 1

    def snapshot(self, now: float) -> tuple[int, int, float, float]:
        """(remaining requests, remaining tokens, reset requests s, reset tokens s) at ``now``."""
        self._refill(now)
        return (
            max(0, math.floor(self._r_level)),
            max(0, math.floor(self._t_level)),
            max(0.0, (self._r_cap - self._r_level) / self._r_rate),
            max(0.0, (self._t_cap - self._t_level) / self._t_rate),
        )

    def view(self, now: float) -> RateLimitView:
        """The headers' values at ``now``, with nothing charged."""
        rr, rt, sr, st = self.snapshot(now)
        return RateLimitView(Bucket(self.rpm, rr, sr), Bucket(self.tpm, rt, st))

    def _limited(
        self,
        kind: LimitKind,
        limit: int,
        used: int,
        requested: int,
        retry_after: float | None,
    ) -> Limited:
        return Limited(kind, limit, used, requested, retry_after, self.view(self._updated))


class TokenBucket:
    """The bucket rule, written once to be read (see the module docstring).

    :class:`SplitLimits` is made of these; :class:`LimitState` keeps the same rule inline
    for speed, and a test holds the two equal.
    """

    __slots__ = ("capacity", "level", "rate", "slack", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = capacity
        self.level = float(capacity)  # starts full
        self.rate = capacity / 60.0  # per second: the whole capacity in a minute
        # A level a rounding error short of the need is enough: a client that waited exactly
        # its Retry-After refilled the bucket by (wait * rate) in floats, which can land a
        # few ulps short of what it was told it would get.
        self.slack = _SLACK * capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            level = self.level + (now - self.updated) * self.rate
            self.level = level if level < self.capacity else float(self.capacity)  # min()
            self.updated = now

    def wait_s(self, need: int) -> float:
        """Seconds until ``need`` fits (after :meth:`refill`); 0 if it fits now."""
        if self.level + self.slack >= need:
            return 0.0
        return (need - self.level) / self.rate

    def take(self, amount: int) -> None:
        self.level -= amount

    def give_back(self, amount: int) -> None:
        """Return an over-estimate (``amount`` < 0 charges an under-estimate); never past full."""
        self.level = min(self.capacity, self.level + amount)

    def show(self) -> Bucket:
        level = self.level
        return Bucket(
            self.capacity,
            _floor(level) if level > 0 else 0,
            (self.capacity - level) / self.rate if level < self.capacity else 0.0,
        )


class SplitLimits:
    """Anthropic's limits of one (API key, model) pair: RPM, ITPM, OTPM and an optional
    combined token cap (see the module docstring for the rules)."""

    __slots__ = (
        "_buckets", "combined", "in_flight", "input", "max_in_flight", "output", "requests",
    )  # fmt: skip

    def __init__(
        self,
        rpm: int,
        itpm: int,
        otpm: int,
        tpm: int | None,
        now: float,
        max_in_flight: int | None = None,
    ) -> None:
        self.requests = TokenBucket(rpm, now)
        self.input = TokenBucket(itpm, now)
        self.output = TokenBucket(otpm, now)
        self.combined = None if tpm is None else TokenBucket(tpm, now)
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        # (view name, bucket), in the order a refusal's tie is broken.
        buckets = [("requests", self.requests), ("input_tokens", self.input),
                   ("output_tokens", self.output)]  # fmt: skip
        if self.combined is not None:
            buckets.append(("tokens", self.combined))
        self._buckets = tuple(buckets)

    def _refill(self, now: float) -> None:
        for _, bucket in self._buckets:
            bucket.refill(now)

    def admit(
        self, input_tokens: int, output_tokens: int, now: float, actual_output: int | None = None
    ) -> RateLimitView | Limited:
        """Charge one request, ``input_tokens`` (input + cache creation) and the output
        estimate ``output_tokens`` (``max_tokens``); the headers' view, or why not.

        ``actual_output`` settles at once a response finished the moment it is admitted
        (see :meth:`LimitState.admit`); otherwise pass the estimate to :meth:`settle` later.
        """
        # TokenBucket's refill, wait_s and take, written out for the three buckets every
        # request meets: a method call each is most of the cost (tests/test_limits.py holds
        # this equal to the same rule through the TokenBucket methods). The combined cap,
        # rarely set, goes through the methods.
        requests, inp, out, combined = self.requests, self.input, self.output, self.combined
        for b in (requests, inp, out):
            dt = now - b.updated
            if dt > 0:
                level = b.level + dt * b.rate
                b.level = level if level < b.capacity else float(b.capacity)
                b.updated = now
        both = input_tokens + output_tokens
        if combined is not None:
            combined.refill(now)
        if (
            requests.level + requests.slack < 1
            or inp.level + inp.slack < input_tokens
            or out.level + out.slack < output_tokens
            or (combined is not None and combined.wait_s(both))
        ):
            return self._refused(input_tokens, output_tokens)
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return Limited("concurrency", self.max_in_flight, self.in_flight, 1, None,
                           self._show(), "requests")  # fmt: skip
        requests.level -= 1
        inp.level -= input_tokens
        if actual_output is None:
            out.level -= output_tokens
            self.in_flight += 1
        else:  # settled at once: charge what it used
            out.level -= actual_output
        if combined is not None:
            combined.take(input_tokens + (output_tokens if actual_output is None else
                                          actual_output))  # fmt: skip
        return self._show()

    def _refused(self, input_tokens: int, output_tokens: int) -> Limited:
        """Why a request that does not fit now is refused (the buckets are refilled)."""
        needs = {"requests": 1, "input_tokens": input_tokens, "output_tokens": output_tokens,
                 "tokens": input_tokens + output_tokens}  # fmt: skip
        view = self._show()
        for name, bucket in self._buckets:
            if needs[name] > bucket.capacity:  # waiting can never help
                return Limited("too_large", bucket.capacity, 0, needs[name], None, view, name)
        name, bucket = max(self._buckets, key=lambda nb: nb[1].wait_s(needs[nb[0]]))
        used = bucket.capacity - math.floor(max(bucket.level, 0.0))
        kind: LimitKind = name  # type: ignore[assignment]
        return Limited(kind, bucket.capacity, used, needs[name], bucket.wait_s(needs[name]), view,
                       name)  # fmt: skip

    def settle(self, charged: int, actual: int, now: float) -> None:
        """Correct the output charge once the response is done (or cut). ``charged`` and
        ``actual`` are totals whose input parts are equal (input is charged exactly)."""
        self._refill(now)
        self._give_back_output(charged - actual)
        if self.in_flight > 0:
            self.in_flight -= 1

    def _give_back_output(self, amount: int) -> None:
        self.output.give_back(amount)
        if self.combined is not None:
            self.combined.give_back(amount)

    def view(self, now: float) -> RateLimitView:
        self._refill(now)
        return self._show()

    def _show(self) -> RateLimitView:
        # TokenBucket.show(), written out: see admit().
        r, i, o = self.requests, self.input, self.output
        r_level, i_level, o_level = r.level, i.level, o.level
        requests = Bucket(
            r.capacity,
            _floor(r_level) if r_level > 0 else 0,
            (r.capacity - r_level) / r.rate if r_level < r.capacity else 0.0,
        )
        inputs = Bucket(
            i.capacity,
            _floor(i_level) if i_level > 0 else 0,
            (i.capacity - i_level) / i.rate if i_level < i.capacity else 0.0,
        )
        outputs = Bucket(
            o.capacity,
            _floor(o_level) if o_level > 0 else 0,
            (o.capacity - o_level) / o.rate if o_level < o.capacity else 0.0,
        )
        tokens = Bucket(inputs.limit + outputs.limit, inputs.remaining + outputs.remaining,
                        max(inputs.reset_s, outputs.reset_s))  # fmt: skip
        if self.combined is not None:
            c = self.combined.show()
            if c.remaining < tokens.remaining:  # the most restrictive token limit in effect
                tokens = c
        return RateLimitView(requests, tokens, inputs, outputs)


class LimitStore(Protocol):
    """Makes the limits of a (key, model) pair: where its buckets live is the store's business.

    A shared store returns subclasses whose admission and settling are atomic in the store,
    so that several processes enforce one limit.
    """

    def openai(
        self, key: str, model: str, rpm: int, tpm: int, now: float, max_in_flight: int | None
    ) -> LimitState: ...

    def anthropic(
        self,
        key: str,
        model: str,
        rpm: int,
        itpm: int,
        otpm: int,
        tpm: int | None,
        now: float,
        max_in_flight: int | None,
    ) -> SplitLimits: ...


class InProcessLimits:
    """The default store: each pair's buckets are plain objects of this process."""

    def openai(
        self, key: str, model: str, rpm: int, tpm: int, now: float, max_in_flight: int | None
    ) -> LimitState:
        return LimitState(rpm, tpm, now, max_in_flight)

    def anthropic(
        self,
        key: str,
        model: str,
        rpm: int,
        itpm: int,
        otpm: int,
        tpm: int | None,
        now: float,
        max_in_flight: int | None,
    ) -> SplitLimits:
        return SplitLimits(rpm, itpm, otpm, tpm, now, max_in_flight)


def format_go_duration(seconds: float) -> str:
    """Render like Go's ``time.Duration.String`` at millisecond precision: 12ms, 1s, 6m0s, 1.5s."""
    ms = seconds * 1000.0
    whole = math.floor(ms)
    if ms - whole > 1e-6:
        # ceil(round(ms, 6)) below is exact but float rounding to 6 digits goes through a
        # decimal conversion (several microseconds for two headers a response); away from
        # an integer the rounding cannot change the ceiling.
        return _go_duration_ms(whole + 1)
    return _go_duration_ms(math.ceil(round(ms, 6)))


@lru_cache(maxsize=8192)  # two per response; the same few values recur under steady load
def _go_duration_ms(ms: int) -> str:
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rem = divmod(ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs = f"{rem / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
