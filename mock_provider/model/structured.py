"""Structured output: a seeded JSON value that validates against a JSON schema.

Theory of operation
-------------------
A request may ask for its answer (or a tool call's arguments) to follow a JSON schema. The
brain makes one instance per answer, deterministically from the request's own generator:

- ``$ref`` (``#``, ``#/$defs/...``, any JSON pointer into the root) is followed, recursive
  schemas included;
- ``const`` gives its value, ``enum`` one of its values;
- ``anyOf`` / ``oneOf`` pick one branch, ``allOf`` merges its members;
- ``type`` (one or a list) picks the kind; without one, ``properties`` means an object and
  ``items`` an array;
- an object has every ``required`` property and each optional one with even odds, and no
  others; an array has between ``minItems`` and ``maxItems`` items (one to three when
  unbounded), distinct under ``uniqueItems`` as far as the item schema allows;
- a string honours ``format`` (date-time, date, time, duration, email, hostname, ipv4, ipv6,
  uuid, uri), ``pattern`` (:mod:`.pattern`) and ``minLength`` / ``maxLength``, and is
  otherwise a few words of the brain's vocabulary;
- a number or integer lies within ``minimum`` / ``maximum`` (exclusive bounds too) and is a
  multiple of ``multipleOf`` when given.

A constraint written into a ``description`` rather than as a keyword is followed too, as a
model reads it: the anthropic SDK's ``transform_schema`` moves the keywords Claude's
structured outputs do not take (``minimum``, ``maxLength``, ...) into the description as a
trailing ``{minimum: 1, maximum: 10}`` ("so that the model *might* follow them").

Nesting deeper than :data:`MAX_DEPTH` takes the shortest way out: no optional properties,
arrays at their minimum length, and an ``anyOf`` branch that does not recurse when there is
one. The instance is rendered compactly (``{"a":1}``) with non-ASCII escaped, which is what a
response bills and streams token by token (:func:`~.tokens.token_strings`).

Keywords outside this list are ignored; whether a schema may use them at all is the
dialect's rule (OpenAI's strict mode), checked before the brain sees the request.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from typing import Any

from .pattern import Unsampleable, sample
from .tokens import WORDS

__all__ = ["MAX_DEPTH", "instance", "render"]

MAX_DEPTH = 6
Schema = Mapping[str, Any]
_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


def instance(schema: Any, rng: random.Random) -> Any:
    """A JSON value (dicts, lists, str, int, float, bool, None) valid against ``schema``."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Maker(root, rng).make(root, 0)


def render(value: Any) -> str:
    """The value as the model writes it: compact JSON, non-ASCII as ``\\u`` escapes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


class _Maker:
    def __init__(self, root: Schema, rng: random.Random) -> None:
        self.root, self.rng = root, rng

    def resolve(self, schema: Schema, seen: int = 0) -> Schema:
        """Follow ``$ref`` (a JSON pointer into the root) until a schema without one."""
        ref = schema.get("$ref")
        if not isinstance(ref, str) or seen > 32:
            return schema
        target: Any = self.root
        if ref not in ("#", "#/"):
            for part in ref.removeprefix("#/").split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, Mapping) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    return {}  # a dangling reference: anything validates against {}
        if not isinstance(target, Mapping):
            return {}
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return self.resolve({**target, **siblings}, seen + 1)

    def make(self, schema: Any, depth: int) -> Any:
        if schema is True or not isinstance(schema, Mapping):
            return self.rng.choice(WORDS)
        schema = self.resolve(schema)
        described = schema.get("description")
        if isinstance(described, str) and described.endswith("}"):
            schema = {**_described_constraints(described), **schema}
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.make({**rest, **self.branch(branches, depth)}, depth)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, Mapping):
                    part = self.resolve(part)
                    merged = {**part, **merged, **_merge_object_parts(merged, part)}
            return self.make(merged, depth)
        kind = self.kind(schema, depth)
        return getattr(self, "_" + kind)(schema, depth)

    def branch(self, branches: list[Any], depth: int) -> Schema:
        options = [self.resolve(b) for b in branches if isinstance(b, Mapping)]
        if not options:
            return {}
        if depth >= MAX_DEPTH:
            flat = [b for b in options if not _recursive(b)]
            options = flat or options
        return self.rng.choice(options)

    def kind(self, schema: Schema, depth: int) -> str:
        given = schema.get("type")
        kinds = [t for t in (given if isinstance(given, list) else [given]) if t in _TYPES]
        if not kinds:
            if "properties" in schema or "required" in schema:
                return "object"
            if "items" in schema or "prefixItems" in schema:
                return "array"
            return "string"
        if len(kinds) > 1 and depth >= MAX_DEPTH and "null" in kinds:
            return "null"
        return self.rng.choice(kinds)

    # -- kinds ---------------------------------------------------------------------------

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = schema.get("required")
        required = (
            {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()
        )
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in required or (depth < MAX_DEPTH and self.rng.random() < 0.5):
                out[name] = self.make(sub, depth + 1)
        for name in sorted(required - set(props)):  # required but undescribed
            extra = schema.get("additionalProperties")
            out[name] = self.make(extra if isinstance(extra, Mapping) else {}, depth + 1)
        return out

    def _array(self, schema: Schema, depth: int) -> list[Any]:
        low = _int(schema.get("minItems"), 0)
        high = _int(schema.get("maxItems"), None)
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        if items is False:  # nothing beyond the prefix
            high = len(prefix) if high is None else min(high, len(prefix))
        top = max(low, 1) + 2 if high is None else max(high, low)
        if depth >= MAX_DEPTH or top == 0:
            count = low
        else:
            start = max(low, 1)
            count = self.rng.randint(min(start, top), min(top, start + 2))
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            value = self.make(sub, depth + 1)
            if schema.get("uniqueItems") is True:
                for _ in range(8):  # a few redraws; a schema with few values may not allow more
                    if value not in out:
                        break
                    value = self.make(sub, depth + 1)
            out.append(value)
        return out

    def _string(self, schema: Schema, depth: int) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt](self.rng)
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                return sample(pattern, self.rng)
            except Unsampleable:
                pass  # the words below: not valid, and not possible to make valid here
        low = _int(schema.get("minLength"), 0)
        high = _int(schema.get("maxLength"), None)
        text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 4)))
        while len(text) < low:
            text += " " + self.rng.choice(WORDS)
        if high is not None:
            text = text[:high].rstrip() if len(text[:high].rstrip()) >= low else text[:high]
        return text

    def _integer(self, schema: Schema, depth: int) -> int:
        low, high = _bounds(schema, 0, 100, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            if first <= last:
                return self.rng.randint(first, last) * step
        return self.rng.randint(int(low), int(high))

    def _number(self, schema: Schema, depth: int) -> float | int:
        step = _num(schema, "multipleOf")
        if step is not None and step > 0:
            low, high = _bounds(schema, 0.0, 100.0, integer=False)
            first, last = math.ceil(low / step), math.floor(high / step)
            if first <= last:
                k = self.rng.randint(first, last)
                return k * step if isinstance(step, int) else round(k * step, 10)
        low, high = _bounds(schema, 0.0, 100.0, integer=False, nudge=0.0)
        value = self.rng.uniform(low, high)
        for candidate in (round(value, 2), value, (low + high) / 2):
            if _within(candidate, schema):
                return candidate
        return value

    def _boolean(self, schema: Schema, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, schema: Schema, depth: int) -> None:
        return None


# Keywords a description may carry as "{key: value, ...}" (anthropic's transform_schema).
_DESCRIBED = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
    "maxLength", "minItems", "maxItems",
})  # fmt: skip


def _described_constraints(description: str) -> dict[str, Any]:
    """The numeric keywords in a description's trailing ``{key: value, ...}``."""
    start = description.rfind("{")
    out: dict[str, Any] = {}
    if start < 0:
        return out
    for part in description[start + 1 : -1].split(","):
        key, _, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if key in _DESCRIBED:
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                out[key] = int(number) if number.is_integer() and "." not in value else number
    return out


def _int(value: Any, default: int | None) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bounds(
    schema: Schema, low: float, high: float, integer: bool, nudge: float = 0.01
) -> tuple[float, float]:
    """The interval the number must lie in (``low``..``high`` where the schema is open); an
    exclusive bound is moved in by one for an integer, by ``nudge`` for a number."""
    nudge = 1 if integer else nudge
    lo, hi = _num(schema, "minimum"), _num(schema, "maximum")
    xlo, xhi = _num(schema, "exclusiveMinimum"), _num(schema, "exclusiveMaximum")
    lows = [v for v in (lo, None if xlo is None else xlo + nudge) if v is not None]
    highs = [v for v in (hi, None if xhi is None else xhi - nudge) if v is not None]
    a = max(lows) if lows else (min(highs) - (high - low) if highs else low)
    b = min(highs) if highs else a + (high - low)
    if integer:
        a, b = math.ceil(a), math.floor(b)
    return a, max(a, b)


def _within(v: float, schema: Schema) -> bool:
    lo, hi = _num(schema, "minimum"), _num(schema, "maximum")
    xlo, xhi = _num(schema, "exclusiveMinimum"), _num(schema, "exclusiveMaximum")
    return not (
        (lo is not None and v < lo)
        or (hi is not None and v > hi)
        or (xlo is not None and v <= xlo)
        or (xhi is not None and v >= xhi)
    )


def _num(schema: Schema, key: str) -> float | None:
    value = schema.get(key)
    return value if _is_number(value) else None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _recursive(schema: Schema) -> bool:
    """Whether a branch can nest further (an object, an array or a reference)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "$ref" in schema or "object" in kinds or "array" in kinds or "properties" in schema


def _merge_object_parts(a: Schema, b: Schema) -> dict[str, Any]:
    """``properties`` and ``required`` of two ``allOf`` members, combined."""
    out: dict[str, Any] = {}
    pa, pb = a.get("properties"), b.get("properties")
    if isinstance(pa, Mapping) or isinstance(pb, Mapping):
        out["properties"] = {**(pb or {}), **(pa or {})}
    ra, rb = a.get("required"), b.get("required")
    if isinstance(ra, list) or isinstance(rb, list):
        out["required"] = [*(rb or []), *(r for r in (ra or []) if r not in (rb or []))]
    return out


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2020, 2026):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def _uuid(rng: random.Random) -> str:
    """A version 4 UUID's shape."""
    a, b, c, d = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12)
    return f"{a:08x}-{b:04x}-4{c:03x}-{rng.choice('89ab')}{d:03x}-{rng.getrandbits(48):012x}"


_FORMATS = {
    "date-time": lambda rng: f"{_date(rng)}T{_time(rng)}",
    "date": _date,
    "time": _time,
    "duration": lambda rng: f"P{rng.randint(1, 30)}DT{rng.randint(0, 23)}H",
    "email": lambda rng: f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@example.com",
    "hostname": lambda rng: f"{rng.choice(WORDS)}.example.com",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda rng: "2001:db8::" + f"{rng.randint(1, 0xFFFF):x}",
    "uuid": lambda rng: _uuid(rng),
    "uri": lambda rng: f"https://{rng.choice(WORDS)}.example.com/{rng.choice(WORDS)}",
}
