"""Virtual against live: the same scenario file, the same seed, both drivers; the table.

    python bench/agreement.py [--scenarios a,b] [--time-scale auto|K] [--out DIR]

For each scenario (default: thundering_herd, outage_fallback, tpm_pressure,
streaming_latency, launch_day) it runs ``stampede run --virtual`` and ``stampede run`` (live,
at the scenario's own time scale unless ``--time-scale`` says otherwise) into ``DIR`` and
prints, per strategy, success rate, amplification, p50 and p95 latency from both, with the
gap. Tolerances (issue 13): success rate and amplification within 5%, p50 and p95 within
10%; a gap outside them is marked ``!``. Success rate is compared in percentage points (a
rate), the others relative to the live value. Live runs take minutes; the virtual ones,
seconds (both wall times are printed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("thundering_herd", "outage_fallback", "tpm_pressure", "streaming_latency",
             "launch_day")  # fmt: skip
# metric -> (tolerance, absolute?) : success rate in points, the rest relative to live
TOLERANCE = {
    "success_rate": (0.05, True),
    "amplification": (0.05, False),
    "p50_latency_ms": (0.10, False),
    "p95_latency_ms": (0.10, False),
}


def run(scenario: Path, out: Path, *extra: str) -> float:
    began = time.perf_counter()
    cmd = [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--out", str(out), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - began


def gap(metric: str, virtual: float | None, live: float | None) -> tuple[str, bool]:
    """The gap in the metric's own terms, and whether it is within tolerance."""
    if virtual is None or live is None:
        return "n/a", virtual is None and live is None
    tol, absolute = TOLERANCE[metric]
    if absolute:
        d = virtual - live
        return f"{100 * d:+.1f} pt", abs(d) <= tol
    d = (virtual - live) / live if live else 0.0
    return f"{100 * d:+.1f}%", abs(d) <= tol


def fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "–"
    if metric == "success_rate":
        return f"{100 * v:.1f}%"
    if metric == "amplification":
        return f"{v:.2f}x"
    return f"{v:,.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--time-scale", help="live time scale (default: the scenario's own)")
    ap.add_argument("--out", help="where the runs go (default: a temporary folder)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="stampede-agreement-"))
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    failures = 0
    for name in names:
        scenario = ROOT / "scenarios" / f"{name}.yaml"
        wall_v = run(scenario, out / f"{name}-virtual", "--virtual")
        live_extra = ("--time-scale", args.time_scale) if args.time_scale else ()
        wall_l = run(scenario, out / f"{name}-live", *live_extra)
        info = json.loads((out / f"{name}-live" / "run.json").read_text())
        v = json.loads((out / f"{name}-virtual" / "summary.json").read_text())["strategies"]
        live = json.loads((out / f"{name}-live" / "summary.json").read_text())["strategies"]
        print(f"\n{name}: virtual {wall_v:.1f} s wall, live {wall_l:.1f} s wall at time scale "
              f"{info.get('time_scale')}")  # fmt: skip
        print(f"  {'strategy':<20}" + "".join(f"{m:>34}" for m in TOLERANCE))
        for strategy in v:
            cells = []
            for metric in TOLERANCE:
                a, b = v[strategy].get(metric), live.get(strategy, {}).get(metric)
                text, ok = gap(metric, a, b)
                failures += not ok
                cells.append(f"{fmt(metric, a)} / {fmt(metric, b)} ({text}){' ' if ok else '!'}")
            print(f"  {strategy:<20}" + "".join(f"{c:>34}" for c in cells))
    print(f"\nvirtual / live (gap); ! = outside the tolerance. Runs in {out}")
    print(f"{failures} cell(s) outside the tolerance")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
