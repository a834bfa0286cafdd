"""What does the client brain cost a Locust user? And what does a second worker buy?

    python bench/client_overhead.py [--duration 8] [--users 16] [--rounds 3]

A bare aiohttp handler (one process, fixed chat-completion body) is the target. Locust runs
headless against it twice per round, in the same run: ``PlainUser`` (a FastHttpUser posting
the body in a loop) and ``BrainUser`` (the same request through ClientBrain, LiveDriver,
LocustTransport and a TraceWriter). Both are closed loops with no wait, so the request rate
is the client's own speed. Prints requests/s for each, the brain/plain ratio (target >= 0.8:
the median of the rounds' own ratios, as a round's runs are back to back), and BrainUser's
throughput with ``--processes 2`` against one process.

On a 2-core machine a second Locust process competes with the target for CPU, so the
two-worker figure is a statement about this machine, not about Locust.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "overhead_locustfile.py"

BARE_SERVER = r"""
import json, sys
from aiohttp import web
BODY = json.dumps({
  "id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": " the quick brown fox"},
               "logprobs": None, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34,
            "prompt_tokens_details": {"cached_tokens": 0}},
}).encode()
async def chat(request):
    await request.read()
    return web.Response(body=BODY, content_type="application/json",
                        headers={"x-ratelimit-remaining-requests": "999"})
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    import asyncio
    await asyncio.Event().wait()
import asyncio
asyncio.run(main())
"""


def locust_rps(host: str, user: str, users: int, seconds: int, processes: int = 1) -> float:
    """Requests per second of one headless Locust run, from Locust's own JSON stats."""
    with tempfile.TemporaryDirectory() as traces:
        cmd = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
            "-u", str(users), "-r", str(users * 10), "--run-time", f"{seconds}s", "--json",
            "--skip-log", "--exit-code-on-error", "0", user,
        ]  # fmt: skip
        if processes > 1:
            cmd[-1:-1] = ["--processes", str(processes)]
        env = {**os.environ, "STAMPEDE_BENCH_TRACES": traces}
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 60, env=env, cwd=HERE.parent
        )
        # with --processes, workers print their own (empty) stats first: keep the master's
        decoder, text, pos = json.JSONDecoder(), proc.stdout, 0
        stats: list[dict[str, Any]] = []
        while (pos := text.find("[", pos)) >= 0:
            found, pos = decoder.raw_decode(text, pos)
            stats = found or stats
        if not stats:
            raise RuntimeError(f"locust printed no JSON stats:\n{proc.stderr[-2000:]}")
        entry = next(s for s in stats if s["method"] == "POST")
        span = entry["last_request_timestamp"] - entry["start_time"]
        if entry["num_failures"]:
            raise RuntimeError(f"{entry['num_failures']} failures in the {user} run")
        return float(entry["num_requests"] / span)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=int, default=8, help="seconds per Locust run")
    ap.add_argument("--users", type=int, default=16, help="concurrent Locust users")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (median of their ratios)")
    args = ap.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        host = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        plain, brain, bare_brain = [], [], []
        for r in range(args.rounds):
            plain.append(locust_rps(host, "PlainUser", args.users, args.duration))
            brain.append(locust_rps(host, "BrainUser", args.users, args.duration))
            bare_brain.append(locust_rps(host, "BrainNoTraceUser", args.users, args.duration))
            print(
                f"round {r + 1}: plain {plain[-1]:8.0f} req/s   brain+traces {brain[-1]:8.0f} "
                f"req/s   brain, no trace file {bare_brain[-1]:8.0f} req/s"
            )
        # Headline: the median of each round's own ratio. A round's runs are back to back, so
        # a slow spell of a shared machine slows both sides of its ratio.
        ratios = [b / p for p, b in zip(plain, brain, strict=True)]
        no_file = [b / p for p, b in zip(plain, bare_brain, strict=True)]
        print("per-round brain+traces/plain ratios: " + ", ".join(f"{x:.2f}" for x in ratios))
        one = statistics.median(brain)
        two = locust_rps(host, "BrainUser", args.users, args.duration, processes=2)
        print(f"BrainUser, 1 process: {one:8.0f} req/s; 2 worker processes: {two:8.0f} req/s "
              f"(x{two / one:.2f})")  # fmt: skip
        print(f"brain without writing traces / plain: {statistics.median(no_file):.2f}")
        ratio = statistics.median(ratios)
        print(f"client brain/plain throughput ratio: {ratio:.2f} (target >= 0.8)")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
