"""Anthropic's rate-limit and request headers (docs.claude.com/en/api/rate-limits).

``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``:
``reset`` is the RFC 3339 time (whole seconds, UTC) at which the bucket is full again, and a
token ``remaining`` is rounded to the nearest thousand, as the API documents. ``tokens-*``
shows the most restrictive token limit in effect (see ``mock_provider.model.limits``).
``retry-after`` on a 429 (whole seconds); ``request-id`` on every response.
"""

from __future__ import annotations

import math
import time

from ...clock import TimeBase
from ...model.limits import RateLimitView
from ...model.memo import fill

__all__ = [
    "REMAINING_INPUT_TOKENS",
    "REMAINING_OUTPUT_TOKENS",
    "REMAINING_REQUESTS",
    "REMAINING_TOKENS",
    "REQUEST_ID",
    "RETRY_AFTER",
    "SHOULD_RETRY",
    "VERSION",
    "ratelimit_header",
    "ratelimit_headers",
    "rfc3339",
]

_PREFIX = "anthropic-ratelimit-"


def ratelimit_header(bucket: str, field: str) -> str:
    """``anthropic-ratelimit-<bucket>-<field>``: bucket requests, tokens, input-tokens or
    output-tokens; field limit, remaining or reset."""
    return f"{_PREFIX}{bucket}-{field}"


REMAINING_REQUESTS = ratelimit_header("requests", "remaining")
REMAINING_TOKENS = ratelimit_header("tokens", "remaining")
REMAINING_INPUT_TOKENS = ratelimit_header("input-tokens", "remaining")
REMAINING_OUTPUT_TOKENS = ratelimit_header("output-tokens", "remaining")
REQUEST_ID = "request-id"
RETRY_AFTER = "retry-after"
SHOULD_RETRY = "x-should-retry"
VERSION = "anthropic-version"  # a request header: which API version the client speaks

# (limit, remaining, reset) header names per bucket of the view.
_NAMES = {
    bucket: tuple(ratelimit_header(bucket, f) for f in ("limit", "remaining", "reset"))
    for bucket in ("requests", "tokens", "input-tokens", "output-tokens")
}
_times: dict[int, str] = {}  # a memo (see model.memo): unix second -> RFC 3339


def _render_time(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def rfc3339(unix_s: float) -> str:
    """The RFC 3339 UTC time of ``unix_s``, rounded up to the whole second."""
    second = math.ceil(unix_s)
    try:
        return _times[second]
    except KeyError:
        return fill(_times, second, _render_time)


def _nearest_thousand(n: int) -> int:
    return (n + 500) // 1000 * 1000


# Rendered counts (limits, remaining), which recur as buckets drain and refill: str() costs
# several times a lookup. A plain dict, see model.memo.
_count_text: dict[int, str] = {}
_wall, _ceil = time.time, math.ceil


def _fill_missing(view: RateLimitView, seconds: tuple[int, ...]) -> None:
    for bucket in (view.requests, view.tokens, view.input_tokens, view.output_tokens):
        if bucket is not None:
            for n in (bucket.limit, bucket.remaining, _nearest_thousand(bucket.remaining)):
                if n not in _count_text:
                    fill(_count_text, n, str)
    for second in seconds:
        if second not in _times:
            fill(_times, second, _render_time)


def ratelimit_headers(
    view: RateLimitView | None, clock: TimeBase, now_unix: float | None = None
) -> dict[str, str]:
    """The headers of ``view``; ``now_unix`` (default: the wall clock) dates the resets.

    Written out, with every value looked up in a memo, rather than looped over the buckets:
    this runs for every response, and twelve headers make the loop's overhead the cost.
    """
    if view is None:
        return {}
    now = _wall() if now_unix is None else now_unix
    counts, times, ceil, wall = _count_text, _times, _ceil, clock.wall
    r, t, i, o = view.requests, view.tokens, view.input_tokens, view.output_tokens
    resets = (
        ceil(now + wall(r.reset_s)),
        ceil(now + wall(t.reset_s)),
        *((ceil(now + wall(i.reset_s)),) if i is not None else ()),
        *((ceil(now + wall(o.reset_s)),) if o is not None else ()),
    )
    try:
        out = {
            _R[0]: counts[r.limit],
            _R[1]: counts[r.remaining],
            _R[2]: times[resets[0]],
            _T[0]: counts[t.limit],
            _T[1]: counts[(t.remaining + 500) // 1000 * 1000],
            _T[2]: times[resets[1]],
        }
        if i is not None and o is not None:
            out[_I[0]] = counts[i.limit]
            out[_I[1]] = counts[(i.remaining + 500) // 1000 * 1000]
            out[_I[2]] = times[resets[2]]
            out[_O[0]] = counts[o.limit]
            out[_O[1]] = counts[(o.remaining + 500) // 1000 * 1000]
            out[_O[2]] = times[resets[3]]
    except KeyError:  # render what is missing, then look everything up again
        _fill_missing(view, resets)
        return ratelimit_headers(view, clock, now)
    return out


_R, _T, _I, _O = (_NAMES[b] for b in ("requests", "tokens", "input-tokens", "output-tokens"))
