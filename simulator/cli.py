"""The ``stampede`` command line.

Exit codes: 0 every threshold holds, 1 a threshold failed, 2 config error or pre-flight
error (nothing started), 3 run error. An interrupted run (Ctrl-C, SIGTERM) keeps its traces,
writes a partial summary and report, and exits 130. Every line printed fits 100 columns, and
a closed stdout (``| head``) does not stop a run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mock_provider.arguments import (
    bounded_int,
    http_url,
    non_negative_int,
    output_folder,
    text_file,
    writable_file,
)
from simulator.config import ConfigError, Scenario, format_errors, load_scenario, parse_duration
from simulator.console import closed_pipe_ignored, wrap

if TYPE_CHECKING:
    from simulator.live.dashboard.server import Dashboard
    from simulator.preflight import Finding
    from simulator.workload import Workload

__all__ = ["main"]

EXIT_OK, EXIT_THRESHOLD, EXIT_CONFIG, EXIT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
WEB_ENDINGS = {  # how the dashboard shows each exit status: (phase, message)
    EXIT_OK: ("done", "every threshold holds (exit 0)"),
    EXIT_THRESHOLD: ("done", "a threshold failed (exit 1)"),
    EXIT_CONFIG: ("failed", "the report could not be built (exit 2): see the terminal"),
    EXIT_RUN: ("failed", "run error (exit 3): see the terminal"),
    EXIT_INTERRUPTED: ("interrupted", "interrupted (exit 130): the report covers what ran"),
}


def build_parser() -> argparse.ArgumentParser:
    from mock_provider.serve import add_serve_arguments
    from simulator.live.worker import add_worker_arguments

    parser = argparse.ArgumentParser(
        prog="stampede",
        description="Load-test and chaos-test LLM API clients before launch.",
        epilog="Exit codes: 0 thresholds hold, 1 a threshold failed, 2 config error, "
        "3 run error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario live: Locust clients against the mock")
    run.add_argument("scenario", help="scenario YAML file (see scenarios/)")
    run.add_argument(
        "--out", type=output_folder, help="output folder (default reports/<scenario>-<timestamp>/)"
    )
    run.add_argument("--strategies", help="comma-separated strategy names to run (default all)")
    run.add_argument("--duration", help="override the scenario duration (e.g. 60, 90s, 2m)")
    run.add_argument(
        "--time-scale",
        type=_time_scale,
        metavar="K|auto",
        help="override time_scale (K x faster); auto: the largest scale that keeps the live "
        "timing within its bound, found by a short calibration",
    )
    run.add_argument("--workers", type=bounded_int(1, 256), default=1,
                     help="Locust worker processes (default 1)")  # fmt: skip
    run.add_argument("--seed", type=non_negative_int, help="override the scenario seed")
    run.add_argument(
        "--virtual",
        action="store_true",
        help="run in virtual time: the same brains in a discrete-event loop, no mock, no Locust",
    )
    run.add_argument(
        "--repeat",
        type=bounded_int(1, 1000),
        default=1,
        metavar="N",
        help="run N times with seeds seed, seed+1, ...; a winner must stand outside the spread",
    )
    run.add_argument(
        "--target",
        type=http_url,
        help="URL of an already running stampede mock (default: start one)",
    )
    _add_master_arguments(run)
    _add_ci_arguments(run)
    _add_web_arguments(run)

    lint = sub.add_parser(
        "lint", help="pre-flight check a scenario: demand against limits, windows, defaults"
    )
    lint.add_argument("scenario", help="scenario YAML file (see scenarios/)")
    lint.add_argument("--duration", help="override the scenario duration (e.g. 60, 90s, 2m)")
    lint.add_argument("--strategies", help="comma-separated strategy names (default all)")

    serve = sub.add_parser("serve", help="run the mock LLM provider")
    add_serve_arguments(serve)

    worker = sub.add_parser(
        "worker", help="a Locust worker for `stampede run --master`, on this host or another"
    )
    add_worker_arguments(worker)

    audit = sub.add_parser(
        "audit", help="judge any client's retry behaviour from the mock's request journal"
    )
    audit.add_argument("journal", help="a request journal (stampede serve --request-log FILE)")
    audit.add_argument(
        "--out", type=output_folder, help="folder for audit.json and audit.html (default: none)"
    )
    audit.add_argument(
        "--thresholds", type=text_file, help="YAML file of limits (simulator/audit/findings.py)"
    )

    report = sub.add_parser("report", help="rebuild summary, plots and report.html from traces")
    report.add_argument("run_dir", help="a run folder containing traces.jsonl")
    _add_ci_arguments(report)

    compare = sub.add_parser("compare", help="compare two runs side by side")
    compare.add_argument("run_dir_a")
    compare.add_argument("run_dir_b")
    compare.add_argument(
        "--out", type=writable_file, help="HTML output (default <run_dir_b>/compare.html)"
    )
    _add_check_parser(sub)
    _add_sweep_parser(sub)

    from simulator.fault_cli import add_fault_arguments
    from simulator.reference.commands import add_reference_arguments

    add_fault_arguments(sub)
    add_reference_arguments(sub)
    return parser


def _add_master_arguments(run: argparse.ArgumentParser) -> None:
    """``--master``: Locust's workers started apart (``stampede worker``), here or elsewhere."""
    group = run.add_argument_group(
        "load from other hosts", "Locust's master per strategy; `stampede worker` joins it"
    )
    group.add_argument(
        "--master",
        action="store_true",
        help="start no workers: wait for --expect-workers started by `stampede worker`",
    )
    group.add_argument(
        "--expect-workers", type=int, metavar="N", help="workers to wait for (default 1)"
    )
    group.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="interface the master listens on (default 127.0.0.1; 0.0.0.0 for other hosts)",
    )
    group.add_argument(
        "--master-port", type=int, default=5557, help="port the master listens on (default 5557)"
    )
    group.add_argument(
        "--expect-workers-max-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds to wait for the workers each strategy (default 60); then exit 3",
    )
    group.add_argument(
        "--mock-host",
        default="127.0.0.1",
        help="address of this host the built-in mock listens on and the workers call "
        "(default 127.0.0.1; workers on other hosts need one they can reach)",
    )
    group.add_argument(
        "--mock-port", type=int, default=0, help="the mock's port (default: a free one)"
    )


def _add_ci_arguments(parser: argparse.ArgumentParser) -> None:
    """What a CI job reads besides the exit code (``simulator/report/ci_outputs.py``)."""
    parser.add_argument(
        "--junit", metavar="FILE", help="write the thresholds as JUnit XML, one test per threshold"
    )
    parser.add_argument(
        "--summary-json",
        metavar="FILE|-",
        help="write the summary as JSON to FILE, or with - to stdout (the rest goes to stderr)",
    )


def _add_web_arguments(parser: argparse.ArgumentParser) -> None:
    """``--web``: the live dashboard (``simulator/live/dashboard``)."""
    parser.add_argument(
        "--web", action="store_true",
        help="serve a live dashboard of the run on 127.0.0.1 (its address is printed)",
    )  # fmt: skip
    parser.add_argument(
        "--web-port", type=int, default=0, metavar="N", help="its port (default: a free one)"
    )
    parser.add_argument(
        "--web-linger", type=float, default=15.0, metavar="SECONDS",
        help="keep serving the final state and report this long after the run (default 15; "
        "inf: until Ctrl-C)",
    )  # fmt: skip


def _write_ci_outputs(args: argparse.Namespace, result: Any, run_name: str) -> int:
    """``--junit`` and ``--summary-json`` for a built report; EXIT_RUN when one cannot be
    written."""
    from simulator.report.ci_outputs import junit_xml, summary_json

    wanted = [(args.junit, lambda: junit_xml(result.summary, result.verdicts, run_name))]
    wanted.append((args.summary_json, lambda: summary_json(result.summary, result.verdicts)))
    for target, render in wanted:
        if target is None:
            continue
        if target == "-":
            print(render(), file=getattr(args, "real_stdout", sys.stdout), flush=True)
            continue
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_text(render() + "\n", encoding="utf-8")
        except OSError as exc:
            _err(f"{target}: cannot write: {exc.strerror}")
            return EXIT_RUN
    return EXIT_OK


def _add_check_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check", help="gate a client config: the production checklist and a chaos battery"
    )
    check.add_argument(
        "client", help="a client config file, a preset or retry kind name, or a scenario file"
    )
    check.add_argument(
        "--battery", default="default", metavar="default|FILE", help="the battery to run"
    )
    mode = check.add_mutually_exclusive_group()
    mode.add_argument("--virtual", dest="live", action="store_false", help="virtual time (default)")
    mode.add_argument("--live", action="store_true", help="live, against the mock")
    check.add_argument(
        "--out",
        type=output_folder,
        help="output folder (default reports/check-<client>-<timestamp>/)",
    )
    check.set_defaults(live=False)


def cmd_check(args: argparse.Namespace) -> int:
    from simulator.check.run import CheckRun, run_check

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path("reports") / f"check-{Path(args.client).stem}-{stamp}")
    return run_check(CheckRun(args.client, args.battery, args.live, out))


def _add_sweep_parser(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep", help="run a grid of settings in virtual time: the best, and where each breaks"
    )
    sweep.add_argument("scenario", help="scenario YAML file (its sweep: section is the default)")
    sweep.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="a dotted path into the scenario and its values, e.g. "
        "strategies.resilient.retry.base_s=0.5,1,2 (repeat for more axes)",
    )
    sweep.add_argument("--seeds", type=bounded_int(1, 1000), metavar="N",
                       help="seeds per point (spread)")  # fmt: skip
    sweep.add_argument("--jobs", type=bounded_int(0, 1024), default=0, metavar="N",
                       help="worker processes (default: every core)")  # fmt: skip
    sweep.add_argument(
        "--out",
        type=output_folder,
        help="output folder (default reports/sweep-<name>-<timestamp>/)",
    )
    sweep.add_argument(
        "--executor", metavar="dask://HOST:PORT", help="run the points on a Dask cluster"
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.sweep.run import SweepRun, run_sweep

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path("reports") / f"sweep-{Path(args.scenario).stem}-{stamp}")
    run = SweepRun(args.scenario, args.vary, args.seeds, args.jobs, out, args.executor)
    return run_sweep(run)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm-stampede")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _time_scale(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number above 0 or 'auto', got {text!r}")
    return value


def _err(msg: str) -> None:
    print(wrap(f"error: {msg}"), file=sys.stderr)


def _apply_overrides(sc: Scenario, args: argparse.Namespace, file: str) -> Scenario:
    update: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if args.strategies is not None:
        wanted = [s.strip() for s in args.strategies.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in sc.strategies]
        if not wanted:
            problems.append(
                ("--strategies", f"names no strategy; choose from {list(sc.strategies)}")
            )
        elif unknown:
            problems.append(
                ("--strategies", f"unknown {unknown}; choose from {list(sc.strategies)}")
            )
        else:
            update["strategies"] = {s: sc.strategies[s] for s in wanted}
            update["thresholds"] = {
                k: v for k, v in sc.thresholds.items() if k == "all" or k in wanted
            }
            if sc.baseline not in wanted:
                update["baseline"] = None
    if args.duration is not None:
        try:
            update["duration"] = float(parse_duration(args.duration))
        except ValueError as exc:
            problems.append(("--duration", str(exc)))
    time_scale = getattr(args, "time_scale", None)  # `lint` has no --time-scale nor --seed
    if time_scale is not None:  # above 0 or auto: its argument type checks
        update["time_scale"] = time_scale
    if getattr(args, "seed", None) is not None:
        update["seed"] = args.seed
    problems += _master_problems(args)
    if problems:
        raise ConfigError(file, problems)
    # Only the fields the file gave (a full dump would set every field a kind ignores).
    data = {**sc.model_dump(exclude_unset=True), **update}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:  # an override the schema refuses (--duration past its bound)
        raise ConfigError(file, [_flag_of(p, m, update) for p, m in format_errors(exc)]) from None


_FLAGS = {"duration": "--duration", "time_scale": "--time-scale", "seed": "--seed"}


def _flag_of(path: str, message: str, update: dict[str, Any]) -> tuple[str, str]:
    """A schema problem at a field the command line set is the flag's: ``--duration: ...``."""
    field = path.split(".")[0]
    return (_FLAGS[field], message) if field in update and field in _FLAGS else (path, message)


def _master_problems(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--master`` and its options, checked with the rest before anything starts."""
    if not getattr(args, "master", False):
        if getattr(args, "expect_workers", None) is not None:
            return [("--expect-workers", "goes with --master")]
        return _mock_address_problems(args) if hasattr(args, "mock_host") else []
    problems = []
    if args.workers != 1:
        problems.append(("--workers", "not with --master: say --expect-workers N"))
    if args.expect_workers is not None and args.expect_workers < 1:
        problems.append(("--expect-workers", "must be at least 1"))
    if args.virtual:
        problems.append(("--master", "a virtual run has no Locust workers"))
    if args.repeat > 1:
        problems.append(("--master", "not with --repeat: the workers leave after one run"))
    if not 0 < args.master_port < 65536:
        problems.append(("--master-port", "must be a TCP port, 1 to 65535"))
    if args.expect_workers_max_wait <= 0:
        problems.append(("--expect-workers-max-wait", "must be greater than 0"))
    return problems + _mock_address_problems(args)


def _mock_address_problems(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.mock_host == "127.0.0.1" and args.mock_port == 0:
        return []
    if args.target:
        return [("--mock-host", "not with --target: that mock is already running")]
    from simulator.live.master import ANY_INTERFACE

    if args.mock_host in ANY_INTERFACE:
        return [("--mock-host", "an address of this host the workers can reach, which every "
                 "worker is given; not every interface")]  # fmt: skip
    if not 0 <= args.mock_port < 65536:
        return [("--mock-port", "must be a TCP port, 0 (any free one) to 65535")]
    return []


LINT_ERROR = "cannot run as written"  # the headline of a ConfigError from the pre-flight


def _prepare(args: argparse.Namespace) -> tuple[Scenario, Workload, list[Finding]]:
    """Validate and pre-flight everything before anything starts; raises ConfigError.

    Returns the scenario (overrides applied), its workload, and the pre-flight's warnings
    and info; its errors are raised as a ConfigError headed ``LINT_ERROR``.
    """
    from simulator.live.timing import shortest_latency
    from simulator.model_refs import model_problems
    from simulator.preflight import preflight
    from simulator.report.thresholds import parse_thresholds
    from simulator.report.verdict import parse_objective
    from simulator.workload import build_workload

    original = load_scenario(args.scenario)
    sc = _apply_overrides(original, args, args.scenario)
    parse_thresholds(sc.thresholds, list(sc.strategies), args.scenario)
    parse_objective(sc.objective, args.scenario)
    problems = model_problems(sc, own_mock=getattr(args, "target", None) is None)
    if (
        sc.time_scale == "auto"
        and not getattr(args, "virtual", False)
        and shortest_latency(sc) is None
    ):
        problems.append(
            ("time_scale", "auto needs a model the clients call with a network latency; "
             "every one answers instantly, so set a number")
        )  # fmt: skip
    if problems:
        raise ConfigError(args.scenario, problems)
    try:
        workload: Workload | None = build_workload(sc.workload, sc.seed, sc.duration)
    except ValueError:
        workload = None  # the pre-flight says why, at the field
    findings = _narrowed(original, sc) + preflight(sc, workload)
    errors = [(f.field, f.message) for f in findings if f.level == "error"]
    if errors or workload is None:
        raise ConfigError(args.scenario, errors, LINT_ERROR)
    return sc, workload, findings


def _narrowed(original: Scenario, sc: Scenario) -> list[Finding]:
    """What --strategies leaves unchecked: thresholds and the baseline of strategies not run."""
    from simulator.preflight import Finding

    found = [
        Finding("warning", f"thresholds.{name}",
                f"not checked: --strategies leaves {name} out of this run")
        for name in original.thresholds
        if name != "all" and name not in sc.thresholds
    ]  # fmt: skip
    if original.baseline is not None and sc.baseline is None:
        found.append(
            Finding("warning", "baseline",
                    f"{original.baseline} is not in this run (--strategies): no cost-spike "
                    "alert against it")
        )  # fmt: skip
    return found


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.apps.loading import app_problems
    from simulator.workload import describe

    try:
        sc, workload, findings = _prepare(args)
        problems, _ = app_problems(sc.apps, args.virtual, args.target, sc.time_scale)
        if problems:
            raise ConfigError(args.scenario, problems)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    warnings = [f for f in findings if f.level == "warning"]
    for f in warnings:
        print(wrap(f"warning: {f.field}: {f.message}"), file=sys.stderr)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.out or Path("reports") / f"{sc.name}-{stamp}")
    strategies = list(sc.strategies)
    total = sc.duration + sc.drain
    if args.virtual:
        pace = "in virtual time"
    elif sc.time_scale == "auto":
        pace = "at a time scale chosen by calibration (auto)"
    else:
        pace = f"at time scale {sc.scale:g} (about {total / sc.scale:.0f} s wall each)"
    print(
        wrap(
            f"stampede run {sc.name}: {len(strategies)} "
            f"strateg{'y' if len(strategies) == 1 else 'ies'}, {describe(workload)}\n"
            f"  scenario time up to {total:.0f} s per strategy {pace}\n"
            f"  output: {run_dir}"
        )
    )
    kept = [f.as_dict() for f in warnings]
    if not args.web:
        return _run_and_report(args, sc, run_dir, kept, workload.total, None)
    from simulator.live.dashboard.server import Dashboard, serve_during

    try:
        board = Dashboard(run_dir, args.web_port)
    except (OSError, OverflowError) as exc:
        _err(f"--web-port: cannot serve on 127.0.0.1:{args.web_port}: {exc}")
        return EXIT_CONFIG
    print(f"dashboard: {board.url}", flush=True)
    return serve_during(
        board, lambda: _run_and_report(args, sc, run_dir, kept, workload.total, board),
        endings=WEB_ENDINGS, report=run_dir / "report.html", linger_s=args.web_linger,
    )  # fmt: skip


def _run_and_report(
    args: argparse.Namespace,
    sc: Scenario,
    run_dir: Path,
    preflight: list[dict[str, str]],
    expected: int,
    board: Dashboard | None,
) -> int:
    """Run (once, or ``--repeat`` times), then build the report; the exit status."""
    if args.repeat > 1:
        return _run_repeats(args, sc, run_dir, preflight, board)
    status = _run_once(args, sc, run_dir, preflight, expected, board)
    traces = run_dir / "traces.jsonl"
    if not traces.exists() or (status == EXIT_RUN and traces.stat().st_size == 0):
        if status == EXIT_OK:
            _err("no traces were recorded")
            status = EXIT_RUN
        return status
    if board is not None:
        board.finish("reporting")
    report_status = _report(run_dir, args)
    return status if status != EXIT_OK else report_status


def _run_once(
    args: argparse.Namespace,
    sc: Scenario,
    run_dir: Path,
    preflight: list[dict[str, str]],
    expected: int,
    board: Dashboard | None = None,
) -> int:
    """Run every strategy of ``sc`` once, live or virtually, into ``run_dir``; the status."""
    from simulator.run_folder import Interrupted, RunError

    if board is not None:
        board.follow(sc, run_dir, expected, "virtual" if args.virtual else "live")
    try:
        if args.virtual:
            from simulator.virtual.run import VirtualRun, run_virtual

            run_virtual(VirtualRun(sc, run_dir, list(sc.strategies), preflight))
        else:
            from simulator.live.master import MasterMode
            from simulator.live.orchestrate import LiveRun, run_live

            master, workers = None, args.workers
            if args.master:
                master = MasterMode(
                    args.master_bind_host, args.master_port, args.expect_workers_max_wait
                )
                workers = args.expect_workers or 1
            run = LiveRun(sc, run_dir, list(sc.strategies), workers=workers,
                          target=args.target, master=master, preflight=preflight,
                          mock_address=(args.mock_host, args.mock_port))  # fmt: skip
            if board is not None:
                board.watch(run)
            run_live(run, expected)
    except Interrupted:
        return EXIT_INTERRUPTED
    except RunError as exc:
        _err(str(exc))
        return EXIT_RUN
    return EXIT_OK


def _run_repeats(
    args: argparse.Namespace,
    sc: Scenario,
    run_dir: Path,
    preflight: list[dict[str, str]],
    board: Dashboard | None = None,
) -> int:
    """``--repeat N``: N complete runs with seeds seed..seed+N-1, then one verdict over them
    (see ``simulator.report.repeats``). Ctrl-C keeps the repeats that finished."""
    import json

    from simulator.report.html import ReportResult, build_report
    from simulator.report.repeats import build_repeat_report, spread_note
    from simulator.workload import build_workload

    seeds = [sc.seed + i for i in range(args.repeat)]
    results: list[ReportResult] = []
    status = EXIT_OK
    for i, seed in enumerate(seeds, 1):
        sub = run_dir / f"repeat-{i}"
        one = _with_seed(sc, seed)
        print(f"\nrepeat {i} of {len(seeds)}, seed {seed}: {sub}")
        expected = build_workload(one.workload, seed, one.duration).total
        status = _run_once(args, one, sub, preflight, expected, board)
        if (sub / "traces.jsonl").exists() and status == EXIT_OK:
            result = build_report(sub)
            winner = (result.summary.get("winner") or {}).get("strategy") or "no clear winner"
            print(f"  repeat {i}: {winner}; thresholds {'pass' if result.passed else 'FAIL'}")
            results.append(result)
        if status != EXIT_OK:
            break
    info = {
        "scenario": sc.name,
        "mode": "virtual" if args.virtual else "live",
        "strategies": list(sc.strategies),
        "repeats": len(results),
        "seeds": seeds[: len(results)],
        "partial": len(results) < len(seeds),
        "time_scale": None if args.virtual else sc.time_scale,
        "duration_s": sc.duration,
        "drain_s": sc.drain,
        "preflight": preflight,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    if not results:
        _err("no repeat finished")
        return status if status != EXIT_OK else EXIT_RUN
    report_status = _show(build_repeat_report(run_dir, results), note=spread_note, args=args)
    return status if status != EXIT_OK else report_status


def _with_seed(sc: Scenario, seed: int) -> Scenario:
    data = sc.model_dump(exclude_unset=True)  # a full dump would set fields a kind ignores
    data["seed"] = seed
    return Scenario.model_validate(data)


def cmd_lint(args: argparse.Namespace) -> int:
    """Print the pre-flight findings grouped by level, then a one-line verdict."""
    from simulator.preflight import Finding
    from simulator.workload import describe

    try:
        sc, workload, findings = _prepare(args)
        head = (
            f"stampede lint {args.scenario}: {len(sc.strategies)} strateg"
            f"{'y' if len(sc.strategies) == 1 else 'ies'}, {sc.duration:g} s of arrivals, "
            f"{describe(workload)}"
        )
    except ConfigError as exc:
        if exc.headline != LINT_ERROR:  # not valid at all: the config error says why
            _err(str(exc))
            return EXIT_CONFIG
        findings = [Finding("error", field, message) for field, message in exc.problems]
        head = f"stampede lint {args.scenario}"
    print(wrap(head))
    counts = {}
    for level, title in (("error", "errors"), ("warning", "warnings"), ("info", "info")):
        group = [f for f in findings if f.level == level]
        counts[level] = len(group)
        if group:
            print(f"\n{title} ({len(group)}):")
            for f in group:
                print(wrap(f"  {f.field}: {f.message}"))
    print()
    print(wrap(_lint_verdict(counts["error"], counts["warning"])))
    return EXIT_CONFIG if counts["error"] else EXIT_OK


def _lint_verdict(errors: int, warnings: int) -> str:
    def n(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"

    if errors:
        return (
            f"verdict: {n(errors, 'error')}, {n(warnings, 'warning')}: this scenario cannot "
            "run as written (exit 2)"
        )
    if warnings:
        return (
            f"verdict: {n(warnings, 'warning')}: it runs, but its verdict may not show what "
            "the scenario claims"
        )
    return "verdict: no errors or warnings: ready to run"


def _report(run_dir: Path, args: argparse.Namespace | None = None) -> int:
    from simulator.report.html import build_report

    try:
        result = build_report(run_dir)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    return _show(result, args=args)


def _show(result: Any, note: Any = None, args: argparse.Namespace | None = None) -> int:
    """Print a built report: the table and verdict, thresholds, where the files are."""
    from simulator.report.tables import format_table, wrap
    from simulator.report.units import format_value

    strategies = list(result.summary.get("strategies", {}))
    print()
    print(format_table(result.summary, strategies, result.ranking))
    if note is not None:
        print(wrap(note(result.summary)))
    if result.summary.get("partial"):
        not_run = result.summary.get("not_run") or []
        extra = f"; not run: {', '.join(not_run)}" if not_run else ""
        print(f"\n(partial run: the summary covers only what ran{extra})")
    if result.verdicts:
        print("\nThresholds:")
    for v in result.verdicts:
        mark = "PASS" if v.passed else "FAIL"
        actual = "no value" if v.actual is None else format_value(v.metric, v.actual)
        note_text = f"; {v.note}" if v.note else ""
        print(wrap(f"  {mark}  {v.strategy}: {v.metric} {v.expression} (actual {actual}"
                   f"{note_text})", indent="        "))  # fmt: skip
    print(f"\nsummary: {result.summary_path}\nreport:  {result.html_path}")
    if args is not None:
        from simulator.report.html import read_run_info

        info, scenario, _ = read_run_info(Path(result.run_dir))
        name = str(scenario.get("name") or info.get("scenario") or Path(result.run_dir).name)
        if _write_ci_outputs(args, result, name) != EXIT_OK:
            return EXIT_RUN
    return EXIT_OK if result.passed else EXIT_THRESHOLD


def _unreadable(*run_dirs: str) -> bool:
    """Say what keeps a run folder from being read (``folder_problems``); True if any."""
    from simulator.run_folder import folder_problems

    for d in run_dirs:
        problems = folder_problems(Path(d))
        if problems:
            _err(str(ConfigError(d, problems, "not a readable run folder")))
            return True
    return False


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    folders = [p.parent for p in run_dir.glob("repeat-*/traces.jsonl")]
    if _unreadable(str(run_dir), *map(str, folders)):
        return EXIT_CONFIG
    repeats = sorted(run_dir.glob("repeat-*/traces.jsonl"), key=lambda p: int(p.parent.name[7:]))
    if repeats and not (run_dir / "traces.jsonl").exists():
        from simulator.report.html import build_report
        from simulator.report.repeats import build_repeat_report, spread_note

        results = [build_report(p.parent) for p in repeats]
        return _show(build_repeat_report(run_dir, results), note=spread_note, args=args)
    if not (run_dir / "traces.jsonl").exists():
        _err(f"{run_dir}: no traces.jsonl here; pass a folder written by 'stampede run'")
        return EXIT_CONFIG
    return _report(run_dir, args)


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.report.compare import compare_runs

    for d in (args.run_dir_a, args.run_dir_b):
        if not (Path(d) / "traces.jsonl").exists() and not (Path(d) / "summary.json").exists():
            _err(f"{d}: not a run folder (no traces.jsonl or summary.json)")
            return EXIT_CONFIG
    if _unreadable(args.run_dir_a, args.run_dir_b):
        return EXIT_CONFIG
    out = Path(args.out or Path(args.run_dir_b) / "compare.html")
    print(compare_runs(args.run_dir_a, args.run_dir_b, out))
    print(f"\ncomparison: {out}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """Exit 0 when every finding passes, 1 when one fails, 2 on an unusable input."""
    from simulator.audit.command import AuditInputError, load_journal, load_limits
    from simulator.audit.findings import audit
    from simulator.audit.render import audit_table, write_audit

    try:
        limits = load_limits(args.thresholds)
        entries = load_journal(args.journal)
    except AuditInputError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    result = audit(entries, limits)
    print(audit_table(result))
    if args.out:
        js, page = write_audit(result, Path(args.out), args.journal)
        print(f"\naudit: {js}\npage:  {page}")
    return EXIT_OK if result.passed else EXIT_THRESHOLD


def main(argv: Sequence[str] | None = None) -> int:
    """The command's exit status; argparse exits 2 itself on a malformed command line.

    What the user typed is checked at the edge (argument types, the schemas), so an
    exception reaching here is a bug in stampede: it is said in one line with exit 3, not a
    traceback, unless ``STAMPEDE_DEBUG`` is set (then it is raised, for the traceback).
    """
    with closed_pipe_ignored():
        args = build_parser().parse_args(argv)
        try:
            if getattr(args, "summary_json", None) != "-":
                return _dispatch(args)
            # --summary-json -: stdout carries the JSON alone; what a person reads: stderr.
            args.real_stdout = sys.stdout
            with contextlib.redirect_stdout(sys.stderr):
                return _dispatch(args)
        except KeyboardInterrupt:
            _err("interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:
            if os.environ.get("STAMPEDE_DEBUG"):
                raise
            _err(f"internal error: {type(exc).__name__}: {exc} (a bug in stampede; run with "
                 "STAMPEDE_DEBUG=1 for the traceback, and report it)")  # fmt: skip
            return EXIT_RUN


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from mock_provider.serve import serve_main

        return serve_main(args)
    if args.command == "worker":
        from simulator.live.worker import worker_main

        return worker_main(args)
    if args.command == "fault":
        from simulator.fault_cli import cmd_fault

        return cmd_fault(args)
    if args.command in ("schema", "init", "list"):
        from simulator.reference import commands

        return int(getattr(commands, f"cmd_{args.command}")(args))
    commands_here = {
        "run": cmd_run,
        "lint": cmd_lint,
        "report": cmd_report,
        "compare": cmd_compare,
        "check": cmd_check,
        "sweep": cmd_sweep,
        "audit": cmd_audit,
    }
    return commands_here[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
