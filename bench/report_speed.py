"""How long does ``build_report`` take on a big run? (a benchmark, not a test)

Generates a synthetic run directory with about 1M attempt records (plus their request records)
for several strategies, then times the full report: load + summary + plots + HTML.

    python bench/report_speed.py [--attempts 1000000] [--keep DIR | --run DIR]

It prints the build's wall time, and its ratio to a baseline measured in the same run on the
same file: pyarrow reading every field and grouping by strategy and kind, the least any report
of the file costs.

The traces are statistically shaped, not simulated: each logical request draws its number of
attempts from the strategy's failure odds, and retry delays follow the strategy's policy. A
burst of arrivals with fixed-delay retries therefore shows the synchronised waves the report
must make visible, while jittered retries smear them out.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True, slots=True)
class SyntheticStrategy:
    name: str
    p_fail: float  # chance an attempt fails (outside the burst)
    burst_p_fail: float  # chance an attempt fails while the burst is on
    max_attempts: int
    delay: str  # "fixed" | "exponential" | "full_jitter"
    fallback: str | None = None  # model of the last attempt after a failure
    stream: bool = True


STRATEGIES = (
    SyntheticStrategy("naive", 0.10, 0.75, 6, "fixed"),
    SyntheticStrategy("exponential", 0.08, 0.55, 5, "exponential"),
    SyntheticStrategy("full_jitter", 0.05, 0.45, 5, "full_jitter"),
    SyntheticStrategy("jitter_fallback", 0.05, 0.45, 4, "full_jitter", fallback="gpt-4o"),
)
PRIMARY = "gpt-4o-mini"
NULL = np.array(None, dtype=object)  # a JSON null inside np.where
PRICES = {  # USD per token: input, cached input, output
    "gpt-4o-mini": (0.15e-6, 0.075e-6, 0.60e-6),
    "gpt-4o": (2.50e-6, 1.25e-6, 10.0e-6),
}


def _group_offsets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, 1-based position within the group) for a repeat-by-counts layout."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner] + 1


def _remaining(starts: np.ndarray, weights: np.ndarray, limit: float) -> np.ndarray:
    """Limit minus the weight used in the trailing 60 s window, as a limiter header would say."""
    order = np.argsort(starts, kind="stable")
    s, w = starts[order], weights[order]
    csum = np.cumsum(w)
    lo = np.searchsorted(s, s - 60.0, side="left")
    used = csum - np.where(lo > 0, csum[lo - 1], 0)
    out = np.empty_like(used, dtype=float)
    out[order] = np.maximum(limit - used, 0)
    return out


def synthesize_strategy(
    spec: SyntheticStrategy, arrivals: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    n = arrivals.size
    burst = (arrivals >= 20) & (arrivals < 35)
    p_fail = np.where(burst, spec.burst_p_fail, spec.p_fail)
    first_success = rng.geometric(1 - p_fail)
    success = first_success <= spec.max_attempts
    k = np.minimum(first_success, spec.max_attempts)
    owner, a = _group_offsets(k)
    m = owner.size
    last = a == k[owner]
    ok_att = last & success[owner]

    # failures: mostly 429, some 5xx and timeouts
    u = rng.random(m)
    status = np.where(ok_att, 200, np.where(u < 0.8, 429, np.where(u < 0.95, 503, 0)))
    error = np.where(
        ok_att,
        NULL,
        np.where(status == 429, "rate_limited", np.where(status == 503, "server_error", "timeout")),
    )
    model = np.full(m, PRIMARY, dtype=object)
    if spec.fallback:
        model[(a > 1) & last] = spec.fallback
    latency_s = np.where(
        status == 200,
        rng.lognormal(np.log(1.2), 0.4, m),
        np.where(status == 0, 10.0, rng.lognormal(np.log(0.05), 0.3, m)),
    )
    base = np.minimum(0.5 * 2.0 ** (a - 1), 30.0)
    delay = {
        "fixed": np.full(m, 2.0),
        "exponential": base,
        "full_jitter": rng.random(m) * base,
    }[spec.delay]
    delay = np.where(a == 1, 0.0, delay)
    step = delay + latency_s
    csum = np.cumsum(step)
    first = np.cumsum(k) - k
    before = np.where(first > 0, csum[first - 1], 0.0)
    end = arrivals[owner] + csum - before[owner]
    start = end - latency_s

    in_tok = rng.lognormal(np.log(600), 0.5, n).astype(np.int64) + 50
    cached = (in_tok * rng.choice([0.0, 0.0, 0.8], n)).astype(np.int64)
    out_tok = rng.lognormal(np.log(200), 0.5, n).astype(np.int64) + 1
    finish = np.where(rng.random(n) < 0.03, "length", "stop")

    att_model = model
    att_in = in_tok[owner]
    remaining_requests = _remaining(start, np.ones(m), 5000)
    remaining_tokens = _remaining(start, att_in.astype(float), 2_000_000)

    att_cost = np.zeros(m)
    for name, (pi, pc, po) in PRICES.items():
        sel = ok_att & (att_model == name)
        o = owner[sel]
        att_cost[sel] = (in_tok[o] - cached[o]) * pi + cached[o] * pc + out_tok[o] * po
    ttft = np.where(ok_att, rng.lognormal(np.log(350), 0.35, m), np.nan) if spec.stream else None

    trace_ids = pd.Series(np.arange(n)).map(lambda i: f"{spec.name[:3]}-{i:08x}")
    users = np.char.add("u", rng.integers(0, 200, n).astype(str))
    features = rng.choice(["chat", "summarizer", "search"], n, p=[0.6, 0.3, 0.1])
    attempts = pd.DataFrame(
        {
            "kind": "attempt",
            "trace_id": trace_ids.to_numpy()[owner],
            "t": end,
            "strategy": spec.name,
            "user_id": users[owner],
            "feature": features[owner],
            "model": att_model,
            "prompt_version": "v2.3.1",
            "provider": "openai",
            "attempt": a,
            "status": status,
            "error": error,
            "retry_after_s": np.where(status == 429, 1.0, np.nan),
            "slept_s": delay,
            "input_tokens": att_in,
            "output_tokens": np.where(ok_att, out_tok[owner], 0),
            "cached_tokens": np.where(ok_att, cached[owner], 0),
            "cost_usd": att_cost,
            "latency_ms": latency_s * 1000,
            "attempt_ttft_ms": ttft,
            "finish_reason": np.where(ok_att, finish[owner], NULL),
            "fallback_used": None,
            "start_t": start,
            "remaining_requests": remaining_requests.round(),
            "remaining_tokens": remaining_tokens.round(),
            "success": None,
            "worker": 0,
        }
    )
    last_idx = np.flatnonzero(last)
    req_model = att_model[last_idx]
    requests = pd.DataFrame(
        {
            "kind": "request",
            "trace_id": trace_ids.to_numpy(),
            "t": end[last_idx],
            "strategy": spec.name,
            "user_id": users,
            "feature": features,
            "model": req_model,
            "prompt_version": "v2.3.1",
            "provider": "openai",
            "attempt": k,
            "status": status[last_idx],
            "error": error[last_idx],
            "retry_after_s": np.nan,
            "slept_s": np.bincount(owner, weights=delay, minlength=n),
            "input_tokens": in_tok,
            "output_tokens": np.where(success, out_tok, 0),
            "cached_tokens": np.where(success, cached, 0),
            "cost_usd": np.bincount(owner, weights=att_cost, minlength=n),
            "latency_ms": (end[last_idx] - arrivals) * 1000,
            "ttft_ms": None if ttft is None else ttft[last_idx],
            "finish_reason": np.where(success, finish, NULL),
            "fallback_used": np.where(success & (req_model != PRIMARY), req_model, NULL),
            "start_t": arrivals,
            "remaining_requests": np.nan,
            "remaining_tokens": np.nan,
            "success": success,
            "worker": 0,
        }
    )
    return pd.concat([attempts, requests], ignore_index=True).sort_values("t", kind="stable")


def synthesize_run(
    run_dir: Path,
    n_attempts: int = 1_000_000,
    seed: int = 7,
    strategies: tuple[SyntheticStrategy, ...] = STRATEGIES,
) -> int:
    """Write traces.jsonl, scenario.yaml and run.json; return the number of attempt records."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    n_req = max(10, int(n_attempts / 1.15 / len(strategies)))
    duration = max(60.0, n_req / 200)
    arrivals = np.sort(
        np.concatenate(
            [
                rng.uniform(0, duration, int(n_req * 0.95)),
                rng.uniform(20, 20.2, n_req - int(n_req * 0.95)),
            ]
        )
    )
    frames = [synthesize_strategy(s, arrivals, rng) for s in strategies]
    df = pd.concat(frames, ignore_index=True)
    t0 = np.datetime64("2026-05-01T12:00:00", "ms")
    df.insert(
        2,
        "timestamp",
        np.datetime_as_string(t0 + (df["t"].to_numpy() * 1000).astype("timedelta64[ms]")),
    )
    n_att = int((df["kind"] == "attempt").sum())
    # pandas' C JSON writer: the fastest stdlib-free path to JSONL here (nulls become null)
    df.to_json(run_dir / "traces.jsonl", orient="records", lines=True, double_precision=6)
    names = [s.name for s in strategies]
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "scenario": "bench-burst",
                "strategies": names,
                "partial": False,
                "seed": seed,
                "time_scale": 1.0,
                "started": "2026-05-01T12:00:00Z",
                "duration_s": duration,
            }
        )
    )
    (run_dir / "scenario.yaml").write_text(
        "name: bench-burst\n"
        "description: Synthetic burst at t=20 s; naive fixed-delay retries against jittered ones.\n"
        "workload:\n  arrivals: {kind: poisson, rate: 200}\n"
        "strategies:\n" + "".join(f"  {n}: {{}}\n" for n in names) + "thresholds:\n"
        "  all:\n    success_rate: '>= 0.95'\n    p95_latency_ms: '< 8000'\n"
        "    amplification: '<= 1.5'\n  full_jitter:\n    herd_index: '< 3'\n"
    )
    return n_att


def pyarrow_baseline(path: Path) -> float:
    """Seconds for the floor any report pays: pyarrow reads every field of the file and
    groups it by strategy and kind (no summary, no charts)."""
    import pyarrow.json as pj

    from simulator.report.loading import TRACE_SCHEMA

    t = time.perf_counter()
    table = pj.read_json(
        path,
        read_options=pj.ReadOptions(block_size=16 << 20),
        parse_options=pj.ParseOptions(
            explicit_schema=TRACE_SCHEMA, unexpected_field_behavior="ignore"
        ),
    )
    table.group_by(["strategy", "kind"]).aggregate(
        [("latency_ms", "mean"), ("status", "count"), ("cost_usd", "sum")]
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="write the run here and keep it")
    ap.add_argument("--run", type=Path, help="report this run instead (one --keep wrote)")
    args = ap.parse_args()
    from simulator.report.html import build_report  # after the sys.path tweak

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or args.keep or Path(tmp) / "run"
        t = time.perf_counter()
        # synthesise and measure the baseline in a child process, so this process's peak RSS
        # is the report's alone
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            if not args.run:
                pool.submit(synthesize_run, run_dir, args.attempts).result()
                print(f"synthesised in {time.perf_counter() - t:.1f} s")
            baseline = pool.submit(pyarrow_baseline, run_dir / "traces.jsonl").result()
        size = (run_dir / "traces.jsonl").stat().st_size
        t = time.perf_counter()
        result = build_report(run_dir)
        wall = time.perf_counter() - t
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    n_att = sum(m["attempts"] for m in result.summary["strategies"].values())
    print(
        f"  {len(result.plots)} plots, {len(result.verdicts)} verdicts -> {result.html_path.name}"
    )
    print(f"  pyarrow pool peak: {pa.default_memory_pool().max_memory() / 2**20:,.0f} MiB")
    print(f"  baseline (pyarrow reads all fields and groups by strategy, kind): {baseline:.1f} s")
    print(
        f"report build: {n_att:,} attempt records ({size / 2**20:,.0f} MiB JSONL) in {wall:.1f} s "
        f"= {wall / baseline:.2f}x the baseline, peak RSS {peak_mib:,.0f} MiB "
        f"(target < 10 s), load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
