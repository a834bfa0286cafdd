"""Strings that match a regular expression, drawn from a seeded generator.

A JSON schema's ``pattern`` is a regular expression the string must contain (JSON Schema
matches it unanchored, as ``re.search``). The sampler walks the expression as Python's own
parser reads it (``re._parser``: literals, classes, ranges, categories, alternation, groups,
repeats, anchors) and builds a string that the whole expression matches, so it matches
unanchored too. Back-references and look-arounds are not generated: :func:`sample` raises
:class:`Unsampleable`, and the caller decides what to do (OpenAI's strict mode refuses such
patterns anyway).
"""

from __future__ import annotations

import random
import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as sre  # type: ignore[attr-defined]
from typing import Any

__all__ = ["Unsampleable", "sample"]

_OPEN_REPEAT = 3  # extra repetitions drawn beyond a repeat's minimum when it has no maximum
_DIGITS = "0123456789"
_WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + _DIGITS + "_"
_SPACE = " "
_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]  # what ``.`` and negated classes pick from
_CATEGORIES = {
    C.CATEGORY_DIGIT: _DIGITS,
    C.CATEGORY_WORD: _WORD,
    C.CATEGORY_SPACE: _SPACE,
    C.CATEGORY_NOT_DIGIT: "".join(c for c in _PRINTABLE if c not in _DIGITS),
    C.CATEGORY_NOT_WORD: "".join(c for c in _PRINTABLE if c not in _WORD),
    C.CATEGORY_NOT_SPACE: "".join(c for c in _PRINTABLE if c != " "),
}


class Unsampleable(ValueError):
    """The expression uses a construct the sampler does not generate (a back-reference...)."""


def sample(pattern: str, rng: random.Random) -> str:
    """A string that ``pattern`` matches (checked), or :class:`Unsampleable`."""
    try:
        parsed = sre.parse(pattern)
    except re.error as exc:
        raise Unsampleable(f"not a regular expression: {exc}") from None
    out: list[str] = []
    _emit(parsed, rng, out)
    text = "".join(out)
    if re.search(pattern, text) is None:  # a construct we read too loosely
        raise Unsampleable("the sampled string does not match")
    return text


def _emit(items: Any, rng: random.Random, out: list[str]) -> None:
    for op, av in items:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if ord(c) != av]))
        elif op is C.ANY:
            out.append(rng.choice(_PRINTABLE))
        elif op is C.IN:
            out.append(_from_class(av, rng))
        elif op is C.BRANCH:
            _emit(rng.choice(av[1]), rng, out)
        elif op is C.SUBPATTERN:
            _emit(av[-1], rng, out)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, body = av
            high = low + _OPEN_REPEAT if high is C.MAXREPEAT else high
            for _ in range(rng.randint(low, max(low, high))):
                _emit(body, rng, out)
        elif op is C.AT:
            continue  # anchors: the string is the whole match
        elif op is C.ATOMIC_GROUP:
            _emit(av, rng, out)
        else:
            raise Unsampleable(f"{op} is not generated")


def _from_class(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    allowed: set[str] = set()
    negate = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            allowed.add(chr(av))
        elif op is C.RANGE:
            allowed.update(chr(c) for c in range(av[0], min(av[1], av[0] + 2048) + 1))
        elif op is C.CATEGORY and av in _CATEGORIES:
            allowed.update(_CATEGORIES[av])
        else:
            raise Unsampleable(f"{op} in a character class is not generated")
    pool = sorted(c for c in _PRINTABLE if c not in allowed) if negate else sorted(allowed)
    if not pool:
        raise Unsampleable("an empty character class")
    return rng.choice(pool)
