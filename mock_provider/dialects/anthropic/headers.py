"""Anthropic's rate-limit and request headers (docs.claude.com/en/api/rate-limits).

``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``,
``reset`` an RFC 3339 time at which the bucket is full again; ``retry-after`` on a 429 (whole
seconds); ``request-id`` on every response.
"""

from __future__ import annotations

__all__ = [
    "REMAINING_INPUT_TOKENS",
    "REMAINING_OUTPUT_TOKENS",
    "REMAINING_REQUESTS",
    "REMAINING_TOKENS",
    "REQUEST_ID",
    "RETRY_AFTER",
    "SHOULD_RETRY",
    "ratelimit_header",
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
