"""JSON Schema of scenario and client files, for editors (``stampede schema``).

pydantic writes the schema from the classes; four things a file may write are done by
validators pydantic cannot see, and are added here so that an editor accepts what
``stampede run`` accepts: durations as text (``"90s"``), ``time_scale: auto``, an
``objective`` written as a metric name or a list, and the older retry kind names. Each
property's description is :data:`~simulator.reference.fields.FIELD_DOCS`' sentence and unit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulator.config import RETRY_KIND_ALIASES, SCENARIO_NAME, ClientConfig, Scenario
from simulator.reference.fields import FIELD_DOCS
from simulator.reference.models import field_views, models_in_order, walks_durations

__all__ = ["SCHEMA_FILES", "client_schema", "scenario_schema", "write_schemas"]

DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"
_DURATION_TEXT = {"type": "string", "pattern": DURATION_PATTERN}
SCHEMA_FILES = {"scenario.schema.json": "scenario", "client.schema.json": "client"}


def scenario_schema() -> dict[str, Any]:
    """The schema of a scenario file (what ``stampede run`` and ``lint`` read)."""
    schema = _schema(Scenario, "llm-stampede scenario")
    props = schema["properties"]
    props["time_scale"] = {
        **_described("Scenario.time_scale"),
        "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "auto"}],
        "default": 1.0,
    }
    objective = props["objective"]
    objective["anyOf"] = [
        *objective.get("anyOf", []),
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
    return schema


def client_schema() -> dict[str, Any]:
    """The schema of a client file (what ``stampede check CLIENT`` reads)."""
    return _schema(ClientConfig, "llm-stampede client")


def _schema(root: type[BaseModel], title: str) -> dict[str, Any]:
    schema = root.model_json_schema(by_alias=False)
    defs = schema.get("$defs", {})
    for model in models_in_order(root):
        where = schema if model is root else defs.get(model.__name__)
        if where is None:
            continue
        for view in field_views(model):
            prop = where["properties"][view.name]
            if walks_durations(view.annotation, view.info):
                _accept_duration_text(prop)
            prop.update(_described(view.key))
            if view.key == "RetryConfig.kind":
                prop["enum"] = [*prop["enum"], *RETRY_KIND_ALIASES]
            if view.key == "ClientConfig.fallback_on":  # an unquoted 429 is the status too
                prop["items"] = {"enum": [*prop["items"]["enum"], 429]}
            if view.key == "Scenario.name":
                prop.update(pattern=f"^{SCENARIO_NAME.pattern}$", maxLength=100)
    schema["title"] = title
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _described(key: str) -> dict[str, str]:
    doc = FIELD_DOCS.get(key)
    if doc is None:
        return {}
    units = f" ({doc.units})" if doc.units else ""
    return {"description": f"{doc.text}{units}"}


def _accept_duration_text(prop: dict[str, Any]) -> None:
    """A number, or a duration written as text; ``null`` stays allowed where it was."""
    if "anyOf" in prop:
        prop["anyOf"] = [*map(_standard_bounds, prop["anyOf"]), _DURATION_TEXT]
        return
    keys = ("type", "minimum", "exclusiveMinimum", "ge", "gt")
    number = _standard_bounds({k: prop.pop(k) for k in keys if k in prop})
    prop["anyOf"] = [number, _DURATION_TEXT]


def _standard_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic leaves a bound behind a BeforeValidator under its Python name (``ge``)."""
    names = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
    return {names.get(k, k): v for k, v in schema.items()}


def write_schemas(out_dir: Path) -> list[Path]:
    """Write both schemas into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, kind in SCHEMA_FILES.items():
        schema = scenario_schema() if kind == "scenario" else client_schema()
        path = out_dir / name
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
