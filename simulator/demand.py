"""What a scenario's traffic asks of a model: requests and tokens per minute, at peak.

The pre-flight check compares these figures with each model's limits, before anything runs,
so a scenario that cannot show what it claims (a TPM limit that admits a seventh of the
traffic, a fallback that takes it all) says so up front. Pure: no I/O, no clock.

Theory of operation (the rules, then the code):

- **Peak request rate** (requests per second): the highest value over ``[0, duration)`` of
  the summed rate functions that ``simulator/workload.py`` draws arrivals from, since
  overlaid phases add. So poisson peaks at ``rate``, a ramp at ``max(start_rate, end_rate)``,
  a spike at ``rate + spike_rate`` (when its window starts inside the duration), a diurnal
  at ``rate * (1 + amplitude)`` (once the run lasts a quarter period), and a ramp plus a
  spike at the ramp's rate *during* the spike plus the spike. ``max_requests`` caps a phase at
  that many a minute. Closed loop: ``users / (mean think time + typical response time)``,
  the response time from the model's median latency phases. A burst is not a rate: ``n``
  requests at one instant, compared with the bucket's capacity instead.
  ``prompts.repeat`` multiplies everything (each logical request is sent that many times).
- **Tokens per request, as the mock counts them** (``mock_provider/model/provider.py`` and
  ``limits.py``): at admission the TPM bucket is charged the *estimate*, prompt tokens +
  ``max_tokens`` (``provider.default_max_tokens`` when the request sets none); when the
  response is done the charge is settled to prompt + output tokens, the output being
  ``provider.output_tokens.median`` capped by ``max_tokens`` and the model's
  ``max_output_tokens``. Prompt tokens come from the materialised workload (exact counts).
- **Sustained admission**: in the long run every admitted request costs its settled tokens,
  so a TPM limit admits about ``tpm / settled`` requests a minute, an RPM limit ``rpm``.
- **A strategy changes what reaches the model**: ``guards.max_input_tokens`` refuses longer
  prompts before any attempt; ``guards.max_output_tokens`` lowers ``max_tokens``.

Figures are first attempts only: retries add to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mock_provider.config import ProviderConfig
from mock_provider.model.catalog import LatencyProfile, ModelSpec, build_catalog, limits_for
from mock_provider.model.family import family_of
from simulator.client.guards import clamp_max_tokens
from simulator.config import ArrivalConfig, ClientConfig, Scenario
from simulator.workload import Workload

__all__ = [
    "Demand",
    "Limits",
    "catalog_limits",
    "demand_on",
    "limits_of",
    "peak_per_s",
    "phases",
    "rate_at",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """A model's RPM and TPM in the mock, and whether each came from the provider default."""

    rpm: int
    tpm: int
    rpm_default: bool
    tpm_default: bool
    # Anthropic's split limits (ITPM, OTPM; tpm an optional combined cap): their token demand
    # is not estimated, since what ITPM is charged depends on the run's cache reads.
    split: bool = False


def limits_of(sc: Scenario, model: str) -> Limits:
    """The limits the mock gives ``model`` (as ``Provider._limits_for`` picks them)."""
    spec = build_catalog(sc.provider).get(model)
    if spec is None:  # a name the mock does not serve: the provider defaults
        p = sc.provider
        return Limits(p.default_rpm, p.default_tpm, True, True)
    split = family_of(spec).split_limits
    lim = limits_for(sc.provider, spec, split)
    tpm = sc.provider.default_tpm if lim.tpm is None else lim.tpm
    return Limits(lim.rpm, tpm, lim.rpm_default, lim.tpm_default, split)


def catalog_limits(provider: Mapping[str, Any], model: str) -> tuple[float | None, ...]:
    """(RPM, TPM) of ``model`` under a saved scenario's ``provider`` section, by the mock's
    rule (:func:`limits_for`); for the report, which reads the scenario back as a mapping."""
    cfg = ProviderConfig.model_validate(provider)
    spec = build_catalog(cfg).get(model)
    if spec is None:
        return (float(cfg.default_rpm), float(cfg.default_tpm))
    lim = limits_for(cfg, spec, family_of(spec).split_limits)
    return (float(lim.rpm), float(lim.tpm if lim.tpm is not None else cfg.default_tpm))


@dataclass(frozen=True, slots=True)
class Demand:
    """The first attempts one strategy's traffic sends to one model, at peak."""

    per_min: float  # sustained requests per minute at peak (bursts apart)
    burst: int  # requests arriving at one instant, 0 without a burst
    burst_at: float
    requests: int  # requests that reach the model over the run (after guards)
    refused_by_guard: int  # requests the input guard refuses before any attempt
    prompt_mean: float
    prompt_p95: float
    max_tokens: int  # the per-request output allowance charged at admission
    max_tokens_default: bool  # True: no max_tokens sent, the provider's default applies
    output_tokens: float  # expected output per request (median, capped)
    admission_tokens: float  # mean charge at admission: prompt + max_tokens
    settled_tokens: float  # mean tokens once settled: prompt + output
    too_large: int  # requests whose admission charge is larger than ``tpm`` of ``limits``
    largest_admission: int


def phases(sc: Scenario) -> list[ArrivalConfig]:
    arrivals = sc.workload.arrivals
    return arrivals if isinstance(arrivals, list) else [arrivals]


def rate_at(arr: ArrivalConfig, t: np.ndarray, duration: float) -> np.ndarray:
    """The arrival rate (requests per second) of one open-loop phase at times ``t``.

    The same rate functions ``simulator/workload.py`` draws from; a burst has no rate.
    """
    if arr.kind == "poisson":
        return np.full(t.shape, arr.rate)
    if arr.kind == "ramp":
        return arr.start_rate + (arr.end_rate - arr.start_rate) * t / duration
    if arr.kind == "spike":
        inside = (t >= arr.spike_start) & (t < arr.spike_end)
        return arr.rate + arr.spike_rate * inside
    if arr.kind == "diurnal":
        omega = 2 * math.pi / arr.period if arr.period > 0 else 0.0
        return arr.rate * (1 + arr.amplitude * np.sin(omega * t))
    return np.zeros(t.shape)


_GRID = 4001  # points on [0, duration): a sine's peak is missed by under 1e-6 of its height


def peak_per_s(arrivals: list[ArrivalConfig], duration: float) -> float:
    """The highest summed open-loop rate over ``[0, duration)``; a phase's ``max_requests``
    caps its rate at that many a minute."""
    if duration <= 0:
        return 0.0
    edges = [a.spike_start for a in arrivals if a.kind == "spike"]
    edges += [a.spike_end for a in arrivals if a.kind == "spike"]
    t = np.concatenate([np.linspace(0.0, duration, _GRID), np.asarray(edges, dtype=float)])
    t = np.concatenate([t, np.nextafter(t, -np.inf)])  # just before each edge too
    t = t[(t >= 0) & (t < duration)]
    total = np.zeros(t.shape)
    for arr in arrivals:
        rate = rate_at(arr, t, duration)
        if arr.max_requests is not None:
            rate = np.minimum(rate, arr.max_requests / 60.0)
        total += rate
    return float(total.max()) if total.size else 0.0


def response_s(latency: LatencyProfile, prompt_tokens: float, output_tokens: float) -> float:
    """A typical response time: the medians of the latency phases (``latency.py``)."""
    ms = (
        latency.network_ms.median
        + latency.prefill_ms_per_token.median * prompt_tokens
        + latency.first_token_ms.median
        + latency.decode_ms_per_token.median * max(0.0, output_tokens - 1)
    )
    return ms / 1000.0


def demand_on(
    sc: Scenario, workload: Workload, client: ClientConfig, spec: ModelSpec, limits: Limits
) -> Demand:
    """What ``client``'s traffic asks of the model ``spec`` if all of it goes there.

    For the workload's own model that is the traffic; for a fallback it is the most it can
    receive (the primary down or refusing everything).
    """
    p = sc.workload.prompts
    every = [r.input_tokens for r in workload.open_loop]
    every += [r.input_tokens for s in workload.closed_loop for r in s]
    prompts = np.asarray(every, dtype=np.int64)
    guard = client.guards.max_input_tokens
    sent = prompts if guard is None else prompts[prompts <= guard]
    share = sent.size / prompts.size if prompts.size else 0.0

    clamped = clamp_max_tokens(p.max_tokens, client.guards)
    allowance = clamped if clamped is not None else sc.provider.default_max_tokens
    cap = min(spec.max_output_tokens, clamped) if clamped is not None else spec.max_output_tokens
    output = min(max(1.0, round(sc.provider.output_tokens.median)), cap)
    mean = float(sent.mean()) if sent.size else 0.0
    admission = sent + allowance

    burst, burst_at = 0, 0.0
    for arr in phases(sc):
        if arr.kind == "burst" and arr.at < sc.duration:
            n = arr.n if arr.max_requests is None else min(arr.n, arr.max_requests)
            burst, burst_at = burst + n, arr.at
    loop = next((a for a in phases(sc) if a.kind == "closed_loop"), None)
    if loop is not None:  # never combined with other phases (build_workload refuses it)
        think = loop.think_time.median * math.exp(loop.think_time.spread**2 / 2)
        cycle = think + p.repeat * response_s(spec.latency, mean, output)
        rate_s = loop.users * p.repeat / cycle if cycle > 0 else math.inf
        if loop.max_requests is not None:
            rate_s = min(rate_s, loop.max_requests * p.repeat / 60.0)
    else:
        rate_s = peak_per_s(phases(sc), sc.duration) * p.repeat
    return Demand(
        per_min=rate_s * 60.0 * share,
        burst=round(burst * p.repeat * share),
        burst_at=burst_at,
        requests=int(sent.size),
        refused_by_guard=int(prompts.size - sent.size),
        prompt_mean=mean,
        prompt_p95=float(np.percentile(sent, 95)) if sent.size else 0.0,
        max_tokens=allowance,
        max_tokens_default=clamped is None,
        output_tokens=float(output),
        admission_tokens=mean + allowance,
        settled_tokens=mean + output,
        too_large=int((admission > limits.tpm).sum()),
        largest_admission=int(admission.max()) if admission.size else 0,
    )
