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
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

__all__ = ["LimitState", "Limited", "RateLimitView", "TokenBucket", "format_go_duration"]

# tuple.__new__(SomeNamedTuple, (fields...)) builds a NamedTuple in C; calling the class runs
# its generated Python __new__ first. Used on the per-request hot path, with every field given.
_tuple_new = tuple.__new__


class TokenBucket:
    """A bucket refilled continuously; ``level`` may go negative when usage exceeded an estimate."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 when it already is); call after refill."""
        short = amount - self.level
        return 0.0 if short <= 0 else short / self.rate

    def until_full(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


class RateLimitView(NamedTuple):
    """The values of the rate-limit headers after a decision."""

    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


@dataclass(frozen=True, slots=True)
class Limited:
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


class LimitState:
    """The limits of one (API key, model) pair."""

    __slots__ = ("in_flight", "max_in_flight", "requests", "rpm", "tokens", "tpm")

    def __init__(self, rpm: int, tpm: int, now: float, max_in_flight: int | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self.requests = TokenBucket(rpm, now)
        self.tokens = TokenBucket(tpm, now)
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    def admit(self, estimated_tokens: int, now: float) -> RateLimitView | Limited:
        """Charge one request and ``estimated_tokens``; the headers' view, or why not.

        Admission charges exactly ``estimated_tokens``: pass that to :meth:`settle` later.
        """
        # The hot path of every request, so the buckets' refill, wait_for and until_full are
        # written out inline here, and min/max as conditionals: same arithmetic, no calls.
        req, tok = self.requests, self.tokens
        if now > req.updated:
            level = req.level + (now - req.updated) * req.rate
            req.level = level if level < req.capacity else req.capacity
            req.updated = now
        if now > tok.updated:
            level = tok.level + (now - tok.updated) * tok.rate
            tok.level = level if level < tok.capacity else tok.capacity
            tok.updated = now
        if estimated_tokens > self.tpm:
            return self._limited("too_large", self.tpm, 0, estimated_tokens, None)
        if req.level < 1 or tok.level < estimated_tokens:
            wait_r = req.wait_for(1)
            wait_t = tok.wait_for(estimated_tokens)
            if wait_r >= wait_t:
                used = self.rpm - math.floor(max(req.level, 0.0))
                return self._limited("requests", self.rpm, used, 1, wait_r)
            used = self.tpm - math.floor(max(tok.level, 0.0))
            return self._limited("tokens", self.tpm, used, estimated_tokens, wait_t)
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return self._limited("concurrency", self.max_in_flight, self.in_flight, 1, None)
        req.level = r_level = req.level - 1
        tok.level = t_level = tok.level - estimated_tokens
        self.in_flight += 1
        reset_r = (req.capacity - r_level) / req.rate
        reset_t = (tok.capacity - t_level) / tok.rate
        return _tuple_new(
            RateLimitView,
            (
                self.rpm,
                self.tpm,
                int(r_level) if r_level > 0 else 0,  # max(0, floor(level))
                int(t_level) if t_level > 0 else 0,
                reset_r if reset_r > 0.0 else 0.0,  # max(0.0, reset)
                reset_t if reset_t > 0.0 else 0.0,
            ),
        )

    def settle(self, charged: int, actual: int, now: float) -> None:
        """Correct the token charge to actual usage once the response is done (or cut)."""
        tok = self.tokens
        cap = tok.capacity
        if now > tok.updated:  # tok.refill(now), inline: once per response
            level = tok.level + (now - tok.updated) * tok.rate
            tok.level = level if level < cap else cap
            tok.updated = now
        level = tok.level + charged - actual
        tok.level = level if level < cap else cap
        if self.in_flight > 0:
            self.in_flight -= 1

    def snapshot(self, now: float) -> tuple[int, int, float, float]:
        """(remaining requests, remaining tokens, reset requests s, reset tokens s) at ``now``."""
        self.requests.refill(now)
        self.tokens.refill(now)
        return (
            self._remaining(self.requests),
            self._remaining(self.tokens),
            self.requests.until_full(),
            self.tokens.until_full(),
        )

    @staticmethod
    def _remaining(bucket: TokenBucket) -> int:
        return max(0, math.floor(bucket.level))

    def _limited(
        self,
        kind: Literal["requests", "tokens", "concurrency", "too_large"],
        limit: int,
        used: int,
        requested: int,
        retry_after: float | None,
    ) -> Limited:
        return Limited(
            kind,
            limit,
            used,
            requested,
            retry_after,
            self._remaining(self.requests),
            self._remaining(self.tokens),
            self.requests.until_full(),
            self.tokens.until_full(),
        )


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
