"""Which models a scenario's clients call, and whether the mock can answer them.

A misspelt model name is a config error, not a run in which every request gets a 404 and the
report shows 0% success. So ``stampede run`` checks every model a client will call (the
workload's model and each strategy's fallbacks) against the catalogue the mock serves: the
built-in models plus the scenario's ``provider.models``. Faults may name a model too. The
mock serves every chat model in its own dialect (Claude models through Anthropic's Messages
API), so any chat model can be called; ``itpm`` and ``otpm`` are refused on a model that does
not speak Anthropic's API, where they would be silently ignored.

The mock serves any name declared under ``provider.models``, so :func:`declared_model_notes`
warns where the real API would not: a retired model, or a name shaped like a provider's that
the catalogue lacks (a typo more often than a model of the scenario's own).
"""

from __future__ import annotations

import difflib
import re

from mock_provider.model.catalog import ModelSpec, build_catalog, served_on
from mock_provider.model.family import family_of
from mock_provider.model.published import PublishedModel, lifecycle, published_model
from simulator.config import Scenario

__all__ = ["called_models", "declared_model_notes", "model_problems"]


def _called(sc: Scenario) -> list[tuple[str, str]]:
    """(field path, model) for every model a client of the scenario may call."""
    refs = [("workload.model", sc.workload.model)]
    for name, client in sc.strategies.items():
        refs += [(f"strategies.{name}.fallback[{i}]", m) for i, m in enumerate(client.fallback)]
    return refs


def called_models(sc: Scenario) -> list[str]:
    """Every model a client of the scenario may call, each once, first the workload's."""
    return list(dict.fromkeys(model for _, model in _called(sc)))


def model_problems(sc: Scenario, own_mock: bool = True) -> list[tuple[str, str]]:
    """(field path, what is wrong and the fix) for each model the mock cannot answer.

    ``own_mock`` False: the run targets a mock started elsewhere, with a catalogue of its
    own, so names are not checked against this scenario's.
    """
    catalog = build_catalog(sc.provider)
    servable = sorted(n for n, s in catalog.items() if _servable(s))
    choose = f"use one of {', '.join(servable)}, or define it under provider.models"
    problems: list[tuple[str, str]] = []
    for where, model in _called(sc):
        spec = catalog.get(model)
        if spec is None:
            if own_mock:
                problems.append((where, f"{_why_not(model, sc)}: {choose}"))
        elif spec.kind != "chat":
            problems.append((where, f"{model!r} is an {spec.kind} model, not a chat model: "
                                    f"{choose}"))  # fmt: skip
    for name, m in sc.provider.models.items():
        spec = catalog[name]
        for limit in ("itpm", "otpm"):
            if getattr(m, limit) is not None and not family_of(spec).split_limits:
                typo = _unknown_provider_name(name, sc) if m.dialect is None else None
                problems.append((
                    f"provider.models.{name}.{limit}",
                    (f"{typo}; without `dialect: anthropic`, " if typo else "")
                    + f"{limit} limits models that speak Anthropic's Messages API, and {name!r} "
                    f"does not: use tpm (prompt + output tokens) for it",
                ))  # fmt: skip
    if own_mock:
        for i, fault in enumerate(sc.provider.faults):
            if fault.model != "*" and fault.model not in catalog:
                problems.append((
                    f"provider.faults[{i}].model",
                    f"unknown model {fault.model!r}: use '*' (every model) or one of "
                    f"{', '.join(sorted(catalog))}",
                ))  # fmt: skip
    return problems


def declared_model_notes(sc: Scenario) -> list[tuple[str, str]]:
    """(field path, note) for each ``provider.models`` name the real API would not answer
    as declared. The mock serves a declared model whatever its state, so a retired one
    runs where the real API answers 404, and a misspelt provider name (``claude-haiku-9``)
    runs as a new OpenAI-dialect model. Either may be on purpose: warnings, not errors.
    """
    notes = []
    for name, m in sc.provider.models.items():
        where = f"provider.models.{name}"
        published = published_model(name)
        if published and lifecycle(published, sc.provider.catalog_date) == "retired":
            notes.append((where, _retired_note(name, published)))
        elif m.dialect is None and (typo := _unknown_provider_name(name, sc)):
            notes.append((where, typo))
    return notes


def _retired_note(name: str, m: PublishedModel) -> str:
    instead = f" (replacement {m.replacement})" if m.replacement else ""
    use = f"use {m.replacement}, or" if m.replacement else "use a served model, or"
    return (
        f"{name} is retired since {m.retires}{instead}: declaring it here serves it anyway, "
        f"the real API answers 404; {use} keep it on purpose"
    )


# Names the providers give their models: one not in the catalogue is more likely a typo
# than a model of the scenario's own.
_PROVIDER_NAME = re.compile(r"claude-|gpt-|text-embedding-|o[134]\b")


def _unknown_provider_name(name: str, sc: Scenario) -> str | None:
    """Why a declared name looks misspelt (not published, shaped like a provider's), or None.

    Declaring ``dialect:`` says the model is the scenario's own (a caller checks it).
    """
    if published_model(name) is not None or not _PROVIDER_NAME.match(name):
        return None
    day = sc.provider.catalog_date
    close = difflib.get_close_matches(name, sorted(served_on(day)), n=3)
    either = f"{', '.join(close[:-1])} or {close[-1]}" if len(close) > 1 else "".join(close)
    guess = f"did you mean {either}? " if close else ""
    return (
        f"not in the catalogue (as of {day}); {guess}A model of the scenario's own needs "
        "`dialect:` when it is not OpenAI's"
    )


def _why_not(model: str, sc: Scenario) -> str:
    """Why the mock does not serve a name: never published, retired, or not out yet on the
    scenario's ``provider.catalog_date``."""
    day = sc.provider.catalog_date
    m = published_model(model)
    state = lifecycle(m, day) if m else None
    if m and state == "retired":
        instead = f"; its replacement is {m.replacement}" if m.replacement else ""
        return f"{model!r} retired on {m.retires} (catalog_date is {day}{instead})"
    if m and state == "unreleased":
        return f"{model!r} is released on {m.released} (catalog_date is {day})"
    return f"unknown model {model!r}"


def _servable(spec: ModelSpec) -> bool:
    return spec.kind == "chat"
