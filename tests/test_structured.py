"""The brain's structured output: every instance validates against its schema (jsonschema)."""

from __future__ import annotations

import json
import random
import re
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from mock_provider.model.pattern import Unsampleable, sample
from mock_provider.model.structured import MAX_DEPTH, instance, render
from mock_provider.model.tokens import count_text, token_strings

FORMATS = ["date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"]
PATTERNS = [r"^[a-z]{2,5}$", r"^\d{3}-\d{4}$", r"(foo|bar)+", r"^[A-Z][a-z]*\s\w+$", r"x?y*z"]
NAMES = st.text("abcdefgh_", min_size=1, max_size=6)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), st.text("abc xyz", max_size=5)
)


@st.composite
def _integers(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(-500, 500))
    schema: dict[str, Any] = {"type": "integer", "minimum": low}
    if draw(st.booleans()):
        schema["maximum"] = low + draw(st.integers(0, 50))
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.integers(1, 5))
        schema["maximum"] = schema.get("maximum", low + 100) + 5  # room for a multiple
    return schema


@st.composite
def _numbers(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.floats(-100, 100, allow_nan=False))
    high = low + draw(st.floats(0.001, 50, allow_nan=False))
    exclusive = draw(st.booleans())
    lo_key, hi_key = (
        ("exclusiveMinimum", "exclusiveMaximum") if exclusive else ("minimum", "maximum")
    )
    return {"type": "number", lo_key: low, hi_key: high}


@st.composite
def _strings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["plain", "length", "format", "pattern"]))
    if kind == "length":
        low = draw(st.integers(0, 20))
        return {"type": "string", "minLength": low, "maxLength": low + draw(st.integers(0, 10))}
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    if kind == "pattern":
        return {"type": "string", "pattern": draw(st.sampled_from(PATTERNS))}
    return {"type": "string"}


LEAVES = st.one_of(
    st.sampled_from([{"type": t} for t in ("string", "integer", "number", "boolean", "null")]),
    _integers(),
    _numbers(),
    _strings(),
    st.lists(SCALARS, min_size=1, max_size=4, unique_by=json.dumps).map(lambda v: {"enum": v}),
    SCALARS.map(lambda v: {"const": v}),
    st.just({"type": ["string", "null"]}),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(NAMES, children, max_size=4))
        required = draw(st.lists(st.sampled_from(sorted(props)), unique=True)) if props else []
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": draw(children)}
        low = draw(st.integers(0, 3))
        if draw(st.booleans()):
            schema["minItems"] = low
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        return schema

    unions = st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b})
    return st.one_of(objects(), arrays(), unions)


SCHEMAS = st.recursive(LEAVES, _extend, max_leaves=12)


def _validate(value: Any, schema: Any) -> None:
    jsonschema.validate(
        value, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, seed=st.integers(0, 2**32))
def test_every_instance_validates(schema: dict[str, Any], seed: int) -> None:
    value = instance(schema, random.Random(seed))
    _validate(value, schema)
    assert json.loads(render(value)) == value  # what is rendered is the instance


@settings(max_examples=100, deadline=None)
@given(schema=SCHEMAS, seed=st.integers(0, 2**32))
def test_same_seed_same_instance(schema: dict[str, Any], seed: int) -> None:
    assert render(instance(schema, random.Random(seed))) == render(
        instance(schema, random.Random(seed))
    )


class Address(BaseModel):
    street: str
    postcode: str | None = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str = Field(min_length=2, max_length=12)
    age: int = Field(ge=0, le=130)
    kind: Literal["customer", "staff"]
    email: str = Field(json_schema_extra={"format": "email"})
    address: Address  # a $ref to $defs
    friends: list[Person]  # recursive
    scores: list[float] = Field(min_length=1, max_length=3)


def test_pydantic_models_through_the_sdks_strict_schema() -> None:
    """What ``chat.completions.parse`` sends: $defs, recursive $ref, anyOf with null."""
    schema = to_strict_json_schema(Person)
    assert "$defs" in schema
    values = [instance(schema, random.Random(seed)) for seed in range(200)]
    for value in values:
        _validate(value, schema)
        Person.model_validate(value)
    assert {v["kind"] for v in values} == {"customer", "staff"}
    assert any(v["address"]["postcode"] is None for v in values)
    assert any(v["address"]["postcode"] for v in values)
    assert any(v["friends"] for v in values)  # the recursion is taken, and ends


def test_recursion_ends_at_the_depth_limit() -> None:
    node = {
        "type": "object",
        "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["next"],
        "additionalProperties": False,
    }
    for seed in range(50):
        value, depth = instance(node, random.Random(seed)), 0
        while value is not None:
            value, depth = value["next"], depth + 1
        assert depth <= MAX_DEPTH + 1


def test_rendered_text_is_cut_into_its_real_tokens() -> None:
    text = render(instance(to_strict_json_schema(Person), random.Random(3)))
    pieces = token_strings(text)
    assert "".join(pieces) == text
    assert len(pieces) == count_text(text)  # what a response bills is what it streams


def test_non_ascii_is_escaped_so_every_token_is_a_string() -> None:
    schema = {"enum": ["naïve café ☕"]}
    text = render(instance(schema, random.Random(0)))
    assert text.isascii() and json.loads(text) == "naïve café ☕"
    assert "".join(token_strings(text)) == text


@pytest.mark.parametrize("pattern", [*PATTERNS, r"^[^\s]{4}$", r"(?:ab){2,3}c$", r"[\w.-]+@x\.io"])
def test_pattern_samples_match(pattern: str) -> None:
    rng = random.Random(1)
    for _ in range(50):
        assert re.search(pattern, sample(pattern, rng))


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"[", r"(?<!x)y"])
def test_patterns_it_cannot_generate_say_so(pattern: str) -> None:
    with pytest.raises(Unsampleable):
        sample(pattern, random.Random(0))
