"""How many chat completions per second can the mock serve, next to a bare aiohttp app?

    python bench/mock_throughput.py [--duration 3] [--connections 32] [--rounds 15]
                                    [--warmup 1] [--tool auto|wrk|aiohttp] [--install-wrk]
                                    [--bare-read read|buffer] [--dialect openai|anthropic|both]

Both servers answer ``POST /v1/chat/completions`` (non-streaming, a system + user prompt,
``max_tokens`` 50) on 127.0.0.1, and with ``--dialect anthropic`` Anthropic's ``POST
/v1/messages`` (the same prompt, ``claude-haiku-4-5``; ``both`` measures each in turn),
each in its own single-process subprocess with the access log off. The mock runs through its
real entry point (``python -m mock_provider``) with rate limits on but out of reach (10^9
RPM/TPM, or ITPM/OTPM), token counting on (it always is) and a zero latency profile, so it
measures server CPU, not sleeps. The bare app reads the request body and returns
a fixed body with the same headers and byte size as a real mock response (rendered once, in
this process, by the mock's own code). It reads the body the ordinary way, ``await
request.read()``; the mock takes a body that came with its headers straight from the buffer,
which is cheaper. ``--bare-read buffer`` has the bare app read it that way too, so the ratio
prices only the mock's own work.

The load generator is ``wrk`` (one thread, keep-alive, a Lua script for the POST body and the
Authorization header) or, without it, an aiohttp client in its own process. On a machine with
two or more cores the servers are pinned to CPU 0 and the load generator to CPU 1. Each
measurement is a warmup run, then a fixed-duration run. A round is one bare and one mock run,
back to back (in alternating order), and the headline is the median of the rounds' own
mock/bare ratios, so a slow spell on a shared machine slows both sides of a ratio. Server CPU
seconds per request are read from /proc, so a load generator that cannot saturate the server
shows up as server CPU below 100%.

The last line printed is ``mock/bare throughput ratio: R (target >= 0.7, goal 0.8)``, once
per dialect measured (named in the line when there are two).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mock_provider.clock import WallClock
from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.dialects import DIALECTS
from mock_provider.model.provider import ChatRequest, Completion, Provider

__all__ = [
    "API_KEY",
    "BARE_READS",
    "Measurement",
    "ServerProcess",
    "bare_argv",
    "bench_config",
    "reference_response",
    "request_body",
    "request_headers",
    "run_aiohttp_load",
    "run_wrk",
    "start_bare",
    "start_mock",
    "write_responses",
]

MODEL = "gpt-4o-mini"
MAX_TOKENS = 50
API_KEY = "sk-stampede-bench"
PATH = "/v1/chat/completions"
# (model, path) each dialect's requests go to.
ROUTES = {"openai": (MODEL, PATH), "anthropic": ("claude-haiku-4-5", "/v1/messages")}
UNREACHABLE = 10**9  # RPM and TPM: limits checked on every request, never reached
TARGET, GOAL = 0.7, 0.8

_SYSTEM = (
    "You are a concise support assistant for an online bookshop. Answer in two or three "
    "sentences, cite the order number when there is one, and never invent a policy."
)
_USER = (
    "Hi, I ordered 'The Left Hand of Darkness' last Tuesday (order #48213) and the tracking "
    "page has said 'label created' for four days. Can you tell me when it will ship?"
)


def request_body(dialect: str = "openai") -> bytes:
    """The benchmark's request in a dialect: the same prompt, ``max_tokens`` 50."""
    if dialect == "anthropic":
        body: dict[str, Any] = {
            "model": ROUTES["anthropic"][0],
            "system": _SYSTEM,
            "messages": [{"role": "user", "content": _USER}],
            "max_tokens": MAX_TOKENS,
        }
    else:
        body = {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": _USER},
            ],
            "max_tokens": MAX_TOKENS,
        }
    return json.dumps(body, separators=(",", ":")).encode()


def request_headers(dialect: str = "openai") -> dict[str, str]:
    if dialect == "anthropic":
        return {"Content-Type": "application/json", "x-api-key": API_KEY,
                "anthropic-version": "2023-06-01"}  # fmt: skip
    return {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}


def bench_config() -> ProviderConfig:
    """Limits on but unreachable, zero latency, an output of exactly ``MAX_TOKENS``."""
    zero = DistConfig(median=0, spread=0)
    latency = LatencyConfig(
        network_ms=zero, prefill_ms_per_token=zero, first_token_ms=zero, decode_ms_per_token=zero
    )
    claude = ROUTES["anthropic"][0]
    return ProviderConfig(
        models={
            MODEL: ModelConfig(rpm=UNREACHABLE, tpm=UNREACHABLE, latency=latency),
            claude: ModelConfig(
                rpm=UNREACHABLE, itpm=UNREACHABLE, otpm=UNREACHABLE, latency=latency
            ),
        },
        default_rpm=UNREACHABLE,
        default_tpm=UNREACHABLE,
        output_tokens=DistConfig(median=MAX_TOKENS, spread=0),
    )


def reference_response(
    cfg: ProviderConfig, dialect: str = "openai"
) -> tuple[bytes, dict[str, str]]:
    """The body and headers the mock sends for :func:`request_body`, rendered by its own code."""
    d = DIALECTS[dialect]
    call = d.parse_chat(request_body(dialect))
    provider = Provider(cfg, 0.0)
    req = ChatRequest(API_KEY, call.model, call.input_tokens, call.max_tokens, False,
                      call.messages, d.cache_prefixes, dialect)  # fmt: skip
    decision = provider.chat(req, 0.0)
    assert isinstance(decision, Completion), decision
    clock = WallClock(cfg.time_scale)
    headers = d.ratelimit_headers(decision.ratelimit, clock)
    d.stamp(headers, decision.request_id, decision.plan.total_s, clock)
    return d.completion(decision, call, int(time.time())), headers


def write_responses(path: Path, cfg: ProviderConfig) -> dict[str, bytes]:
    """Every dialect's reference response, for the bare app to serve at its path; the bodies."""
    out, saved = {}, {}
    for dialect, (_, route) in ROUTES.items():
        body, headers = reference_response(cfg, dialect)
        saved[route] = {"body": body.decode(), "headers": headers}
        out[dialect] = body
    path.write_text(json.dumps({"responses": saved}))
    return out


# ----------------------------------------------------------------------------- servers


@dataclass
class ServerProcess:
    name: str
    proc: subprocess.Popen[str]
    url: str  # the chat completions URL

    def url_for(self, dialect: str) -> str:
        """The URL of a dialect's chat route on this server."""
        return self.url.removesuffix(PATH) + ROUTES[dialect][1]

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server so far (Linux /proc), None where unavailable."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)/v1")


def _start(name: str, argv: Sequence[str], cpu: int | None, timeout: float = 30.0) -> ServerProcess:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        m = _LISTENING.search(line)
        if not m:
            raise RuntimeError(f"{name} server did not start: first line {line!r}")
        # The rest of the banner is a few lines: it fits in the pipe, nobody needs to read it.
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        return ServerProcess(name, proc, m.group(1) + PATH)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def start_mock(
    config_path: Path,
    cpu: int | None = None,
    profile_to: Path | None = None,
    extra_args: Sequence[str] = (),
) -> ServerProcess:
    """``python -m mock_provider``; under cProfile (written at exit) with ``profile_to``;
    ``extra_args``: more of its flags (``bench/shared_limiter.py``: ``--limiter``)."""
    profiler = ["-m", "cProfile", "-o", str(profile_to)] if profile_to else []
    argv = [sys.executable, *profiler, "-m", "mock_provider", "--port", "0"]
    return _start("mock", [*argv, "--config", str(config_path), *extra_args], cpu)


BARE_READS = ("read", "buffer")


def bare_argv(response_path: Path, read: str = "read") -> list[str]:
    """The command line of the bare app (``read``: see :func:`serve_bare`)."""
    here = str(Path(__file__).resolve())
    return [sys.executable, here, "--serve-bare", str(response_path), "--bare-read", read]


def start_bare(response_path: Path, cpu: int | None = None, read: str = "read") -> ServerProcess:
    return _start("bare", bare_argv(response_path, read), cpu)


def serve_bare(response_path: Path, read: str = "read") -> None:
    """The baseline: aiohttp with one handler that reads the body and returns fixed bytes.

    ``read`` is how it reads the body: ``read`` awaits ``request.read()``, the ordinary way;
    ``buffer`` takes a body that came with the headers straight from the buffer, as the
    mock's chat handler does, so the ratio prices the mock's work alone.
    """
    from aiohttp import web

    saved = json.loads(response_path.read_text())
    # {"responses": {path: {"body", "headers"}}}, or one response for the OpenAI path.
    responses = saved.get("responses") or {PATH: saved}

    def handler(response: dict[str, Any]) -> Any:
        body: bytes = response["body"].encode()
        headers: dict[str, str] = response["headers"]

        async def chat(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(body=body, content_type="application/json", headers=headers)

        async def chat_buffer(request: web.Request) -> web.Response:
            if request.content.is_eof():
                request.content.read_nowait()
            else:
                await request.read()
            return web.Response(body=body, content_type="application/json", headers=headers)

        return chat_buffer if read == "buffer" else chat

    async def main() -> None:
        app = web.Application()
        for path, response in responses.items():
            app.router.add_post(path, handler(response))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        print(f"bare aiohttp listening on http://127.0.0.1:{port}/v1", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# ----------------------------------------------------------------------------- load


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int  # completed responses in the measured run
    non_200: int
    errors: int  # socket errors / exceptions
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Measurement:
    round: int
    server: str
    tool: str
    load: LoadResult
    server_cpu_s: float | None

    @property
    def rps(self) -> float:
        return self.load.requests / self.load.elapsed_s

    @property
    def cpu_share(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.load.elapsed_s

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.load.requests:
            return None
        return self.server_cpu_s / self.load.requests * 1e6


def _lua_script(body: bytes, dialect: str = "openai") -> str:
    text = body.decode()
    assert "]==]" not in text
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{text}]==]"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in request_headers(dialect).items()]
    return "\n".join(lines) + "\n"


def _pinned(argv: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def run_wrk(
    url: str, script: Path, connections: int, duration: float, cpu: int | None = None
) -> LoadResult:
    secs = max(1, round(duration))
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "--timeout", "5s", "-s", str(script)]
    out = subprocess.run(
        [*_pinned(argv, cpu), url], capture_output=True, text=True, timeout=secs + 30, check=True
    ).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    non_200 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        int(m.group(1)),
        int(non_200.group(1)) if non_200 else 0,
        sum(int(g) for g in sock.groups()) if sock else 0,
        float(m.group(2)) * scale,
    )


def run_aiohttp_load(
    url: str, connections: int, duration: float, cpu: int | None = None, dialect: str = "openai"
) -> LoadResult:
    """The fallback load generator, in its own process so it never shares the server's CPU."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--load-client", url]
    argv += ["--connections", str(connections), "--duration", str(duration)]
    argv += ["--dialect", dialect]
    out = subprocess.run(
        _pinned(argv, cpu), capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return LoadResult(r["requests"], r["non_200"], r["errors"], r["elapsed_s"])


def load_client(
    url: str, connections: int, duration: float, dialect: str = "openai"
) -> dict[str, Any]:
    """N keep-alive connections, each posting back to back until ``duration`` is up."""
    import aiohttp

    body = request_body(dialect)
    headers = request_headers(dialect)
    statuses: Counter[int] = Counter()
    errors = 0

    async def worker(session: aiohttp.ClientSession, deadline: float) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
            except aiohttp.ClientError:
                errors += 1

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            start = time.monotonic()
            deadline = start + duration
            await asyncio.gather(*(worker(session, deadline) for _ in range(connections)))
            return time.monotonic() - start

    elapsed = asyncio.run(main())
    total = sum(statuses.values())
    return {
        "requests": total,
        "non_200": total - statuses[200],
        "errors": errors,
        "elapsed_s": elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
    }


# ----------------------------------------------------------------------------- driver


def _ensure_wrk(install: bool) -> bool:
    if shutil.which("wrk"):
        return True
    if not install:
        return False
    cmd = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True)
        subprocess.run(cmd, capture_output=True)
    return shutil.which("wrk") is not None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _print_row(m: Measurement) -> None:
    share = None if m.cpu_share is None else 100 * m.cpu_share
    print(
        f"{m.round:>5}  {m.server:<6} {m.tool:<7} {m.load.requests:>9} {m.rps:>10.0f} "
        f"{m.load.non_200:>8} {m.load.errors:>6} {_fmt(share, '>9.0f')}% "
        f"{_fmt(m.cpu_us_per_request, '>11.1f')}",
        flush=True,
    )


def measure(
    servers: Sequence[ServerProcess],
    tool: str,
    connections: int,
    duration: float,
    warmup: float,
    rounds: int,
    script: Path | None,
    load_cpu: int | None,
    dialect: str = "openai",
) -> list[Measurement]:
    def once(server: ServerProcess, secs: float) -> LoadResult:
        url = server.url_for(dialect)
        if tool == "wrk":
            assert script is not None
            return run_wrk(url, script, connections, secs, load_cpu)
        return run_aiohttp_load(url, connections, secs, load_cpu, dialect)

    print(
        f"{'round':>5}  {'server':<6} {'tool':<7} {'requests':>9} {'req/s':>10} "
        f"{'non-200':>8} {'errors':>6} {'srv CPU':>10} {'CPU us/req':>11}"
    )
    results = []
    for r in range(1, rounds + 1):
        # Alternate the order, so a machine getting slower or faster during a round does
        # not always favour the same server.
        for server in servers if r % 2 else list(reversed(servers)):
            if warmup > 0:
                once(server, warmup)
            before = server.cpu_seconds()
            load = once(server, duration)
            after = server.cpu_seconds()
            cpu = None if before is None or after is None else after - before
            m = Measurement(r, server.name, tool, load, cpu)
            _print_row(m)
            results.append(m)
    return results


def _profile(
    config_path: Path,
    tool: str,
    args: argparse.Namespace,
    script: Path,
    server_cpu: int | None,
    load_cpu: int | None,
) -> int:
    """cProfile slows Python code more than C code: read the ranking, not the times."""
    import pstats

    out = config_path.with_name("mock.prof")
    server = start_mock(config_path, server_cpu, out)
    try:
        measure([server], tool, args.connections, args.duration, args.warmup, 1, script, load_cpu)
    finally:
        server.stop()  # SIGTERM: the mock shuts down cleanly and cProfile writes its file
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumtime").print_stats(r"mock_provider", 25)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive conns")
    p.add_argument("--rounds", type=int, default=15, help="bare/mock pairs (median ratio)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each")
    p.add_argument("--tool", choices=["auto", "wrk", "aiohttp"], default="auto")
    p.add_argument("--install-wrk", action="store_true", help="apt-get install wrk if missing")
    p.add_argument("--no-pin", action="store_true", help="do not pin server/load to CPUs")
    p.add_argument(
        "--profile",
        action="store_true",
        help="instead: load the mock under cProfile once and print its top functions",
    )
    p.add_argument(
        "--bare-read",
        choices=BARE_READS,
        default="read",
        help="how the bare app reads the body: await request.read() (default), or take it "
        "from the buffer as the mock does",
    )
    p.add_argument(
        "--dialect",
        choices=["openai", "anthropic", "both"],
        default="openai",
        help="the chat route measured: OpenAI's (default), Anthropic's /v1/messages, or each",
    )
    p.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--load-client", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.bare_read)
        return 0
    if args.load_client is not None:
        dialect = "openai" if args.dialect == "both" else args.dialect
        print(json.dumps(load_client(args.load_client, args.connections, args.duration, dialect)))
        return 0

    tool = args.tool
    if tool in ("auto", "wrk") and not _ensure_wrk(args.install_wrk):
        if tool == "wrk":
            print("error: wrk not found (try --install-wrk)", file=sys.stderr)
            return 2
        print("wrk not found (use --install-wrk): falling back to the aiohttp client")
        tool = "aiohttp"
    elif tool == "auto":
        tool = "wrk"
    pin = not args.no_pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    server_cpu, load_cpu = (0, 1) if pin else (None, None)

    dialects = ["openai", "anthropic"] if args.dialect == "both" else [args.dialect]
    cfg = bench_config()
    servers: list[ServerProcess] = []
    results: dict[str, list[Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="stampede-bench-") as tmp:
        config_path = Path(tmp, "provider.yaml")
        config_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
        response_path = Path(tmp, "response.json")
        bodies = write_responses(response_path, cfg)
        scripts = {d: Path(tmp, f"post-{d}.lua") for d in dialects}
        for d, script in scripts.items():
            script.write_text(_lua_script(request_body(d), d))
        if args.profile:
            return _profile(config_path, tool, args, scripts[dialects[0]], server_cpu, load_cpu)
        try:
            servers.append(start_bare(response_path, server_cpu, args.bare_read))
            servers.append(start_mock(config_path, server_cpu))
            for d in dialects:
                print(
                    f"{d}: load: {tool}, {args.connections} connections, {args.duration:g}s per "
                    f"run after {args.warmup:g}s warmup, {args.rounds} rounds; request "
                    f"{len(request_body(d))} B to {ROUTES[d][1]}, response body "
                    f"{len(bodies[d])} B; bare reads the body with "
                    f"{'request.read()' if args.bare_read == 'read' else 'the buffer'}; "
                    + (
                        f"servers on CPU {server_cpu}, load on CPU {load_cpu}"
                        if pin
                        else "no pinning"
                    )
                )
                results[d] = measure(
                    servers, tool, args.connections, args.duration, args.warmup, args.rounds,
                    scripts[d], load_cpu, d,
                )  # fmt: skip
        finally:
            for s in servers:
                s.stop()
    failed = 0
    for d in dialects:
        failed += _summary(results[d], d if len(dialects) > 1 else None)
    return 1 if failed else 0


def _summary(results: list[Measurement], dialect: str | None) -> int:
    """Print one dialect's medians and headline ratio; the count of mock failures."""

    def median(name: str, attr: str) -> float | None:
        values = [getattr(m, attr) for m in results if m.server == name]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    named = f" ({dialect})" if dialect else ""
    bare_rps, mock_rps = median("bare", "rps"), median("mock", "rps")
    assert bare_rps is not None and mock_rps is not None
    mock_non_200 = sum(m.load.non_200 + m.load.errors for m in results if m.server == "mock")
    print(f"median req/s{named}: bare {bare_rps:.0f}, mock {mock_rps:.0f}")
    print(f"mock responses that were not 200 (or failed){named}: {mock_non_200}")
    # The headline is the median of each round's own ratio: the two runs of a round are
    # back to back, so a slow spell of a shared machine lowers both and cancels out.
    rounds_run = sorted({m.round for m in results})
    by_round = {(m.round, m.server): m for m in results}
    cpu = [(by_round[r, "bare"].cpu_us_per_request, by_round[r, "mock"].cpu_us_per_request)
           for r in rounds_run]  # fmt: skip
    cpu_ratios = [b / m for b, m in cpu if b is not None and m is not None]
    if cpu_ratios:
        bare_us = statistics.median(b for b, _ in cpu if b is not None)
        mock_us = statistics.median(m for _, m in cpu if m is not None)
        print(
            f"median server CPU per request{named}: bare {bare_us:.1f} us, mock {mock_us:.1f} "
            f"us (CPU-normalised ratio, median of rounds: {statistics.median(cpu_ratios):.2f})"
        )
    ratios = [by_round[r, "mock"].rps / by_round[r, "bare"].rps for r in rounds_run]
    print(f"per-round mock/bare ratios{named}: " + ", ".join(f"{x:.2f}" for x in ratios))
    ratio = statistics.median(ratios)
    print(f"mock/bare throughput ratio{named}: {ratio:.2f} (target >= {TARGET}, goal {GOAL})")
    return mock_non_200


if __name__ == "__main__":
    sys.exit(main())
