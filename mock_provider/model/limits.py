"""RPM/TPM limits as continuously refilled token buckets, per (API key, model).

Theory of operation: each bucket holds at most ``capacity`` (the per-minute limit) and refills
at ``capacity / 60`` per second of scenario time, starting full. Admission needs one request
from the RPM bucket and the *estimated* tokens (prompt + max_tokens, or a default) from the
TPM bucket; a rejected request charges nothing, so the Retry-After it is given is exact: a
client that waits that long (and meets no competition) is admitted. After the response, the
token charge is corrected to actual usage with :meth:`LimitState.settle`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import msgspec

__all__ = ["LimitState", "Limited", "RateLimitView", "format_go_duration"]


class RateLimitView(msgspec.Struct, frozen=True, gc=False):
    """The values of the rate-limit headers after a decision."""

    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


class Limited(msgspec.Struct, frozen=True, gc=False):
    """A 429: ``kind`` names the limit that bit; ``retry_after_s`` None means waiting won't help."""

    kind: Literal["requests", "tokens", "concurrency", "too_large"]
    limit: int
    used: int
    requested: int
    retry_after_s: float | None
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


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
            self.rpm,
            self.tpm,
            _floor(r_level) if r_level > 0 else 0,  # max(0, floor(level))
            _floor(t_level) if t_level > 0 else 0,
            (self._r_cap - r_level) / self._r_rate,
            (self._t_cap - t_level) / self._t_rate,
        )

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

    def _limited(
        self,
        kind: Literal["requests", "tokens", "concurrency", "too_large"],
        limit: int,
        used: int,
        requested: int,
        retry_after: float | None,
    ) -> Limited:
        return Limited(kind, limit, used, requested, retry_after, *self.snapshot(self._updated))


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
