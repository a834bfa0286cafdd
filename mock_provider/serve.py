"""Start the mock provider: ``stampede serve`` and ``python -m mock_provider``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import wait
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from pydantic import ValidationError

from mock_provider.arguments import (
    bounded_int,
    non_negative_int,
    port,
    positive_float,
    positive_int,
    writable_file,
)
from mock_provider.config import ConfigError, ProviderConfig, format_errors, load_provider_config

from .redis_store import RedisStore
from .server import create_app

__all__ = ["CannotListen", "add_serve_arguments", "apply_overrides", "serve_main"]


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="provider config YAML (a scenario file works too)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="port; 0 picks a free one")
    p.add_argument("--rpm", type=positive_int, help="requests per minute, for every model")
    p.add_argument("--tpm", type=positive_int, help="tokens per minute, for every model")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key (repeatable); default: any non-empty key",
    )
    p.add_argument(
        "--time-scale", type=positive_float, help="run K times faster than scenario time"
    )
    p.add_argument("--seed", type=non_negative_int, help="seed for every random draw")
    p.add_argument(
        "--request-log", type=writable_file, help="append one JSON line per request to this file"
    )
    p.add_argument(
        "--journal-size",
        type=bounded_int(0),
        default=0,
        metavar="N",
        help="keep the last N journal entries in memory for GET /_stampede/requests (default "
        "0: it reads the --request-log file instead; building entries costs the hot path)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="serve from N processes on one port (SO_REUSEPORT); N > 1 needs --limiter",
    )
    p.add_argument(
        "--limiter",
        metavar="redis://HOST:PORT[/DB]",
        help="keep rate limits and fault counts in this Redis, one limit for every process "
        "and host pointing at it (default: in this process)",
    )


def apply_overrides(cfg: ProviderConfig, args: argparse.Namespace) -> ProviderConfig:
    """Command-line flags win over the config file, for every model."""
    update: dict[str, Any] = {}
    models = dict(cfg.models)
    for flag, field in (("rpm", "rpm"), ("tpm", "tpm")):
        value = getattr(args, flag)
        if value is not None:
            update[f"default_{field}"] = value
            models = {n: m.model_copy(update={field: value}) for n, m in models.items()}
    update["models"] = models
    if args.api_keys:
        update["api_keys"] = args.api_keys
    if args.time_scale is not None:
        update["time_scale"] = args.time_scale
    if args.seed is not None:
        update["seed"] = args.seed
    # Only the fields the config gave: a field a fault's kind ignores must stay unset.
    try:
        return ProviderConfig.model_validate({**cfg.model_dump(exclude_unset=True), **update})
    except ValidationError as exc:  # the flags' types refuse what the schema would
        raise ConfigError("command line", format_errors(exc)) from exc


class CannotListen(Exception):
    """The mock could not bind its address; ``str()`` is the one line a user should see."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason.lower()}")


def banner(base_url: str, key: str) -> str:
    return (
        f"stampede mock provider listening on {base_url}\n"
        "Point the openai SDK at it:\n"
        "    from openai import OpenAI\n"
        f'    client = OpenAI(base_url="{base_url}", api_key="{key}")\n'
        "or the anthropic SDK (Claude models):\n"
        "    from anthropic import Anthropic\n"
        f'    client = Anthropic(base_url="{base_url.removesuffix("/v1")}", api_key="{key}")\n'
    )


async def _serve(
    cfg: ProviderConfig,
    args: argparse.Namespace,
    store: RedisStore | None = None,
    reuse_port: bool = False,
    on_ready: Any = None,
) -> None:
    """Serve until SIGINT/SIGTERM. ``on_ready(port)`` replaces the banner (a child process
    of ``--processes N`` tells its parent it listens)."""
    if args.host not in ("127.0.0.1", "localhost", "::1") and on_ready is None:
        print(f"warning: binding to {args.host}, not loopback", file=sys.stderr)
    app = create_app(cfg, args.request_log, getattr(args, "journal_size", 10_000), store)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # Everything loaded so far (tiktoken ranks, schemas, the catalogue) lives for the whole
    # process: keep it out of the garbage collector's scans of per-request objects.
    gc.collect()
    gc.freeze()
    site = web.TCPSite(runner, args.host, args.port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except (OSError, ValueError) as exc:  # busy port, no permission, unknown or malformed
        await runner.cleanup()  # host (UnicodeError, a NUL): say which, no traceback
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno) if errno else str(exc)  # asyncio's text is long
        raise CannotListen(args.host, args.port, reason) from exc
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    if on_ready is None:
        base_url = f"http://{args.host}:{port}/v1"
        key = cfg.api_keys[0] if cfg.api_keys else "sk-anything"
        print(banner(base_url, key), flush=True)
    else:
        on_ready(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _connect(url: str) -> RedisStore:
    """The shared store at ``url``; ValueError with the one line a user should see."""
    try:
        return RedisStore.from_url(url)
    except ImportError:
        raise ValueError(
            "--limiter needs the redis client: pip install 'llm-stampede[redis]'"
        ) from None
    except ValueError as exc:
        raise ValueError(f"--limiter: {exc}") from None
    except Exception as exc:  # redis.ConnectionError, TimeoutError, AuthenticationError...
        raise ValueError(f"--limiter: cannot reach {masked(url)}: {exc}") from None


def masked(url: str) -> str:
    """``url`` with its password, if any, shown as ``***``: fit for a terminal or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def serve_main(args: argparse.Namespace) -> int:
    try:
        cfg = load_provider_config(args.config) if args.config else ProviderConfig()
        cfg = apply_overrides(cfg, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    processes = getattr(args, "processes", 1)
    limiter = getattr(args, "limiter", None)
    if processes < 1:
        print(f"error: --processes: expected 1 or more, got {processes}", file=sys.stderr)
        return 2
    if processes > 1 and limiter is None:
        print(
            f"error: --processes {processes} needs --limiter redis://HOST:PORT: each process "
            f"would enforce its own limits ({processes} x the configured RPM and TPM)",
            file=sys.stderr,
        )
        return 2
    try:
        store = _connect(limiter) if limiter else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if processes > 1:
        store.client.close()  # type: ignore[union-attr]  # each child connects on its own
        return _serve_processes(cfg, args, processes)
    try:
        asyncio.run(_serve(cfg, args, store))
    except CannotListen as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- N processes


def _child(cfg: ProviderConfig, args: argparse.Namespace, ready: Any) -> None:
    """One of ``--processes N``: serve on the shared port, tell the parent when listening."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    _die_with_parent()
    try:
        store = _connect(args.limiter)
        asyncio.run(_serve(cfg, args, store, reuse_port=True, on_ready=ready.send))
    except (CannotListen, ValueError) as exc:
        ready.send(str(exc))
        sys.exit(2)


def _die_with_parent() -> None:
    """Get SIGTERM when the parent dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG), so no
    orphan keeps serving the port."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the parent's SIGTERM still stops us
        pass


def _serve_processes(cfg: ProviderConfig, args: argparse.Namespace, n: int) -> int:
    """Start ``n`` children on one port (SO_REUSEPORT: the kernel spreads connections over
    them), print one banner, forward SIGINT/SIGTERM, and stop them all when one dies."""
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    hold = socket.socket(family, socket.SOCK_STREAM)
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:  # port 0 picks one here; held (bound, never listening) until the children listen
        hold.bind((args.host, args.port))
    except OSError as exc:
        hold.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"error: {CannotListen(args.host, args.port, reason)}", file=sys.stderr)
        return 2
    child_args = argparse.Namespace(**{**vars(args), "port": hold.getsockname()[1]})
    ctx = multiprocessing.get_context("fork")  # the config is loaded once, in the parent
    children, pipes = [], []
    for _ in range(n):
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(cfg, child_args, child_end), daemon=True)
        proc.start()
        children.append(proc)
        pipes.append(parent_end)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in children:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)  # type: ignore[arg-type]

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for pipe, proc in zip(pipes, children, strict=True):
            said = pipe.recv() if wait([pipe, proc.sentinel], timeout=120) else "no answer"
            if isinstance(said, str):  # an error message, not a port
                print(f"error: {said}", file=sys.stderr)
                stop(signal.SIGTERM, None)
                return 2
    except EOFError:  # a child died before it could say why
        stop(signal.SIGTERM, None)
        print("error: a mock process exited while starting", file=sys.stderr)
        return 1
    finally:
        hold.close()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding to {args.host}, not loopback", file=sys.stderr)
    base_url = f"http://{args.host}:{child_args.port}/v1"
    print(banner(base_url, cfg.api_keys[0] if cfg.api_keys else "sk-anything"), flush=True)
    print(f"({n} processes on this port, limits shared in {masked(args.limiter)})", flush=True)
    wait([p.sentinel for p in children])
    status = 0
    if not stopping:
        dead = next(p for p in children if not p.is_alive())
        print(f"error: mock process {dead.pid} exited ({dead.exitcode}); stopping", file=sys.stderr)
        stop(signal.SIGTERM, None)
        status = 1
    for proc in children:
        proc.join()
    return status
