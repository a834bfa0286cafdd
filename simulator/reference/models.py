"""The schema classes as a reader meets them: each model once, in the order a file nests them.

Both the JSON Schema and ``docs/scenarios.md`` walk the same tree from :class:`Scenario` (and
:class:`ClientConfig` for ``stampede check``'s client files), so a new field or model reaches
both without a line here. A field's type, default and bounds come from pydantic; its words
from :data:`simulator.reference.fields.FIELD_DOCS`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mock_provider.config import parse_duration

__all__ = ["FieldView", "field_views", "models_in_order", "type_text", "walks_durations"]


@dataclass(frozen=True, slots=True)
class FieldView:
    """One field of one model: what the reference prints about it."""

    model: type[BaseModel]
    name: str
    annotation: Any  # resolved, with Annotated metadata kept
    info: FieldInfo

    @property
    def key(self) -> str:
        return f"{self.model.__name__}.{self.name}"

    @property
    def required(self) -> bool:
        return self.info.is_required()

    @property
    def default(self) -> Any:
        """The default as a file would write it; PydanticUndefined when required."""
        if self.info.default_factory is not None:
            value = self.info.default_factory()  # type: ignore[call-arg]
        else:
            value = self.info.default
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json", exclude_defaults=True) or {}
        return value


def _nested(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _nested(arg)


def field_views(model: type[BaseModel]) -> list[FieldView]:
    hints = typing.get_type_hints(model, include_extras=True)
    return [FieldView(model, n, hints[n], f) for n, f in model.model_fields.items()]


def models_in_order(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model under it, depth first in field order, each once."""
    seen: list[type[BaseModel]] = []

    def visit(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.append(m)
        for f in field_views(m):
            for sub in _nested(f.annotation):
                visit(sub)

    visit(root)
    return seen


def walks_durations(annotation: Any, info: FieldInfo | None = None) -> bool:
    """Whether the field is a :data:`Seconds`: a number or ``'90s'``, ``'2m'``, ``'250ms'``."""
    metadata = list(info.metadata) if info is not None else []
    metadata += list(getattr(annotation, "__metadata__", ()))
    if any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in metadata):
        return True
    return any(walks_durations(a) for a in typing.get_args(annotation))


_SIGNS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _bounds(metadata: list[Any]) -> str:
    """The bounds in words; one a stricter bound implies is left out (``> 0`` says ``>= 0``)."""
    limits = [
        (sign, getattr(m, attr))
        for m in metadata
        for attr, sign in _SIGNS
        if isinstance(m, getattr(annotated_types, attr.capitalize()))
    ]
    out = [f"{s} {v:g}" for s, v in dict.fromkeys(limits) if not _implied((s, v), limits)]
    out += [f"at least {m.min_length}" for m in metadata if isinstance(m, annotated_types.MinLen)]
    return ", ".join(out)


def _implied(bound: tuple[str, float], every: list[tuple[str, float]]) -> bool:
    sign, value = bound
    if sign == ">=":
        return any(s == ">" and v >= value for s, v in every)
    if sign == "<=":
        return any(s == "<" and v <= value for s, v in every)
    return False


def type_text(annotation: Any, info: FieldInfo | None = None, link: Any = None) -> str:
    """A field's type in words: ``duration (>= 0)``, ``one of: a, b``, ``list of Model``.

    ``link(model)`` renders a nested model's name (a Markdown link in the docs).
    """
    link = link or (lambda m: m.__name__)
    metadata = list(info.metadata) if info is not None else []
    if walks_durations(annotation, info):
        base = "duration"
        optional = type(None) in typing.get_args(annotation)
        metadata += [m for a in typing.get_args(annotation) for m in getattr(a, "__metadata__", ())]
        bounds = _bounds(metadata)
        text = f"{base} ({bounds})" if bounds else base
        return f"{text}, or null" if optional else text
    text = _plain_type(annotation, link)
    bounds = _bounds(metadata)
    return f"{text} ({bounds})" if bounds else text


def _plain_type(t: Any, link: Any) -> str:
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Annotated:
        return _plain_type(args[0], link)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_plain_type(a, link) for a in inner)
        return f"{text}, or null" if len(inner) < len(args) else text
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin is list:
        return f"list of {_plain_type(args[0], link)}" if args else "list"
    if origin is dict:
        return f"mapping of {_plain_type(args[0], link)} to {_plain_type(args[1], link)}"
    if isinstance(t, type) and issubclass(t, BaseModel):
        return str(link(t))
    if t is Any:
        return "any value"
    names = {str: "text", int: "integer", float: "number", bool: "true or false"}
    return names.get(t, getattr(t, "__name__", str(t)))


def is_required(view: FieldView) -> bool:
    return view.info.default is PydanticUndefined and view.info.default_factory is None
