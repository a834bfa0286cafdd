"""Does the mock admit exactly what its RPM and TPM limits promise under twice that load?

    python bench/limiter_accuracy.py [--rpm 300] [--tpm 30000] [--duration 180] [--seed 0]
                                     [--live] [--time-scale 60]

A limit of L per minute is a bucket of capacity L refilled at L/60 per second, starting full.
Offered twice the rate for ``duration`` scenario seconds, it should admit

    expected = capacity + rate * duration = L + L/60 * duration

(for 3 minutes: 4 L). The RPM run counts admitted requests; the TPM run counts admitted tokens.

*Admitted tokens* are the prompt + completion tokens actually used by admitted requests. The
mock charges each request its estimate (prompt + max_tokens) at admission and corrects it to
actual usage in ``settle()``; here the provider's output length is fixed at ``max_tokens``
(output_tokens median = max_tokens, spread 0), so estimate == actual, the correction is zero,
and the admitted tokens are exactly what the bucket let through. Both settlement paths run:
every other request is streamed, so it is settled by a later ``settle()`` call; the others,
not streamed from a zero-latency model, are settled at admission.

The default run is in virtual time against :class:`Provider` (the whole admission path:
the OpenAI dialect's body parsing and token counting, model lookup, faults, limits), with
arrivals evenly spaced and then Poisson (seeded numpy generator). ``--live`` also runs both
limits through the real HTTP server on loopback with ``--time-scale`` (60: 3 scenario minutes
in 3 wall seconds), counting 200s and 429s. Target: admitted/expected within 1%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects import openai as oai
from mock_provider.model.provider import ChatRequest, Completion, Provider

__all__ = [
    "LimiterRun",
    "arrival_times",
    "chat_body",
    "limiter_config",
    "run_live",
    "run_virtual",
]

MODEL = "gpt-4o-mini"
API_KEY = "sk-stampede-limiter"
MAX_TOKENS = 60
TOLERANCE = 0.01
UNREACHABLE = 10**9

_SYSTEM = "You are a helpful assistant that answers questions about train timetables."


def chat_body(i: int) -> bytes:
    """Request ``i``: a system + user prompt whose length varies a little with ``i``."""
    user = f"Request {i}: when is the next train from Lyon to Geneva" + " please" * (i % 5) + "?"
    return json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}],
            "max_tokens": MAX_TOKENS,
        },
        separators=(",", ":"),
    ).encode()


def mean_request_tokens(n: int = 100) -> float:
    """Prompt + completion tokens of an average request, counted by the mock's own dialect."""
    return statistics.fmean(oai.parse_chat(chat_body(i))[1] + MAX_TOKENS for i in range(n))


def limiter_config(rpm: int, tpm: int, time_scale: float = 1.0) -> ProviderConfig:
    """Only the limit under test can bite: zero latency, output exactly ``MAX_TOKENS``."""
    zero = DistConfig(median=0, spread=0)
    latency = LatencyConfig(
        network_ms=zero, prefill_ms_per_token=zero, first_token_ms=zero, decode_ms_per_token=zero
    )
    return ProviderConfig(
        models={MODEL: ModelConfig(rpm=rpm, tpm=tpm, latency=latency)},
        output_tokens=DistConfig(median=MAX_TOKENS, spread=0),
        time_scale=time_scale,
    )


def arrival_times(
    rate: float, duration: float, kind: str, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Arrival instants in [0, duration): ``even`` every 1/rate s, or ``poisson`` at ``rate``."""
    if kind == "even":
        return np.arange(0.0, duration, 1.0 / rate)
    assert rng is not None
    gaps = rng.exponential(1.0 / rate, size=int(rate * duration * 1.5) + 100)
    times = np.cumsum(gaps) - gaps[0]  # the first request arrives at 0, as in ``even``
    return times[times < duration]


@dataclass(frozen=True, slots=True)
class LimiterRun:
    limit: str  # "RPM" | "TPM"
    arrivals: str  # "even" | "poisson" | "live"
    offered: int  # requests sent
    admitted_requests: int
    rejected: int  # 429s
    other: int  # anything else (should be 0)
    admitted: int  # requests for RPM, used tokens for TPM
    expected: float

    @property
    def ratio(self) -> float:
        return self.admitted / self.expected

    def line(self) -> str:
        ok = "ok" if abs(self.ratio - 1.0) <= TOLERANCE else "OUT OF TARGET"
        unit = "requests" if self.limit == "RPM" else "tokens"
        return (
            f"{self.limit} limiter [{self.arrivals}]: admitted/expected = {self.ratio:.3f}x "
            f"(admitted {self.admitted}, expected {self.expected:.0f} {unit}; "
            f"{self.admitted_requests} of {self.offered} requests got 200, {self.rejected} got "
            f"429, {self.other} other) target 1.000x ±1%: {ok}"
        )


def _offered_rate(limit: str, rpm: int, tpm: int) -> float:
    """Requests per scenario second that offer twice the limit under test."""
    if limit == "RPM":
        return 2 * rpm / 60.0
    return 2 * tpm / 60.0 / mean_request_tokens()


def _limits(limit: str, rpm: int, tpm: int) -> tuple[int, int, int]:
    """(rpm, tpm, the limit under test); the other limit is out of reach."""
    return (rpm, UNREACHABLE, rpm) if limit == "RPM" else (UNREACHABLE, tpm, tpm)


def _limiter_run(
    limit: str,
    arrivals: str,
    offered: int,
    status: Counter[int],
    used_tokens: int,
    cap: int,
    duration: float,
) -> LimiterRun:
    """A run's result: requests admitted (RPM) or tokens used by them (TPM), vs. expected."""
    others = sum(status.values()) - status[200] - status[429]
    admitted = status[200] if limit == "RPM" else used_tokens
    expected = cap + cap / 60.0 * duration
    return LimiterRun(
        limit, arrivals, offered, status[200], status[429], others, admitted, expected
    )


def run_virtual(
    limit: str, rpm: int, tpm: int, duration: float, arrivals: str, seed: int = 0
) -> LimiterRun:
    """Offer twice ``limit`` to :class:`Provider` in virtual time; no clock, no sleeping."""
    r, t, cap = _limits(limit, rpm, tpm)
    provider = Provider(limiter_config(r, t), 0.0)
    rng = np.random.default_rng(seed)
    times = arrival_times(_offered_rate(limit, rpm, tpm), duration, arrivals, rng)
    status: Counter[int] = Counter()
    used_tokens = 0
    for i, now in enumerate(times.tolist()):
        body, input_tokens, max_tokens = oai.parse_chat(chat_body(i))
        req = ChatRequest(API_KEY, body["model"], input_tokens, max_tokens, i % 2 == 0,
                          body["messages"], oai.cache_prefixes)  # fmt: skip
        decision = provider.chat(req, now)
        if isinstance(decision, Completion):
            if decision.ticket is not None:  # streamed: zero latency, done when admitted
                provider.settle(decision.ticket, decision.output_tokens, now)
            used_tokens += decision.input_tokens + decision.output_tokens
        status[decision.status if not isinstance(decision, Completion) else 200] += 1
    return _limiter_run(limit, arrivals, len(times), status, used_tokens, cap, duration)


async def run_live(
    limit: str,
    rpm: int,
    tpm: int,
    duration: float,
    time_scale: float,
    connections: int = 64,
    serve_args: Sequence[str] = (),
) -> tuple[LimiterRun, float]:
    """The same through ``python -m mock_provider`` on loopback; returns the run and max lag.
    ``serve_args``: more of its flags (``bench/shared_limiter.py``: ``--processes 4 --limiter``).

    The lag is how late (wall seconds) the worst request was sent after its due time: a lag
    of ``x`` stretches the offered window by up to ``x * time_scale`` scenario seconds.
    """
    import aiohttp

    r, t, cap = _limits(limit, rpm, tpm)
    cfg = limiter_config(r, t, time_scale)
    times = arrival_times(_offered_rate(limit, rpm, tpm), duration, "even")
    bodies = [chat_body(i) for i in range(len(times))]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    status: Counter[int] = Counter()
    used_tokens = 0
    lag = 0.0

    with tempfile.TemporaryDirectory(prefix="stampede-limiter-") as tmp:
        config_path = Path(tmp, "provider.yaml")
        config_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mock_provider",
            "--port",
            "0",
            "--config",
            str(config_path),
            *serve_args,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            if "listening on " not in line:
                raise RuntimeError(f"mock did not start: {line!r}")
            base = line.split("listening on ", 1)[1].strip()  # http://127.0.0.1:PORT/v1
            root = base.removesuffix("/v1")
            connector = aiohttp.TCPConnector(limit=connections)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

                async def send(i: int, due: float) -> None:
                    nonlocal used_tokens, lag
                    lag = max(lag, loop.time() - due)
                    url = base + "/chat/completions"
                    async with session.post(url, data=bodies[i], headers=headers) as resp:
                        payload = await resp.read()
                        status[resp.status] += 1
                        if resp.status == 200:
                            usage = json.loads(payload)["usage"]
                            used_tokens += usage["prompt_tokens"] + usage["completion_tokens"]

                async def ping() -> None:
                    async with session.get(root + "/_stampede/health") as resp:
                        await resp.read()

                # Warm the connection pool, then restart the scenario clock and fresh limits.
                await asyncio.gather(*(ping() for _ in range(connections)))
                loop = asyncio.get_running_loop()
                async with session.post(root + "/_stampede/reset") as resp:
                    resp.raise_for_status()
                start = loop.time()
                tasks = []
                for i, at in enumerate(times.tolist()):
                    due = start + at / time_scale
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(send(i, due)))
                await asyncio.gather(*tasks)
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    return _limiter_run(limit, "live", len(times), status, used_tokens, cap, duration), lag


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rpm", type=int, default=300, help="the RPM limit under test")
    p.add_argument("--tpm", type=int, default=30_000, help="the TPM limit under test")
    p.add_argument("--duration", type=float, default=180.0, help="scenario seconds offered")
    p.add_argument("--seed", type=int, default=0, help="seed of the Poisson arrivals")
    p.add_argument("--live", action="store_true", help="also run through the HTTP server")
    p.add_argument("--time-scale", type=float, default=60.0, help="for --live")
    args = p.parse_args(argv)

    print(
        f"offered: 2x each limit for {args.duration:g} scenario s; expected = limit + "
        f"limit/60 * {args.duration:g}; a request is {mean_request_tokens():.1f} tokens on "
        f"average (prompt + max_tokens {MAX_TOKENS}; output fixed at max_tokens, so "
        "estimate == actual)"
    )
    runs: list[LimiterRun] = []
    for limit in ("RPM", "TPM"):
        for arrivals in ("even", "poisson"):
            started = time.perf_counter()
            run = run_virtual(limit, args.rpm, args.tpm, args.duration, arrivals, args.seed)
            runs.append(run)
            print(run.line() + f" [{time.perf_counter() - started:.2f}s]")
    if args.live:
        for limit in ("RPM", "TPM"):
            started = time.perf_counter()
            run, lag = asyncio.run(
                run_live(limit, args.rpm, args.tpm, args.duration, args.time_scale)
            )
            runs.append(run)
            print(
                run.line() + f" [{time.perf_counter() - started:.2f}s wall, x{args.time_scale:g},"
                f" max send lag {lag * 1000:.1f} ms = {lag * args.time_scale:.2f} scenario s]"
            )
    bad = [r for r in runs if abs(r.ratio - 1.0) > TOLERANCE or r.other]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
