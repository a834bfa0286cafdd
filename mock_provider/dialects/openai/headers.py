"""OpenAI's rate-limit headers: ``x-ratelimit-*`` counts and Go-style reset durations."""

from __future__ import annotations

from ...model.limits import RateLimitView, format_go_duration
from ..rendered import RenderCache

__all__ = ["ratelimit_headers"]

_count_text: RenderCache[int, str] = RenderCache(str)
_duration_text: RenderCache[float, str] = RenderCache(format_go_duration)  # wall seconds


def ratelimit_headers(view: RateLimitView | None, time_scale: float) -> dict[str, str]:
    if view is None:
        return {}
    counts, durations = _count_text, _duration_text
    return {
        "x-ratelimit-limit-requests": counts[view.limit_requests],
        "x-ratelimit-limit-tokens": counts[view.limit_tokens],
        "x-ratelimit-remaining-requests": counts[view.remaining_requests],
        "x-ratelimit-remaining-tokens": counts[view.remaining_tokens],
        "x-ratelimit-reset-requests": durations[view.reset_requests_s / time_scale],
        "x-ratelimit-reset-tokens": durations[view.reset_tokens_s / time_scale],
    }
