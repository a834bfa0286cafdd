"""Which models a scenario's clients call, and whether the mock can answer them.

A misspelt model name is a config error, not a run in which every request gets a 404 and the
report shows 0% success. So ``stampede run`` checks every model a client will call (the
workload's model and each strategy's fallbacks) against the catalogue the mock serves: the
built-in models plus the scenario's ``provider.models``. Faults may name a model too.
"""

from __future__ import annotations

from mock_provider.model.catalog import ModelSpec, build_catalog
from simulator.config import Scenario

__all__ = ["called_models", "model_problems"]


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
    own, so names are not checked against this scenario's; the wire format still is, since
    the clients take it from this scenario's catalogue.
    """
    catalog = build_catalog(sc.provider)
    servable = sorted(n for n, s in catalog.items() if _servable(s))
    choose = f"use one of {', '.join(servable)}, or define it under provider.models"
    problems: list[tuple[str, str]] = []
    for where, model in _called(sc):
        spec = catalog.get(model)
        if spec is None:
            if own_mock:
                problems.append((where, f"unknown model {model!r}: {choose}"))
        elif spec.kind != "chat":
            problems.append((where, f"{model!r} is an {spec.kind} model, not a chat model: "
                                    f"{choose}"))  # fmt: skip
        elif spec.dialect != "openai":
            problems.append((
                where,
                f"{model!r} speaks the {spec.dialect.title()} Messages API, which the mock "
                f"does not serve yet (it serves OpenAI's /v1/chat/completions): set "
                f"provider.models.{model}.dialect to openai to call it in OpenAI's format, "
                f"or {choose}",
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


def _servable(spec: ModelSpec) -> bool:
    return spec.kind == "chat" and spec.dialect == "openai"
