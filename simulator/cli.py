"""The ``stampede`` command line.

Exit codes: 0 every threshold holds, 1 a threshold failed, 2 config error (nothing started),
3 run error. An interrupted run (Ctrl-C, SIGTERM) keeps its traces, writes a partial
summary and report, and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.config import ConfigError, Scenario, load_scenario, parse_duration

__all__ = ["main"]

EXIT_OK, EXIT_THRESHOLD, EXIT_CONFIG, EXIT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    from mock_provider.serve import add_serve_arguments

    parser = argparse.ArgumentParser(
        prog="stampede",
        description="Load-test and chaos-test LLM API clients before launch.",
        epilog="Exit codes: 0 thresholds hold, 1 a threshold failed, 2 config error, "
        "3 run error, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario live: Locust clients against the mock")
    run.add_argument("scenario", help="scenario YAML file (see scenarios/)")
    run.add_argument("--out", help="output folder (default reports/<scenario>-<timestamp>/)")
    run.add_argument("--strategies", help="comma-separated strategy names to run (default all)")
    run.add_argument("--duration", help="override the scenario duration (e.g. 60, 90s, 2m)")
    run.add_argument(
        "--time-scale",
        type=_time_scale,
        metavar="K|auto",
        help="override time_scale (K x faster); auto: the largest scale that keeps the live "
        "timing within its bound, found by a short calibration",
    )
    run.add_argument("--workers", type=int, default=1, help="Locust worker processes (default 1)")
    run.add_argument("--seed", type=int, help="override the scenario seed")
    run.add_argument(
        "--target", help="URL of an already running stampede mock (default: start one)"
    )

    serve = sub.add_parser("serve", help="run the mock LLM provider")
    add_serve_arguments(serve)

    report = sub.add_parser("report", help="rebuild summary, plots and report.html from traces")
    report.add_argument("run_dir", help="a run folder containing traces.jsonl")

    compare = sub.add_parser("compare", help="compare two runs side by side")
    compare.add_argument("run_dir_a")
    compare.add_argument("run_dir_b")
    compare.add_argument("--out", help="HTML output (default <run_dir_b>/compare.html)")
    return parser


def _time_scale(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _apply_overrides(sc: Scenario, args: argparse.Namespace, file: str) -> Scenario:
    update: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if args.strategies:
        wanted = [s.strip() for s in args.strategies.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in sc.strategies]
        if unknown:
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
    if args.time_scale is not None:
        if args.time_scale != "auto" and args.time_scale <= 0:
            problems.append(("--time-scale", "must be greater than 0"))
        update["time_scale"] = args.time_scale
    if args.seed is not None:
        update["seed"] = args.seed
    if args.workers < 1:
        problems.append(("--workers", "must be at least 1"))
    if problems:
        raise ConfigError(file, problems)
    data = {**sc.model_dump(), **update}
    auto = data["time_scale"] == "auto"  # the mock's scale is set once it is chosen
    data["provider"] = {
        **data["provider"],
        "time_scale": 1.0 if auto else data["time_scale"],
        "seed": data["seed"],
    }
    return Scenario.model_validate(data)


def _prepare(args: argparse.Namespace) -> tuple[Scenario, int]:
    """Validate everything before anything starts; raises ConfigError."""
    from simulator.live.timing import shortest_latency
    from simulator.model_refs import model_problems
    from simulator.report.thresholds import parse_thresholds
    from simulator.workload import build_workload

    sc = _apply_overrides(load_scenario(args.scenario), args, args.scenario)
    parse_thresholds(sc.thresholds, list(sc.strategies), args.scenario)
    problems = model_problems(sc, own_mock=args.target is None)
    if sc.time_scale == "auto" and shortest_latency(sc) is None:
        problems.append(
            ("time_scale", "auto needs a model the clients call with a network latency; "
             "every one answers instantly, so set a number")
        )  # fmt: skip
    if problems:
        raise ConfigError(args.scenario, problems)
    try:
        workload = build_workload(sc.workload, sc.seed, sc.duration)
    except ValueError as exc:
        raise ConfigError(args.scenario, [("workload", str(exc))]) from exc
    if workload.total == 0:
        raise ConfigError(
            args.scenario,
            [("workload.arrivals", "produces no requests; raise n, rate or duration")],
        )
    return sc, workload.total


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.live.orchestrate import Interrupted, LiveRun, RunError, run_live
    from simulator.workload import build_workload, describe

    try:
        sc, expected = _prepare(args)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.out or Path("reports") / f"{sc.name}-{stamp}")
    strategies = list(sc.strategies)
    total = sc.duration + sc.drain
    scale = (
        "a time scale chosen by calibration (auto)"
        if sc.time_scale == "auto"
        else f"time scale {sc.scale:g} (about {total / sc.scale:.0f} s wall each)"
    )
    print(
        f"stampede run {sc.name}: {len(strategies)} strateg{'y' if len(strategies) == 1 else 'ies'}"
        f", {describe(build_workload(sc.workload, sc.seed, sc.duration))}\n"
        f"  scenario time up to {total:.0f} s per strategy at {scale}; output: {run_dir}"
    )
    run = LiveRun(sc, run_dir, strategies, workers=args.workers, target=args.target)
    status = EXIT_OK
    try:
        run_live(run, expected)
    except Interrupted:
        status = EXIT_INTERRUPTED
    except RunError as exc:
        _err(str(exc))
        status = EXIT_RUN
    if not run.traces.exists():
        if status == EXIT_OK:
            _err("no traces were recorded")
            status = EXIT_RUN
        return status
    report_status = _report(run_dir)
    return status if status != EXIT_OK else report_status


def _report(run_dir: Path) -> int:
    from simulator.report.html import build_report
    from simulator.report.tables import format_table

    try:
        result = build_report(run_dir)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    strategies = list(result.summary.get("strategies", {}))
    print()
    print(format_table(result.summary, strategies))
    if result.summary.get("partial"):
        not_run = result.summary.get("not_run") or []
        extra = f"; not run: {', '.join(not_run)}" if not_run else ""
        print(f"\n(partial run: the summary covers only what ran{extra})")
    for v in result.verdicts:
        mark = "PASS" if v.passed else "FAIL"
        actual = "n/a" if v.actual is None else f"{v.actual:.4g}"
        print(f"  {mark}  {v.strategy}: {v.metric} {v.expression} (actual {actual})")
    print(f"\nsummary: {result.summary_path}\nreport:  {result.html_path}")
    return EXIT_OK if result.passed else EXIT_THRESHOLD


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "traces.jsonl").exists():
        _err(f"{run_dir}: no traces.jsonl here; pass a folder written by 'stampede run'")
        return EXIT_CONFIG
    return _report(run_dir)


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.report.html import compare_runs

    for d in (args.run_dir_a, args.run_dir_b):
        if not (Path(d) / "traces.jsonl").exists() and not (Path(d) / "summary.json").exists():
            _err(f"{d}: not a run folder (no traces.jsonl or summary.json)")
            return EXIT_CONFIG
    out = Path(args.out or Path(args.run_dir_b) / "compare.html")
    print(compare_runs(args.run_dir_a, args.run_dir_b, out))
    print(f"\ncomparison: {out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from mock_provider.serve import serve_main

        return serve_main(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "compare":
        return cmd_compare(args)
    return EXIT_RUN


if __name__ == "__main__":
    sys.exit(main())
