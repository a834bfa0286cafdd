"""The pre-flight check: what a valid scenario cannot show, found before anything runs.

A scenario can validate and still be unable to show what it claims: a TPM limit that admits
a seventh of the traffic, a fallback model that silently gets the provider's near-unlimited
default limits, an outage that starts after the last arrival. ``stampede run`` calls
:func:`preflight` after validation and ``stampede lint`` prints its findings.

Levels: an *error* means the scenario cannot run as written (exit 2, like a config error); a
*warning* means it runs but its verdict may not mean what the scenario says (printed before
the run and kept in ``run.json``); *info* is context, such as the headroom under each limit.

Pure: it takes the validated scenario (overrides applied) and returns findings; no I/O, no
clock. Demand figures come from :mod:`simulator.demand`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Literal

from mock_provider.model.catalog import ModelSpec, build_catalog
from mock_provider.model.family import family_of
from simulator.config import ClientConfig, Scenario
from simulator.demand import Demand, Limits, demand_on, limits_of, phases
from simulator.model_refs import declared_model_notes
from simulator.workload import Workload, build_workload

__all__ = ["Finding", "Level", "preflight"]

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the pre-flight check found, at the field a user would change."""

    level: Level
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def preflight(sc: Scenario, workload: Workload | None = None) -> list[Finding]:
    """Every finding for ``sc``: errors first, then warnings, then info.

    ``workload`` is ``build_workload(sc.workload, sc.seed, sc.duration)`` if the caller
    already has it (it is built here otherwise).
    """
    found = list(_arrival_windows(sc))
    if not any(f.level == "error" for f in found):
        try:
            workload = workload or build_workload(sc.workload, sc.seed, sc.duration)
        except ValueError as exc:
            found.append(Finding("error", "workload.arrivals", str(exc)))
        else:
            if workload.total == 0:
                found.append(
                    Finding(
                        "error",
                        "workload.arrivals",
                        f"produces no requests in {_s(sc.duration)} s; raise n, rate or duration",
                    )
                )
            else:
                found += _capacity(sc, workload)
    found += _fault_windows(sc)
    found += _default_limits(sc)
    found += [Finding("warning", field, note) for field, note in declared_model_notes(sc)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.level])


# --------------------------------------------------------------------------- windows


def _phase_path(sc: Scenario, i: int) -> str:
    return f"workload.arrivals[{i}]" if isinstance(sc.workload.arrivals, list) else (
        "workload.arrivals"
    )  # fmt: skip


def _arrival_windows(sc: Scenario) -> Iterator[Finding]:
    """Bursts and spikes outside the arrival window ``[0, duration)``."""
    d = sc.duration
    for i, arr in enumerate(phases(sc)):
        at = _phase_path(sc, i)
        if arr.kind == "burst" and arr.n and arr.at >= d:
            yield Finding(
                "error",
                f"{at}.at",
                f"the burst at {_s(arr.at)} s is at or after the duration ({_s(d)} s), so it "
                f"sends no requests; "
                + (f"move it before {_s(d)} s or raise duration" if d else "raise duration"),
            )
        if arr.kind == "spike" and arr.spike_start >= d:
            yield Finding(
                "warning",
                f"{at}.spike_start",
                f"the spike [{_s(arr.spike_start)}, {_s(arr.spike_end)}) s starts at or after "
                f"the duration ({_s(d)} s): it adds no requests, and the run shows only the "
                f"base rate; move it before {_s(d)} s or raise duration",
            )
        elif arr.kind == "spike" and arr.spike_end > d:
            yield Finding(
                "info",
                f"{at}.spike_end",
                f"the spike [{_s(arr.spike_start)}, {_s(arr.spike_end)}) s is cut at the "
                f"duration ({_s(d)} s): it lasts {_s(d - arr.spike_start)} s",
            )


def _called_models(sc: Scenario) -> dict[str, list[str]]:
    """Each model a client may call, with the field paths that make it call it."""
    called: dict[str, list[str]] = {sc.workload.model: ["workload.model"]}
    for name, client in sc.strategies.items():
        for i, model in enumerate(client.fallback):
            called.setdefault(model, []).append(f"strategies.{name}.fallback[{i}]")
    return called


def _fault_windows(sc: Scenario) -> Iterator[Finding]:
    """Faults that meet no arrival: after the duration, after the run, or on no called model."""
    d, end_of_run = sc.duration, sc.duration + sc.drain
    called = _called_models(sc)
    for i, f in enumerate(sc.provider.faults):
        at = f"provider.faults[{i}]"
        what = f"the {f.kind} on {f.model} from {_s(f.start)} s"
        if f.model != "*" and f.model not in called:
            yield Finding(
                "warning",
                f"{at}.model",
                f"{what} hits a model no client calls ({', '.join(sorted(called))}): it "
                "never fires",
            )
        elif f.start >= end_of_run:
            yield Finding(
                "warning",
                f"{at}.start",
                f"{what} starts after the run ends ({_s(d)} s of arrivals + {_s(sc.drain)} s "
                f"of drain): it never happens; move it inside [0, {_s(d)}) s",
            )
        elif f.start >= d:
            yield Finding(
                "warning",
                f"{at}.start",
                f"{what} starts at or after the last arrival (duration {_s(d)} s): it never "
                f"overlaps the arrivals and, inside the drain, meets only retries of earlier "
                f"requests; move it inside [0, {_s(d)}) s or raise duration",
            )


# --------------------------------------------------------------------------- limits


def _default_limits(sc: Scenario) -> Iterator[Finding]:
    """A called model without rpm/tpm of its own gets the provider's defaults: say so.

    A model that keeps Anthropic's rules is limited by rpm, itpm and otpm (its tpm is an
    optional combined cap), and those are the ones named; itpm and otpm default to
    ``default_tpm``. (Its ITPM and OTPM demand is not estimated here: what ITPM is charged
    depends on the cache reads of the run.)
    """
    given = sc.provider.model_fields_set
    catalog = build_catalog(sc.provider)
    for model, callers in _called_models(sc).items():
        lim = limits_of(sc, model)
        spec = catalog.get(model)
        m = sc.provider.models.get(model)
        if spec is not None and family_of(spec).split_limits:
            unset = [("rpm", lim.rpm_default)]
            unset += [(n, m is None or getattr(m, n) is None) for n in ("itpm", "otpm")]
        else:
            unset = [("rpm", lim.rpm_default), ("tpm", lim.tpm_default)]
        missing = [n for n, dflt in unset if dflt]
        if not missing:
            continue
        default_of = {"rpm": "rpm", "tpm": "tpm", "itpm": "tpm", "otpm": "tpm"}
        stock = [n for n in missing if f"default_{default_of[n]}" not in given]
        values = " and ".join(
            f"provider.default_{default_of[n]} "
            f"{_int(lim.rpm if n == 'rpm' else sc.provider.default_tpm)}"
            for n in missing
        )
        fix = " and ".join(f"provider.models.{model}.{n}" for n in missing)
        message = (
            f"{model} ({', '.join(callers)}) has no {' or '.join(missing)} of its own, so it "
            f"gets {values}"
        )
        if stock:
            message += ": effectively unlimited, so it absorbs traffic a real account would refuse"
        yield Finding("warning" if stock else "info", f"provider.models.{model}", (
            f"{message}; set {fix}"
        ))  # fmt: skip


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True, slots=True)
class _Load:
    """One model's demand under the strategies that share it, and where it comes from."""

    model: str
    spec: ModelSpec
    limits: Limits
    demand: Demand
    primary: str  # the workload's model
    fallback_paths: tuple[str, ...]  # empty: the workload's own model
    strategies: tuple[str, ...]


def _loads(sc: Scenario, workload: Workload) -> list[_Load]:
    """Demand per (model, strategy), strategies with identical figures merged."""
    catalog = build_catalog(sc.provider)
    primary = sc.workload.model
    merged: dict[tuple[str, bool, Demand], tuple[list[str], list[str]]] = {}
    specs: dict[str, ModelSpec] = {}
    for name, client in sc.strategies.items():
        targets = [(primary, "")] + [
            (m, f"strategies.{name}.fallback[{i}]")
            for i, m in enumerate(client.fallback)
            if m != primary
        ]
        for model, path in targets:
            spec = catalog.get(model)
            if spec is None:  # an unknown model is a config error reported elsewhere
                continue
            specs[model] = spec
            # An app's own guards are unknown: its first attempts are the workload's.
            as_client = client if isinstance(client, ClientConfig) else ClientConfig()
            d = demand_on(sc, workload, as_client, spec, limits_of(sc, model))
            paths, names = merged.setdefault((model, bool(path), d), ([], []))
            paths += [path] if path else []
            names.append(name)
    return [
        _Load(model, specs[model], limits_of(sc, model), d, primary, tuple(p), tuple(n))
        for (model, _, d), (p, n) in merged.items()
    ]


def _capacity(sc: Scenario, workload: Workload) -> Iterator[Finding]:
    every = len(sc.strategies)
    for load in _loads(sc, workload):
        for f in _load_findings(load, every):
            yield _intended(f) if sc.overload == "intended" else f


_INTENDED = "; this overload is what the scenario is about (overload: intended)"


def _intended(f: Finding) -> Finding:
    """A demand-above-the-limit warning in a scenario that says its overload is the point: it
    shows what the scenario claims, so it is context (info), not a doubt about the verdict."""
    if f.level != "warning" or "charged more than the whole TPM limit" in f.message:
        return f  # requests that can never be admitted are a mistake, whatever was intended
    return Finding("info", f.field, f.message + _INTENDED)


def _load_findings(load: _Load, every: int) -> Iterator[Finding]:
    d, lim, model = load.demand, load.limits, load.model
    who = model
    if load.fallback_paths:
        who = (
            f"fallback {model} ({', '.join(load.fallback_paths)}), if it gets all of "
            f"{load.primary}'s traffic (in an outage, or while {load.primary} refuses)"
        )
    elif len(load.strategies) < every:
        who = f"{model} (strategies {', '.join(load.strategies)})"
    guard = ""
    if d.refused_by_guard:
        guard = (
            f" (after the input guard refuses {_int(d.refused_by_guard)} of "
            f"{_int(d.refused_by_guard + d.requests)} prompts)"
        )
    rpm_field = f"provider.models.{model}.rpm" if not lim.rpm_default else "provider.default_rpm"
    tpm_field = f"provider.models.{model}.tpm" if not lim.tpm_default else "provider.default_tpm"
    admission = (
        f"each request is charged prompt + max_tokens {_int(d.max_tokens)}"
        f"{' (the provider default)' if d.max_tokens_default else ''} at admission "
        f"({_n(d.admission_tokens)} mean; prompt p95 {_n(d.prompt_p95)}) and settled to its "
        f"real count after"
    )
    fine = []

    if d.burst:
        if d.burst > lim.rpm:
            wait = (d.burst - lim.rpm) * 60.0 / lim.rpm
            yield Finding("warning", rpm_field, (
                f"{who}: a burst of {_int(d.burst)} requests at t={_s(d.burst_at)} s against "
                f"{_int(lim.rpm)} RPM: the bucket starts with {_int(lim.rpm)} and refills "
                f"{_n(lim.rpm / 60)} a second, so {_int(lim.rpm)} are admitted at once and the "
                f"last of the other {_int(d.burst - lim.rpm)} waits about {_n(wait)} s (before "
                f"retries){guard}"
            ))  # fmt: skip
        else:
            fine.append(f"a burst of {_int(d.burst)} fits its {_int(lim.rpm)} RPM bucket")
        at_once = int(lim.tpm // d.admission_tokens) if d.admission_tokens else d.burst
        if at_once < d.burst and not lim.split:
            yield Finding("warning", tpm_field, (
                f"{who}: a burst of {_int(d.burst)} requests x {_n(d.admission_tokens)} tokens "
                f"= {_n(d.burst * d.admission_tokens)} tokens against a TPM limit of "
                f"{_int(lim.tpm)}: about {_int(at_once)} are admitted at once, the rest as the "
                f"bucket refills; {admission}"
            ))  # fmt: skip

    if d.per_min > 0:
        per_min = _n(d.per_min)
        if d.per_min > lim.rpm:
            yield Finding("warning", rpm_field, (
                f"{who}: about {per_min} requests/min at peak{guard} against {_int(lim.rpm)} "
                f"RPM: about {_int(lim.rpm)} of {per_min} requests a minute can be admitted "
                f"(before retries)"
            ))  # fmt: skip
        else:
            fine.append(f"{per_min} requests/min at peak against {_int(lim.rpm)} RPM "
                        f"({_pct(d.per_min / lim.rpm)})")  # fmt: skip
        tokens = d.per_min * d.settled_tokens
        if lim.split:
            pass  # ITPM / OTPM demand depends on the run's cache reads: not estimated
        elif tokens > lim.tpm:
            admitted = min(d.per_min, lim.tpm / d.settled_tokens)
            yield Finding("warning", tpm_field, (
                f"{who}: about {per_min} requests/min{guard} x {_n(d.settled_tokens)} tokens "
                f"(prompt {_n(d.prompt_mean)} mean + {_n(d.output_tokens)} output) = "
                f"{_n(tokens)} tokens/min against a TPM limit of {_int(lim.tpm)}: about "
                f"{_n(admitted)} of {per_min} requests a minute can be admitted; {admission}"
            ))  # fmt: skip
        else:
            fine.append(f"{_n(tokens)} tokens/min against {_int(lim.tpm)} TPM "
                        f"({_pct(tokens / lim.tpm)}; {_n(d.settled_tokens)} tokens a request "
                        f"settled, {_n(d.admission_tokens)} charged at admission)")  # fmt: skip

    if d.too_large and not lim.split:
        yield Finding("warning", tpm_field, (
            f"{who}: {_int(d.too_large)} of {_int(d.requests)} requests are charged more than the "
            f"whole TPM limit ({_int(lim.tpm)}) at admission (up to {_int(d.largest_admission)} "
            f"tokens): the mock refuses them every time, with no Retry-After; lower max_tokens "
            f"or guard the input size"
        ))  # fmt: skip
    if fine:
        yield Finding("info", f"provider.models.{model}", f"{who}: {'; '.join(fine)}")


def _n(x: float) -> str:
    """A figure as a person reads it: 300, 1,250, 2.5, 0.33; 212,000 for 212,313 (three
    significant figures from 10,000 up: these are estimates)."""
    if abs(x) >= 10_000:
        return f"{round(x, 3 - len(str(int(abs(x))))):,.0f}"
    if abs(x) >= 10 or x == int(x):
        return f"{round(x):,}"
    return f"{x:.2g}" if abs(x) < 1 else f"{x:.1f}".rstrip("0").rstrip(".")


def _int(x: int) -> str:
    """A count or limit from the config, exactly."""
    return f"{x:,}"


def _s(seconds: float) -> str:
    """Seconds from the config, as written: 30, 2.5, 86,400."""
    return f"{seconds:,.0f}" if seconds == int(seconds) else f"{seconds:,g}"


def _pct(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 else "under 1%"
