"""A sweep's grid: the axes a user varies, their points, and the scenario at each point.

An axis is a dotted path into the scenario file as written (``workload.arrivals.n``,
``strategies.resilient.retry.base_s``; a number indexes a list: ``workload.arrivals.0.rate``)
and the values it takes, each read as YAML (``0.5`` is a number, ``30s`` a duration the schema
reads, ``true`` a boolean). The grid is every combination of the axes' values, in the order
given, the first axis slowest. A point's scenario is the file with each path set to its value
and validated as any scenario is, so a value the schema refuses is a config error naming the
``--vary`` it came from, before anything runs; a path never adds a strategy (a misspelt name
is an error). Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from mock_provider.config import ConfigError, format_errors
from simulator.config import Scenario

__all__ = ["Axis", "Point", "load_axis", "parse_vary", "point_scenario", "points", "set_path"]

Point = tuple[tuple[str, Any], ...]  # ((path, value), ...) in axis order


@dataclass(frozen=True)
class Axis:
    path: str
    values: tuple[Any, ...]

    def applies_to(self, strategy: str) -> bool:
        """Whether the axis changes ``strategy`` (a path under another strategy does not)."""
        parts = self.path.split(".")
        return not (parts[0] == "strategies" and len(parts) > 1 and parts[1] != strategy)

    @property
    def label(self) -> str:
        """The path's last two parts: ``retry.base_s``, ``arrivals.n``."""
        return ".".join(self.path.split(".")[-2:])


def parse_vary(text: str) -> Axis:
    """``PATH=V1,V2,...`` -> :class:`Axis`; ValueError says what was expected."""
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path or not values.strip():
        raise ValueError(
            f"expected PATH=V1,V2,... (e.g. workload.arrivals.rate=1,2,4), got {text!r}"
        )
    parsed = []
    for raw in values.split(","):
        try:
            parsed.append(yaml.safe_load(raw.strip()))
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: cannot read value {raw.strip()!r}: {exc}") from None
    if len(set(map(repr, parsed))) != len(parsed):
        raise ValueError(f"{path}: a value is given twice")
    return Axis(path, tuple(parsed))


def points(axes: Sequence[Axis]) -> list[Point]:
    """Every combination of the axes' values, the first axis varying slowest."""
    return [
        tuple(zip((a.path for a in axes), combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``data`` (in place); a missing mapping on the way is created. KeyError
    names the part of the path that does not lead anywhere."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"{where}: a list of {len(node)}; index it with 0..{len(node) - 1}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
        else:
            raise KeyError(f"{where}: {'.'.join(parts[:i])} is a value, not a mapping or list")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and node.get(key) is None:
                node[key] = {}
            node = node[key]


def point_scenario(base: dict[str, Any], point: Point, seed: int, file: str) -> Scenario:
    """The scenario at ``point`` with ``seed``; ConfigError naming the ``--vary`` at fault."""
    data = copy.deepcopy(base)
    data.pop("sweep", None)
    problems = []
    for path, value in point:
        parts = path.split(".")
        if parts[0] == "strategies" and len(parts) > 1 and parts[1] not in data["strategies"]:
            known = ", ".join(data["strategies"])
            problems.append((f"--vary {path}", f"no strategy named {parts[1]!r} ({known})"))
            continue
        try:
            set_path(data, path, value)
        except KeyError as exc:
            problems.append((f"--vary {path}", str(exc.args[0])))
    if problems:
        raise ConfigError(file, problems)
    data["seed"] = seed
    data["time_scale"] = 1.0  # virtual time has no scale
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        at = ", ".join(f"{p}={v!r}" for p, v in point)
        raise ConfigError(file, [(p, f"{m} (at {at})") for p, m in format_errors(exc)]) from exc


def load_axis(axes: Sequence[Axis]) -> Axis:
    """The axis that stands for load: the first under ``workload.``, else the first."""
    return next((a for a in axes if a.path.startswith("workload.")), axes[0])
