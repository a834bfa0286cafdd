"""``stampede check``: lint a client against the checklist, run it through the battery, score it.

Everything is validated before anything runs (exit 2 on a config error, naming the file and
field): the client, the battery file, and each battery item as a scenario with the client in
it. Then each item runs, virtually by default (seconds each) or live against the mock
(``--live``, through ``stampede run``'s own orchestration), into a folder of its own under the
output folder, which ``stampede report`` can turn into a full report. ``check.json`` and
``check.html`` hold the scorecard.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from mock_provider.config import ConfigError, format_errors, read_yaml
from simulator.check.attribution import attribute
from simulator.check.battery import BatteryItem, item_scenario, load_battery
from simulator.check.best import item_best
from simulator.check.checklist import lint_client
from simulator.check.diagnosis import diagnose
from simulator.check.fixes import Rerun, Trial
from simulator.check.scorecard import (
    ClientCard,
    ItemResult,
    columns,
    format_card,
    render_html,
    verdict_line,
)
from simulator.client.presets import PRESETS
from simulator.config import ClientConfig, RetryKind, Scenario, load_scenario
from simulator.console import wrap
from simulator.model_refs import model_problems
from simulator.report.thresholds import evaluate, parse_thresholds

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CheckRun", "prepare", "resolve_clients", "run_check"]


def resolve_clients(spec: str) -> tuple[str, dict[str, ClientConfig]]:
    """``CLIENT`` as the command line gives it: (a label, name -> client config).

    A file holding a scenario gives all its strategies; any other file is one client config
    in the scenario's strategy schema, named after the file. A preset name gives that preset,
    and a retry kind's name a client of that kind with the schema's defaults.
    """
    path = Path(spec)
    if path.is_file():
        data = read_yaml(path)
        if isinstance(data, dict) and "workload" in data and "strategies" in data:
            sc = load_scenario(path)
            if sc.apps:  # its code calls the mock itself: nothing for the lint to probe
                raise ConfigError(spec, [
                    (f"strategies.{name}", "an app strategy (your own code) is not checked by "
                     "stampede check yet; run it with stampede run, or judge it with stampede "
                     "audit") for name in sc.apps
                ])  # fmt: skip
            return path.stem, sc.clients
        if not isinstance(data, dict):
            raise ConfigError(spec, [("", "expected a client config (a mapping: retry, ...)")])
        try:
            return path.stem, {path.stem: ClientConfig.model_validate(data)}
        except ValidationError as exc:
            raise ConfigError(spec, format_errors(exc)) from exc
    if spec in PRESETS:
        return spec, {spec: PRESETS[spec]}
    if spec in get_args(RetryKind):
        return spec, {spec: ClientConfig.model_validate({"retry": {"kind": spec}})}
    raise ConfigError(
        spec,
        [("CLIENT", f"no such file, preset or retry kind; presets: {', '.join(PRESETS)}")],
        "not a client",
    )


def prepare(
    items: list[BatteryItem], clients: dict[str, ClientConfig], battery: str, live: bool
) -> list[tuple[BatteryItem, Scenario]]:
    """Each item as a scenario with the clients in it; ConfigError naming item and field."""
    prepared, problems = [], []
    for item in items:
        at = f"items.{item.key}"
        try:
            sc = item_scenario(item, clients, live)
        except ValidationError as exc:
            problems += [(f"{at}.scenario.{p}" if p else at, m) for p, m in format_errors(exc)]
            continue
        try:
            parse_thresholds(sc.thresholds, list(sc.strategies), battery)
        except ConfigError as exc:
            problems += [(f"{at}.{p}", m) for p, m in exc.problems]
        problems += [(f"{at}: {p}", m) for p, m in model_problems(sc)]
        prepared.append((item, sc))
    if problems:
        raise ConfigError(battery, problems)
    return prepared


@dataclass
class CheckRun:
    client: str
    battery: str = "default"
    live: bool = False
    out_dir: Path = Path("check")
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    cards: list[ClientCard] = field(default_factory=list)


def _measure(
    sc: Scenario, run_dir: Path, live: bool, out: IO[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run one item into ``run_dir``: its trace frame, and strategy -> metric -> value."""
    from simulator.report.metrics import REPORT_COLUMNS, load_traces, summarize

    names = list(sc.strategies)
    if live:
        from simulator.live.orchestrate import LiveRun, run_live
        from simulator.workload import build_workload

        expected = build_workload(sc.workload, sc.seed, sc.duration).total
        run_live(LiveRun(sc, run_dir, names, out=out), expected)
    else:
        from simulator.virtual.run import VirtualRun, run_virtual

        run_virtual(VirtualRun(sc, run_dir, names, out=out))
    frame = load_traces(run_dir / "traces.jsonl", REPORT_COLUMNS)
    return frame, summarize(frame, names)["strategies"]


def _rerun(item: BatteryItem, name: str, folder: Path) -> Rerun:
    """A re-run of ``item`` in virtual time with a changed client, each in a folder of its own
    under ``folder`` (a fix is judged the same way whether the check ran live or not)."""
    count = 0

    def rerun(cfg: ClientConfig) -> Trial:
        nonlocal count
        count += 1
        sc = item_scenario(item, {name: cfg})
        frame, metrics = _measure(sc, folder / f"{name}-{count}", False, io.StringIO())
        verdicts = evaluate(parse_thresholds(sc.thresholds, [name]), {"strategies": metrics})
        return Trial(metrics.get(name, {}), verdicts, attribute(frame, name))

    return rerun


def _explain(
    run: CheckRun, item: BatteryItem, sc: Scenario, frame: pd.DataFrame, result: ItemResult,
    card: ClientCard, cfg: ClientConfig,
) -> ItemResult:  # fmt: skip
    """The result with its diagnosis: causes, level and a fix checked by a re-run."""
    spare = [m for m in sc.provider.models if m != sc.workload.model and m not in cfg.fallback]
    folder = run.out_dir / item.key / "fixes"
    rerun = _rerun(item, card.name, folder)
    diagnosis = diagnose(cfg, card.checklist, result.verdicts, attribute(frame, card.name),
                         spare, rerun, result.metrics)  # fmt: skip
    if diagnosis.level != "pass":
        reruns = len(list(folder.glob(f"{card.name}-*")))
        said = f"{card.name}: {diagnosis.level}; {reruns} virtual re-run{'s' * (reruns != 1)} "
        print(wrap(f"  {said}to find what would hold the item"), file=run.out)
    return replace(result, diagnosis=diagnosis)


def run_check(run: CheckRun) -> int:
    """The whole command; returns its exit status (0 ship, 1 a failure, 2 config error)."""
    try:
        label, clients = resolve_clients(run.client)
        items = load_battery(run.battery)
        prepared = prepare(items, clients, run.battery, run.live)
    except ConfigError as exc:
        print(wrap(f"error: {exc}"), file=sys.stderr)
        return 2
    mode = "live against the mock" if run.live else "in virtual time"
    run.cards = [
        ClientCard(name, cfg.description, lint_client(cfg)) for name, cfg in clients.items()
    ]
    print(
        wrap(
            f"stampede check {label}: {len(clients)} client{'s' * (len(clients) > 1)}, "
            f"{len(prepared)} battery items {mode}\n  output: {run.out_dir}"
        ),
        file=run.out,
    )
    for i, (item, sc) in enumerate(prepared, 1):
        print(wrap(f"\n[{i}/{len(prepared)}] {item.key}: {item.title}"), file=run.out)
        run_dir = run.out_dir / item.key
        frame, metrics = _measure(sc, run_dir, run.live, run.out)
        verdicts = evaluate(parse_thresholds(sc.thresholds, list(sc.strategies)),
                            {"strategies": metrics})  # fmt: skip
        best = item_best(sc)
        for card in run.cards:
            mine = [v for v in verdicts if v.strategy == card.name]
            result = ItemResult(item, metrics.get(card.name, {}), mine, str(run_dir), best)
            result = _explain(run, item, sc, frame, result, card, clients[card.name])
            card.results.append(result)
    shown = columns(run.cards)
    for card in run.cards:
        print("\n" + format_card(card, shown), file=run.out)
    verdict = verdict_line(run.cards)
    _write(run, label, mode, verdict)
    print(f"\nscorecard: {run.out_dir / 'check.html'}", file=run.out)
    print(wrap(verdict), file=run.out)
    return 0 if all(c.ships for c in run.cards) else 1


def _write(run: CheckRun, label: str, mode: str, verdict: str) -> None:
    run.out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "client": run.client,
        "battery": run.battery,
        "mode": "live" if run.live else "virtual",
        "verdict": verdict,
        "ships": all(c.ships for c in run.cards),
        "clients": {
            c.name: {
                "ships": c.ships,
                "checklist": [asdict(i) for i in c.checklist],
                "battery": {
                    r.item.key: {
                        "title": r.item.title,
                        "passed": r.passed,
                        "level": r.level,
                        "run_dir": r.run_dir,
                        "best_success_rate": r.best.success_rate if r.best else None,
                        "best": r.best.describe() if r.best else None,
                        "causes": r.diagnosis.causes if r.diagnosis else [],
                        "fix": [str(f) for f in r.diagnosis.fixes] if r.diagnosis else [],
                        "fix_rerun": (
                            r.diagnosis.trial.summary()
                            if r.diagnosis and r.diagnosis.trial
                            else None
                        ),
                        "note": r.diagnosis.note if r.diagnosis else "",
                        "thresholds": [asdict(v) for v in r.verdicts],
                        "metrics": r.metrics,
                    }
                    for r in c.results
                },
            }
            for c in run.cards
        },
    }
    (run.out_dir / "check.json").write_text(json.dumps(data, indent=2) + "\n")
    page = render_html(run.cards, f"stampede check {label}", mode)
    (run.out_dir / "check.html").write_text(page)
