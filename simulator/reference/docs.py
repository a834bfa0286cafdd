"""``docs/scenarios.md``: every field of a scenario file, where it goes, and what it means.

Written from the schema classes (types, defaults, bounds, which kinds read which fields) and
:data:`~simulator.reference.fields.FIELD_DOCS` (the words), so it is regenerated rather than
edited: ``stampede schema --docs docs/`` writes it with the two JSON Schemas, and
``tests/test_reference.py`` fails when the committed copy differs from a fresh one.
"""

from __future__ import annotations

import json
import typing
from collections import defaultdict
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mock_provider.config import FAULT_FIELDS, KindFields
from simulator.config import ARRIVAL_FIELDS, RETRY_FIELDS, ClientConfig, Scenario
from simulator.reference.fields import FIELD_DOCS
from simulator.reference.models import FieldView, field_views, models_in_order, type_text
from simulator.reference.starter import STARTER

__all__ = ["model_paths", "render_docs"]

_KIND_TABLES: dict[str, tuple[str, dict[str, KindFields]]] = {
    "ArrivalConfig": ("kind", ARRIVAL_FIELDS),
    "FaultWindowConfig": ("kind", FAULT_FIELDS),
    "RetryConfig": ("kind", RETRY_FIELDS),
}


def model_paths(root: type[BaseModel] = Scenario) -> dict[type[BaseModel], list[str]]:
    """Where each model sits in a file: ``workload.arrivals``, ``provider.models.<name>``."""
    paths: dict[type[BaseModel], list[str]] = defaultdict(list)

    def visit(model: type[BaseModel], at: str) -> None:
        if at in paths[model]:
            return
        paths[model].append(at)
        for view in field_views(model):
            for sub, suffix in _placed(view.annotation):
                visit(sub, f"{at}.{view.name}{suffix}".lstrip("."))

    visit(root, "")
    return paths


def _placed(t: Any, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    """The models inside a field's type, each with how its place is written."""
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [(t, suffix)]
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is list:
        return _placed(args[0], f"{suffix}[i]")
    if origin is dict:
        return _placed(args[1], f"{suffix}.<name>")
    return [p for a in args for p in _placed(a, suffix)]


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _link(model: type[BaseModel]) -> str:
    return f"[{model.__name__}](#{_anchor(model)})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _flow(value: Any) -> str:
    """A value as YAML writes it inline: ``{median: 300, spread: 0.5}``, ``[a, b]``, ``2m``."""
    if value is None:
        return "null"
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.strip().removesuffix("...").strip()


def _default(view: FieldView) -> str:
    if view.required:
        return "**required**"
    value = view.default
    if value is PydanticUndefined:
        return "**required**"
    if value == {} and any(True for _ in _placed(view.annotation)):
        return "(its fields' defaults)"
    return f"`{_flow(value)}`"


def _example(view: FieldView) -> str:
    doc = FIELD_DOCS[view.key]
    value = doc.example if doc.example is not None else view.default
    if value is None or value is PydanticUndefined:
        return ""
    return f"`{view.name}: {_flow(value)}`"


def _units(view: FieldView) -> str:
    doc = FIELD_DOCS[view.key]
    if doc.units:
        return doc.units
    if type_text(view.annotation, view.info).startswith("duration"):
        return "seconds"
    return ""


def _model_section(model: type[BaseModel], paths: list[str]) -> list[str]:
    where = ", ".join(f"`{p}`" for p in paths) if paths and paths[0] else "the top level"
    lines = [f'<a id="{_anchor(model)}"></a>', f"### {model.__name__}", "", f"Goes at {where}."]
    summary = (model.__doc__ or "").strip().split("\n\n")[0]
    if summary and model is not Scenario:
        lines += ["", " ".join(s.strip() for s in summary.splitlines())]
    lines += [
        "",
        "| field | type | default | units | what it is | example |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for view in field_views(model):
        doc = FIELD_DOCS[view.key]
        row = [
            f"`{view.name}`",
            type_text(view.annotation, view.info, _link),
            _default(view),
            _units(view),
            doc.text,
            _example(view),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    if model.__name__ in _KIND_TABLES:
        field, table = _KIND_TABLES[model.__name__]
        lines += ["", f"Which fields each `{field}` reads (any other field is a config error):", ""]
        lines += ["| kind | needs | may set |", "| --- | --- | --- |"]
        for kind, fields in table.items():
            needs = ", ".join(f"`{f}`" for f in fields.required) or "-"
            may = ", ".join(f"`{f}`" for f in fields.optional) or "-"
            lines.append(f"| `{kind}` | {needs} | {may} |")
    return [*lines, ""]


def _field_index(paths: dict[type[BaseModel], list[str]]) -> list[str]:
    where: dict[str, list[str]] = defaultdict(list)
    for model, places in paths.items():
        table = _KIND_TABLES[model.__name__][1] if model.__name__ in _KIND_TABLES else {}
        for view in field_views(model):
            readers = [k for k, f in table.items() if view.name in f.used]
            note = f" ({', '.join(readers)})" if 0 < len(readers) < len(table) else ""
            for p in places:
                entry = f"`{p}.{view.name}`".replace("`.", "`") + note
                if entry not in where[view.name]:
                    where[view.name].append(entry)
    lines = ["| field | where it goes (the kinds that read it) |", "| --- | --- |"]
    for name in sorted(where):
        lines.append(f"| `{name}` | {', '.join(where[name])} |")
    return lines


def _metrics() -> list[str]:
    from simulator.report.metrics import METRICS

    lines = ["| metric | unit | better | what it is |", "| --- | --- | --- | --- |"]
    for name, m in METRICS.items():
        lines.append(f"| `{name}` | {m.unit} | {m.better or '-'} | {_cell(m.description)} |")
    return lines


def _catalogue() -> list[str]:
    """One row per published model: its names, dialect, sizes and state on the default day."""
    from mock_provider.config import CATALOG_DATE
    from mock_provider.model.published import lifecycle, published

    day = CATALOG_DATE
    lines = [
        "The models the providers publish, from `mock_provider/model/catalog.yaml`, in their state",
        f"on the default `provider.catalog_date` ({day}); a scenario may set another day. Any name",
        "under `provider.models` overrides a catalogue model's fields, or declares a model of the",
        "scenario's own (OpenAI's dialect unless it sets `dialect: anthropic`).",
        "",
        f"| id | aliases | dialect | context window | max output | on {day} |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for dialect, models in published().items():
        for m in models:
            state = {
                "unreleased": f"released {m.released}",
                "active": "served",
                "deprecated": f"deprecated (retires {m.retires})",
                "retired": f"retired {m.retires}",
            }[lifecycle(m, day)]
            row = [
                f"`{m.id}`",
                ", ".join(f"`{a}`" for a in m.aliases) or "-",
                dialect if m.kind == "chat" else f"{dialect} ({m.kind})",
                f"{m.context_window:,}",
                f"{m.max_output:,}" if m.max_output else "-",
                state,
            ]
            lines.append("| " + " | ".join(row) + " |")
    return lines


def render_docs() -> str:
    """The whole of ``docs/scenarios.md``."""
    paths = model_paths(Scenario)
    out = [
        "# Scenario reference",
        "",
        "<!-- Generated by `stampede schema --docs docs/` from simulator/config.py,",
        "     mock_provider/config.py, mock_provider/model/catalog.yaml and",
        "     simulator/reference/fields.py. Do not edit by hand: tests/test_reference.py",
        "     fails when this file is stale. -->",
        "",
        "A scenario is a YAML file: the provider to imitate, the traffic to send, and the client",
        "strategies to compare. `stampede init` writes the starter below; `stampede lint FILE`",
        "checks a file before a run; `stampede list` shows the scenarios that ship.",
        "",
        "**In an editor.** `stampede schema` writes `scenario.schema.json` and",
        "`client.schema.json`. With the YAML language server (VS Code's YAML extension, Neovim,",
        "Helix, ...), a first line such as",
        "",
        "```yaml",
        "# yaml-language-server: $schema=./scenario.schema.json",
        "```",
        "",
        "completes and checks every field as you type (a client file for `stampede check` takes",
        "`client.schema.json`). The schema cannot say which fields each `kind` reads; `stampede",
        "lint` does.",
        "",
        "**Units.** Every time is *scenario time*, in seconds: write a number, or text such as",
        "`250ms`, `90s`, `2m`, `1.5h`. A live run may compress scenario time (`time_scale`);",
        "reports are always in scenario time. Token counts are tokens, prices USD per million",
        "tokens, rates per second (arrivals) or per minute (limits).",
        "",
        "## A complete scenario",
        "",
        "This runs as it is (`stampede run starter.yaml --virtual`):",
        "",
        "```yaml",
        STARTER.rstrip(),
        "```",
        "",
        "## Where each field goes",
        "",
        *_field_index(paths),
        "",
        "## Sections",
        "",
    ]
    for model in models_in_order(Scenario):
        out += _model_section(model, paths[model])
    client_only = [m for m in models_in_order(ClientConfig) if m not in paths]
    for model in client_only:  # none today: a client file is a strategy entry
        out += _model_section(model, [])
    out += [
        "## Models in the catalogue",
        "",
        *_catalogue(),
        "",
        "## Client files",
        "",
        "`stampede check CLIENT` reads a client file: one [ClientConfig](#clientconfig) mapping,",
        "as a strategy entry of a scenario would be written (`retry`, `fallback`, `guards`,",
        "`timeouts`, ...), or a preset's name (`stampede list`).",
        "",
        "## Metrics",
        "",
        "The names `thresholds` and `objective` take (definitions in",
        "`simulator/report/metrics.py`). A threshold is an operator and a number:",
        '`"< 8000"`, `"<= 1.5"`, `">= 0.99"`, `"== 0"`.',
        "",
        *_metrics(),
        "",
    ]
    return "\n".join(out)


def schemas_json() -> dict[str, str]:
    """Both JSON Schemas as the files hold them."""
    from simulator.reference.schema import SCHEMA_FILES, client_schema, scenario_schema

    made = {"scenario": scenario_schema, "client": client_schema}
    return {name: json.dumps(made[kind](), indent=2) + "\n" for name, kind in SCHEMA_FILES.items()}
