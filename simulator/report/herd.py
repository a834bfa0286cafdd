"""When retries happen: the herd index and the retry peak (scenario seconds throughout).

Both read the start times of retries (attempts after a request's first); the herd index also
the run's retry period (:func:`retry_period`), which sets its time scale. They answer
different questions: :func:`herd_index` asks whether retries come in synchronised waves (the
shape), :func:`retry_peak_rps` how hard they hit the provider at their worst moment (the
load). Jitter lowers the first; only fewer retries lower the second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "HERD_AROUND",
    "HERD_NEAR",
    "RETRY_PEAK_WINDOW_S",
    "busiest_window",
    "herd_index",
    "retry_peak_rps",
    "retry_period",
    "retry_schedule",
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


HERD_NEAR = 1 / 40  # of the run's retry period: retries this close start "together"
HERD_AROUND = 1 / 2  # of the run's retry period: the retries this close set the level


def herd_index(
    retry_starts: np.ndarray, period: float | None, requests: np.ndarray | None = None
) -> float | None:
    """How bunched the retries are, on the run's own time scale: 1 at random, up to 20 in waves.

    The time scale is the run's *retry period* τ (:func:`retry_period`: the typical time from
    a failed attempt's start to its retry's, round trip plus wait). For each retry, count the
    retries of *other* logical requests starting within ±τ/40 of it (*together*), and those
    within ±τ/2 of it scaled down to the near window (*expected*: what "together" would be if
    the retries around it were spread evenly). The index is the mean over retries of
    (together + 1) / (expected + 1), read as 1 when below 1: about 1 for retries at random
    times (a Poisson process), and above 1 as they bunch. A wave of m retries alone in its
    ±τ/2 scores m / (1 + (m - 1) / 20). ``requests`` names each retry's logical request (any
    integer key); a herd is many clients coming back together, so a request's own retries are
    not counted against each other (without ``requests``, every retry is its own).

    Both windows are fractions of τ, so multiplying every time by k leaves the index as it
    was: the same retries judged at 100 ms and at 100 s agree. (Fixed windows, 100 ms and 2 s,
    scored full jitter in millisecond backoffs 8× and an immediate-retry flood 6-9×.)

    Why this and not a peak rate: a retry policy without jitter sends the clients that failed
    together back together, in waves with quiet between them; jitter spreads the same retries
    out. A peak rate cannot tell the two apart when a burst sets the peak. An immediate-retry
    flood's period is its round trip, and round trips vary by more than a fortieth, so at that
    scale its retries are spread: it scores about 1 in virtual time (about 3 live, where a
    round trip of a few milliseconds is no longer than the host's scheduling, which sends
    retries in batches) and shows instead in :func:`retry_peak_rps`. The index is scale-free
    but not mixture-free: jittering one backoff policy's waits lowers it
    (tests/test_herd_index.py), while jittering a mix of very short and very long waits can
    crowd the short ones' retries together, and the index says so.

    None when nothing was retried or the retries take no time (τ = 0).
    """
    r = np.asarray(retry_starts, dtype=float)
    if r.size == 0 or period is None or not period > 0:
        return None
    tau = float(period)
    near, around = HERD_NEAR * tau, HERD_AROUND * tau
    order = np.argsort(r, kind="stable")
    s = r[order]

    def within(half_width: float) -> np.ndarray:  # retries within +-half_width, itself included
        return np.searchsorted(s, s + half_width, "right") - np.searchsorted(s, s - half_width)

    together, around_n = within(near), within(around)
    if requests is not None:  # less the request's own retries (itself included)
        own_near, own_around = _own_within(s, np.asarray(requests)[order], (near, around))
        together, around_n = together - own_near + 1, around_n - own_around + 1
    expected = (around_n - 1) * (HERD_NEAR / HERD_AROUND)
    return max(1.0, float(np.mean(together / (expected + 1.0))))


def _own_within(
    s: np.ndarray, keys: np.ndarray, half_widths: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """For each start of sorted ``s``: how many starts with the same key lie within each
    half-width, itself included.

    The starts are laid out on one line, each key's block shifted past the last by more than
    the whole span plus both windows, so that one sorted search counts within a key only.
    """
    _, group = np.unique(keys, return_inverse=True)
    width = 2.0 * (float(s[-1] - s[0]) + 2.0 * max(half_widths))
    line = group * width + (s - s[0])
    line_sorted = np.sort(line)
    return tuple(
        np.searchsorted(line_sorted, line + w, "right") - np.searchsorted(line_sorted, line - w)
        for w in half_widths
    )


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


def retry_period(waits: np.ndarray, failed_round_trips: np.ndarray) -> float | None:
    """The run's own retry time scale: the median wait before a retry plus the median round
    trip of a failed attempt (seconds); None when nothing failed or was retried.

    A retry comes back one failed round trip plus one wait after the attempt before it, so
    this is the typical time between a client's attempts; it needs no pairing of a retry with
    the attempt before it, so it reads straight off the attempt rows.
    """
    w = np.asarray(waits, dtype=float)
    rt = np.asarray(failed_round_trips, dtype=float)
    w, rt = w[np.isfinite(w)], rt[np.isfinite(rt)]
    if w.size == 0 and rt.size == 0:
        return None
    return (float(np.median(w)) if w.size else 0.0) + (float(np.median(rt)) if rt.size else 0.0)


def retry_schedule(
    attempts: pd.DataFrame,
) -> tuple[np.ndarray, float | None, np.ndarray | None]:
    """(start times of the retries, :func:`retry_period` of the run, the logical request of
    each retry) from attempt rows: :func:`herd_index`'s arguments. The requests are None when
    the rows carry no ``trace_id``."""
    retry = (attempts["attempt"] > 1).to_numpy(dtype=bool)
    status = attempts["status"].to_numpy()
    failed = ~((status >= 200) & (status < 300))
    waits = attempts["slept_s"].to_numpy(dtype=float)[retry]
    round_trips = attempts["latency_ms"].to_numpy(dtype=float)[failed] / 1000.0
    starts = attempts["start_t"].to_numpy(dtype=float)[retry]
    requests = None
    if "trace_id" in attempts.columns:
        requests = pd.factorize(attempts["trace_id"])[0][retry]
    return starts, (retry_period(waits, round_trips) if starts.size else None), requests
