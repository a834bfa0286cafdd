"""OpenAI's rate-limit headers: ``x-ratelimit-*`` counts and Go-style reset durations."""

from __future__ import annotations

from ...model.limits import RateLimitView, format_go_duration
from ...model.memo import fill

__all__ = [
    "LIMIT_REQUESTS",
    "LIMIT_TOKENS",
    "REMAINING_REQUESTS",
    "REMAINING_TOKENS",
    "RESET_REQUESTS",
    "RESET_TOKENS",
    "RETRY_AFTER",
    "RETRY_AFTER_MS",
    "ratelimit_headers",
]

LIMIT_REQUESTS = "x-ratelimit-limit-requests"
LIMIT_TOKENS = "x-ratelimit-limit-tokens"
REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
REMAINING_TOKENS = "x-ratelimit-remaining-tokens"
RESET_REQUESTS = "x-ratelimit-reset-requests"
RESET_TOKENS = "x-ratelimit-reset-tokens"
RETRY_AFTER = "retry-after"  # whole seconds (HTTP); also a date in general
RETRY_AFTER_MS = "retry-after-ms"  # milliseconds: Azure's, and what the SDKs read first

# Rendered texts of the values every response carries (limits and remaining counts, reset
# times in wall seconds), which recur as buckets drain and refill: str() or the formatter
# costs several times a lookup. Plain dicts, see model.memo.
_count_text: dict[int, str] = {}
_duration_text: dict[float, str] = {}


def ratelimit_headers(view: RateLimitView | None, time_scale: float) -> dict[str, str]:
    if view is None:
        return {}
    requests, tokens = view.requests, view.tokens
    reset_r, reset_t = requests.reset_s, tokens.reset_s
    if time_scale != 1.0:
        reset_r /= time_scale
        reset_t /= time_scale
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
        return ratelimit_headers(view, time_scale)
