"""OpenAI's rate-limit headers: ``x-ratelimit-*`` counts and Go-style reset durations."""

from __future__ import annotations

from ...model.limits import RateLimitView, format_go_duration
from ...model.memo import fill

__all__ = ["ratelimit_headers"]

# Rendered texts of the values every response carries (limits and remaining counts, reset
# times in wall seconds), which recur as buckets drain and refill: str() or the formatter
# costs several times a lookup. Plain dicts, see model.memo.
_count_text: dict[int, str] = {}
_duration_text: dict[float, str] = {}


def ratelimit_headers(view: RateLimitView | None, time_scale: float) -> dict[str, str]:
    if view is None:
        return {}
    reset_r, reset_t = view.reset_requests_s, view.reset_tokens_s
    if time_scale != 1.0:
        reset_r /= time_scale
        reset_t /= time_scale
    counts, durations = _count_text, _duration_text
    try:
        return {
            "x-ratelimit-limit-requests": counts[view.limit_requests],
            "x-ratelimit-limit-tokens": counts[view.limit_tokens],
            "x-ratelimit-remaining-requests": counts[view.remaining_requests],
            "x-ratelimit-remaining-tokens": counts[view.remaining_tokens],
            "x-ratelimit-reset-requests": durations[reset_r],
            "x-ratelimit-reset-tokens": durations[reset_t],
        }
    except KeyError:  # render what is missing, then look everything up again
        for n in (
            view.limit_requests,
            view.limit_tokens,
            view.remaining_requests,
            view.remaining_tokens,
        ):
            if n not in counts:
                fill(counts, n, str)
        for s in (reset_r, reset_t):
            if s not in durations:
                fill(durations, s, format_go_duration)
        return ratelimit_headers(view, time_scale)
