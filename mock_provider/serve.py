"""Start the mock provider: ``stampede serve`` and ``python -m mock_provider``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from typing import Any

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


async def _serve(cfg: ProviderConfig, args: argparse.Namespace) -> None:
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding to {args.host}, not loopback", file=sys.stderr)
    app = create_app(cfg, args.request_log, getattr(args, "journal_size", 10_000))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # Everything loaded so far (tiktoken ranks, schemas, the catalogue) lives for the whole
    # process: keep it out of the garbage collector's scans of per-request objects.
    gc.collect()
    gc.freeze()
    site = web.TCPSite(runner, args.host, args.port)
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
    base_url = f"http://{args.host}:{port}/v1"
    key = cfg.api_keys[0] if cfg.api_keys else "sk-anything"
    print(banner(base_url, key), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_main(args: argparse.Namespace) -> int:
    try:
        cfg = load_provider_config(args.config) if args.config else ProviderConfig()
        cfg = apply_overrides(cfg, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(cfg, args))
    except CannotListen as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
