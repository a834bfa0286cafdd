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

from ...model.limits import Bucket, RateLimitView
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


def ratelimit_headers(
    view: RateLimitView | None, time_scale: float, now_unix: float | None = None
) -> dict[str, str]:
    """The headers of ``view``; ``now_unix`` (default: the wall clock) dates the resets."""
    if view is None:
        return {}
    now = time.time() if now_unix is None else now_unix
    out: dict[str, str] = {}
    buckets: tuple[tuple[str, Bucket | None], ...] = (
        ("requests", view.requests),
        ("tokens", view.tokens),
        ("input-tokens", view.input_tokens),
        ("output-tokens", view.output_tokens),
    )
    for name, bucket in buckets:
        if bucket is None:
            continue
        limit, remaining, reset = _NAMES[name]
        left = bucket.remaining if name == "requests" else _nearest_thousand(bucket.remaining)
        out[limit] = str(bucket.limit)
        out[remaining] = str(left)
        out[reset] = rfc3339(now + bucket.reset_s / time_scale)
    return out
