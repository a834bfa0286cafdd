"""OpenAI's response headers: ``x-ratelimit-*`` counts and Go-style reset durations, and the
ones every response carries (request id, processing time, API version, organization)."""

from __future__ import annotations

from ...clock import TimeBase
from ...model.limits import RateLimitView, format_go_duration
from ...model.memo import fill

__all__ = [
    "API_VERSION",
    "LIMIT_REQUESTS",
    "LIMIT_TOKENS",
    "ORGANIZATION",
    "ORGANIZATION_ID",
    "ORGANIZATION_SLUG",
    "PROCESSING_MS",
    "REMAINING_REQUESTS",
    "REMAINING_TOKENS",
    "RESET_REQUESTS",
    "RESET_TOKENS",
    "RETRY_AFTER",
    "RETRY_AFTER_MS",
    "VERSION",
    "ratelimit_headers",
    "stamp",
]

LIMIT_REQUESTS = "x-ratelimit-limit-requests"
LIMIT_TOKENS = "x-ratelimit-limit-tokens"
REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
REMAINING_TOKENS = "x-ratelimit-remaining-tokens"
RESET_REQUESTS = "x-ratelimit-reset-requests"
RESET_TOKENS = "x-ratelimit-reset-tokens"
RETRY_AFTER = "retry-after"  # whole seconds (HTTP); also a date in general
RETRY_AFTER_MS = "retry-after-ms"  # milliseconds: Azure's, and what the SDKs read first
REQUEST_ID = "x-request-id"
PROCESSING_MS = "openai-processing-ms"  # the service's own time on the request, in ms
VERSION = "openai-version"
ORGANIZATION = "openai-organization"  # the account's slug (a personal account's: user-...)
API_VERSION = "2020-10-01"  # what every response from the service says
# The mock's one organization: recognisably a mock, shaped as the real ones (24 characters).
ORGANIZATION_SLUG = "user-stampedemock7q2xw9kd4fzp"
ORGANIZATION_ID = "org-StampedeMock7q2XW9kd4fZp"  # as 429 messages name it


def stamp(headers: dict[str, str], request_id: str, processing_s: float, clock: TimeBase) -> None:
    """The headers every response carries: its request id, the service's processing time
    (``processing_s`` scenario seconds, sent as wall milliseconds), version, organization."""
    headers[REQUEST_ID] = request_id
    headers[PROCESSING_MS] = str(round(clock.wall(processing_s * 1000.0))) if processing_s else "0"
    headers[VERSION] = API_VERSION
    headers[ORGANIZATION] = ORGANIZATION_SLUG


# Rendered texts of the values every response carries (limits and remaining counts, reset
# times in wall seconds), which recur as buckets drain and refill: str() or the formatter
# costs several times a lookup. Plain dicts, see model.memo.
_count_text: dict[int, str] = {}
_duration_text: dict[float, str] = {}


def ratelimit_headers(view: RateLimitView | None, clock: TimeBase) -> dict[str, str]:
    if view is None:
        return {}
    requests, tokens = view.requests, view.tokens
    wall = clock.wall
    reset_r, reset_t = wall(requests.reset_s), wall(tokens.reset_s)
    counts, durations = _count_text, _duration_text
    try:
        return {
            LIMIT_REQUESTS: counts[requests.limit],
            LIMIT_TOKENS: counts[tokens.limit],
            REMAINING_REQUESTS: counts[requests.remaining],
            REMAINING_TOKENS: counts[tokens.remaining],
            RESET_REQUESTS: durations[reset_r],
            RESET_TOKENS: durations[reset_t],
        }
    except KeyError:  # render what is missing, then look everything up again
        for n in (requests.limit, tokens.limit, requests.remaining, tokens.remaining):
            if n not in counts:
                fill(counts, n, str)
        for s in (reset_r, reset_t):
            if s not in durations:
                fill(durations, s, format_go_duration)
        return ratelimit_headers(view, clock)
