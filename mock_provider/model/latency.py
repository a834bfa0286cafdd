"""Timing plans: when each token of a response is due, in scenario seconds.

A plan is drawn once per request from that request's seeded stream (``.randomness``), so the
HTTP driver only executes it (sleeping ``ttft_s``, then each gap) and the virtual driver can
add it up.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from .catalog import Dist, LatencyProfile
from .randomness import RequestRandom

__all__ = [
    "REFUSAL_NETWORK_S",
    "TimingPlan",
    "draw_network",
    "draw_plan",
    "instant_plan",
    "make_plan",
]


class TimingPlan(NamedTuple):
    """``ttft_s``: request received -> first token; ``gaps_s[i]``: token i -> token i+1.

    ``decode_s`` (the sum of the gaps) and ``total_s`` are worked out once, by :func:`make_plan`:
    every non-streamed response waits ``total_s``, and summing the gaps each time cost more
    than the rest of the plan.
    """

    network_s: float
    prefill_s: float
    ttft_s: float
    gaps_s: tuple[float, ...]
    decode_s: float
    total_s: float


def make_plan(
    network_s: float, prefill_s: float, ttft_s: float, gaps_s: tuple[float, ...]
) -> TimingPlan:
    """A :class:`TimingPlan` with its sums filled in."""
    decode = math.fsum(gaps_s) if any(gaps_s) else 0.0  # any(): zero-latency plans skip fsum
    return TimingPlan(network_s, prefill_s, ttft_s, gaps_s, decode, ttft_s + decode)


def _draw(d: Dist, rng: RequestRandom) -> float:
    if d.median <= 0:
        return 0.0
    if d.spread <= 0:
        return d.median
    return d.median * math.exp(d.spread * rng.standard_normal())


# The round trip of a refusal that names no model the catalogue knows (a bad key is refused
# before the model is looked up): the default profile's median network time.
REFUSAL_NETWORK_S = LatencyProfile().network_ms.median / 1000.0


def draw_network(profile: LatencyProfile, rng: RequestRandom | None) -> float:
    """One network round trip, in scenario seconds: what a refusal or an error takes.

    Drawn as a completion's network phase is, from the request's own generator. Without one
    (a refusal before the request is numbered: see ``Provider.chat``) it is the
    profile's median.
    """
    d = profile.network_ms
    if rng is None:
        return d.median / 1000.0
    return _draw(d, rng) / 1000.0


@lru_cache(maxsize=4096)
def instant_plan(output_tokens: int) -> TimingPlan:
    """The plan of a zero-latency profile: nothing to draw, one shared plan per length."""
    return make_plan(0.0, 0.0, 0.0, (0.0,) * max(0, output_tokens - 1))


def draw_plan(
    profile: LatencyProfile, input_tokens: int, output_tokens: int, rng: RequestRandom
) -> TimingPlan:
    if profile.is_instant:  # benchmarks and tests: nothing to draw, share one plan
        return instant_plan(output_tokens)
    network = _draw(profile.network_ms, rng) / 1000.0
    prefill = _draw(profile.prefill_ms_per_token, rng) * input_tokens / 1000.0
    first = _draw(profile.first_token_ms, rng) / 1000.0
    n_gaps = max(0, output_tokens - 1)
    d = profile.decode_ms_per_token
    if n_gaps == 0 or d.median <= 0:
        gaps: tuple[float, ...] = (0.0,) * n_gaps
    elif d.spread <= 0:
        gaps = (d.median / 1000.0,) * n_gaps
    else:
        draws = rng.lognormal(math.log(d.median / 1000.0), d.spread, n_gaps)
        gaps = tuple(draws.tolist())
    return make_plan(network, prefill, network + prefill + first, gaps)
