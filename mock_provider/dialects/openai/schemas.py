"""OpenAI's strict mode: the JSON schemas it accepts for structured output and strict tools.

With ``strict: true`` the API constrains decoding to the schema, and refuses (400) a schema
outside the subset it can enforce, before any model work:

- the root is an object (``type: "object"``, not ``anyOf``);
- every object sets ``additionalProperties: false`` and lists every property in
  ``required`` (no optional keys: "optional" is a union with ``null``);
- every subschema has a ``type`` (or is a ``$ref``, an ``anyOf``, an ``enum`` or a ``const``);
- ``allOf``, ``oneOf``, ``not``, ``if``/``then``/``else``, ``dependentRequired``,
  ``dependentSchemas`` and ``patternProperties`` are not permitted;
- a ``pattern`` must be a regular expression (the service compiles it).

The messages follow the real ones: ``Invalid schema for response_format 'NAME': In
context=('properties', 'x'), 'additionalProperties' is required to be supplied and to be
false.`` (``param`` ``response_format``), and ``Invalid schema for function 'NAME': ...``
(``param`` the tool's parameters, code ``invalid_function_parameters``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..protocol import BadRequest

__all__ = ["NOT_PERMITTED", "check_strict"]

NOT_PERMITTED = (
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties",
)  # fmt: skip
_TYPED = ("type", "$ref", "anyOf", "enum", "const")


def check_strict(schema: Mapping[str, Any], what: str, param: str, code: str | None) -> None:
    """Raise the API's :class:`BadRequest` if ``schema`` is outside the strict subset.

    ``what`` names the schema's owner as the message does (``response_format 'Person'``,
    ``function 'get_weather'``).
    """

    def refuse(detail: str) -> BadRequest:
        return BadRequest(f"Invalid schema for {what}: {detail}", param, code)

    if schema.get("type") != "object":
        got = schema.get("type")
        raise refuse(f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'.")
    problem = _first_problem(schema, ())
    if problem is not None:
        path, detail = problem
        raise refuse(f"In context={path!r}, {detail}")


def _first_problem(node: Any, path: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    if not isinstance(node, Mapping):
        return path, "schema must be a JSON Schema object."
    for key in NOT_PERMITTED:
        if key in node:
            return path, f"'{key}' is not permitted."
    if not any(k in node for k in _TYPED):
        return path, "schema must have a 'type' key."
    kinds = node.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "object" in kinds:
        if node.get("additionalProperties") is not False:
            return path, "'additionalProperties' is required to be supplied and to be false."
        props = node.get("properties") or {}
        if not isinstance(props, Mapping):
            return path, "'properties' must be an object."
        required = node.get("required")
        required = required if isinstance(required, list) else []
        missing = [k for k in props if k not in required]
        if missing or not isinstance(node.get("required", []), list):
            return path, (
                "'required' is required to be supplied and to be an array including every key "
                f"in properties. Missing '{missing[0] if missing else ''}'."
            )
        extra = [k for k in required if k not in props]
        if extra:
            return path, f"Extra required key '{extra[0]}' supplied."
    pattern = node.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError):
            return path, f"'{pattern}' is not a 'regex'."
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, Mapping):
            for name, child in children.items():
                found = _first_problem(child, (*path, key, str(name)))
                if found:
                    return found
    items = node.get("items")
    if isinstance(items, Mapping):
        found = _first_problem(items, (*path, "items"))
        if found:
            return found
    branches = node.get("anyOf")
    if isinstance(branches, list):
        for i, branch in enumerate(branches):
            found = _first_problem(branch, (*path, "anyOf", str(i)))
            if found:
                return found
    return None
