"""When retries happen: the herd index and the retry peak (scenario seconds throughout).

Both read the start times of retries (attempts after a request's first). They answer
different questions: :func:`herd_index` asks whether retries come in synchronised waves (the
shape), :func:`retry_peak_rps` how hard they hit the provider at their worst moment (the
load). Jitter lowers the first; only fewer retries lower the second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "HERD_AROUND_S",
    "HERD_NEAR_S",
    "RETRY_PEAK_WINDOW_S",
    "busiest_window",
    "herd_index",
    "retry_peak_rps",
    "retry_starts",
]


def busiest_window(starts: np.ndarray, window_s: float) -> tuple[int, float]:
    """(most starts in any half-open window of ``window_s``, where that window begins).

    Exact sliding window: for each sorted start s_i, the window [s_i, s_i + w) holds
    ``searchsorted(s, s_i + w) - i`` starts; a window that starts on an attempt is always a
    maximal one. Needs at least one start.
    """
    s = np.sort(np.asarray(starts, dtype=float))
    counts = np.searchsorted(s, s + window_s, side="left") - np.arange(s.size)
    i = int(counts.argmax())
    return int(counts[i]), float(s[i])


HERD_NEAR_S = 0.1  # retries within +-100 ms of each other start "together"
HERD_AROUND_S = 2.0  # the retries within +-2 s set the level they stand out from


def herd_index(retry_starts: np.ndarray) -> float | None:
    """How bunched the retries are: 1 when spread at random, up to 20 when they come in waves.

    For each retry, count the other retries starting within +-``HERD_NEAR_S`` of it
    (*together*), and the other retries within +-``HERD_AROUND_S`` scaled down to the near
    window (*expected*: what "together" would be if the retries around it were spread
    evenly). The index is the mean over retries of (together + 1) / (expected + 1): about 1
    for retries at random times (a Poisson process), below 1 for retries more evenly spaced
    than that, and above 1 as they bunch.

    Why this and not a peak rate: a retry policy without jitter sends the clients that failed
    together back together, in waves with quiet between them; jitter spreads the same retries
    out. A peak rate cannot tell the two apart when a burst sets the peak, and it calls an
    immediate-retry flood (continuous, not waves) the worst herd. This ratio looks at the
    shape: a wave of m retries alone in its 4 s scores m / (1 + (m - 1) / 20); a flood or an even
    spread scores near 1, whatever its rate. Periodic waves 1 s apart (clients all waiting the
    same Retry-After) score lower than the same waves seconds apart, because at the 2 s scale
    they are a steady stream. None when nothing was retried.
    """
    r = np.sort(np.asarray(retry_starts, dtype=float))
    if r.size == 0:
        return None

    def within(half_width: float) -> np.ndarray:  # retries within +-half_width, itself included
        return np.searchsorted(r, r + half_width, "right") - np.searchsorted(r, r - half_width)

    together_plus_one = within(HERD_NEAR_S)
    expected = (within(HERD_AROUND_S) - 1) * (HERD_NEAR_S / HERD_AROUND_S)
    return float(np.mean(together_plus_one / (expected + 1.0)))


RETRY_PEAK_WINDOW_S = 0.25


def retry_peak_rps(starts: np.ndarray) -> float | None:
    """Most retries (attempts with ``attempt > 1``) starting in any 250 ms window, per second.

    The load the retries put on the provider at their worst moment, whatever their shape: an
    immediate-retry flood scores high here and low on :func:`herd_index`. None when nothing
    was retried.
    """
    if len(starts) == 0:
        return None
    peak, _ = busiest_window(starts, RETRY_PEAK_WINDOW_S)
    return peak / RETRY_PEAK_WINDOW_S


def retry_starts(attempts: pd.DataFrame) -> np.ndarray:
    """Start times of the attempts that are retries (``attempt > 1``)."""
    return attempts["start_t"].to_numpy(dtype=float)[(attempts["attempt"] > 1).to_numpy(dtype=bool)]
