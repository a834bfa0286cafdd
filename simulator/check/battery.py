"""The chaos battery: the failure modes a client must survive, each a scenario with thresholds.

Theory of operation
-------------------
An item is a scenario without strategies (its provider, workload, duration and drain, written
as a scenario file would write them) plus the thresholds a client must hold in it. To check a
client, :func:`item_scenario` puts the client in as the scenario's strategies, with the item's
thresholds on each, and the run and the verdict are ``stampede run``'s own: the same driver,
metrics and threshold expressions.

The default battery (``default_battery.yaml`` beside this module, a battery file itself) is
the issue's list of seven failure modes, from a burst herd to a flaky network (connection
resets and hangs) and an overload collapse (latency that grows with load).

A success threshold is written against the best any client could do in the item
(:mod:`simulator.check.best`): ``success_rate: ">= best - 0.05"`` asks for no more than 5 points
below it. :func:`item_scenario` turns it into a number before the run.

A battery file changes the default: an item's ``thresholds`` replace the default's metric by
metric (``"off"`` drops one), ``skip: true`` leaves an item out, and an item with a new key
and a ``scenario`` is added::

    items:
      burst_herd: {thresholds: {p95_latency_ms: "< 30000"}}
      runaway_loop: {skip: true}
      my_spike:
        title: a spike on my own limits
        scenario: {duration: 30, drain: 60, provider: {...}, workload: {...}}
        thresholds: {success_rate: ">= 0.99"}

Nothing here runs a scenario or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from mock_provider.config import ConfigError, StrictModel, format_errors, read_yaml
from simulator.check.best import BEST_METRICS, against_best, item_best, resolve_threshold
from simulator.config import ClientConfig, Scenario
from simulator.report.metrics import METRICS
from simulator.report.thresholds import parse_expression

__all__ = [
    "DEFAULT_BATTERY",
    "BatteryItem",
    "item_scenario",
    "load_battery",
]

OFF = "off"
DEFAULT_BATTERY = Path(__file__).with_name("default_battery.yaml")


@dataclass(frozen=True)
class BatteryItem:
    key: str
    title: str
    scenario: dict[str, Any]  # a scenario mapping without name, strategies or thresholds
    thresholds: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- battery files


class ItemConfig(StrictModel):
    title: str | None = None
    skip: bool = False
    thresholds: dict[str, str] = Field(default_factory=dict)
    scenario: dict[str, Any] | None = None


class BatteryConfig(StrictModel):
    base: Literal["default", "none"] = "default"  # "none": only the file's own items
    items: dict[str, ItemConfig] = Field(default_factory=dict)


def load_battery(spec: str | Path) -> list[BatteryItem]:
    """``"default"`` or a battery file's path: the items to run; ConfigError on a bad file."""
    path = DEFAULT_BATTERY if spec == "default" else Path(spec)
    data = read_yaml(path)
    try:
        cfg = BatteryConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(str(path), format_errors(exc)) from exc
    problems: list[tuple[str, str]] = []
    items = {i.key: i for i in load_battery("default")} if cfg.base == "default" else {}
    for key, given in cfg.items.items():
        at = f"items.{key}"
        for metric, expr in given.thresholds.items():
            problems += _threshold_problems(f"{at}.thresholds.{metric}", metric, expr)
        base = items.get(key)
        if given.skip:
            items.pop(key, None)
            continue
        if base is None and given.scenario is None:
            known = ", ".join(items) or "none"
            problems.append((at, f"no default item {key!r} (items: {known}); give a scenario "
                                 "to add one"))  # fmt: skip
            continue
        thresholds = {**(base.thresholds if base else {}), **given.thresholds}
        scenario = given.scenario if given.scenario is not None else base.scenario  # type: ignore[union-attr]
        title = given.title or (base.title if base else key)
        items[key] = BatteryItem(
            key, title, scenario, {m: e for m, e in thresholds.items() if e != OFF}
        )
    if not items and not problems:
        problems.append(("items", "the battery has no items left to run"))
    if problems:
        raise ConfigError(str(path), problems)
    return list(items.values())


def _threshold_problems(path: str, metric: str, expr: str) -> list[tuple[str, str]]:
    if metric not in METRICS:
        return [(path, f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")]
    if expr == OFF:
        return []
    if "best" in expr:
        if metric not in BEST_METRICS:
            return [(path, f"'best' is known for {', '.join(BEST_METRICS)} only; give a number")]
        if not against_best(expr):
            return [(path, "write it as '>= best - 0.05' (the points below the best allowed)")]
        return []
    try:
        parse_expression(expr)
    except ValueError as exc:
        return [(path, f"{exc}, or '{OFF}' to drop it")]
    return []


# --------------------------------------------------------------------------- scenarios


def item_scenario(
    item: BatteryItem, clients: dict[str, ClientConfig], live: bool = False
) -> Scenario:
    """The item as a scenario with ``clients`` as its strategies, each gated by the item's
    thresholds. Raises ValidationError if the item's scenario is not a valid one."""
    data = dict(item.scenario)
    data.update(
        name=f"check-{item.key}",
        description=item.title,
        # live: the item's own scale, else the largest this machine keeps faithful
        time_scale=data.get("time_scale", "auto") if live else 1.0,
        strategies=dict(clients),
        thresholds={name: dict(item.thresholds) for name in clients} if item.thresholds else {},
    )
    if not any(against_best(e) for e in item.thresholds.values()):
        return Scenario.model_validate(data)
    best = item_best(Scenario.model_validate({**data, "thresholds": {}})).success_rate
    rules = {m: resolve_threshold(e, best) for m, e in item.thresholds.items()}
    return Scenario.model_validate({**data, "thresholds": {name: rules for name in clients}})
