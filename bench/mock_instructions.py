"""Instructions per request of the mock and of the bare app, counted by callgrind.

    python bench/mock_instructions.py [--requests 3000] [--warmup 1000] [--connections 32]
                                      [--server both|mock|bare] [--keep DIR]
                                      [--bare-read read|buffer] [--refused] [--latency]
                                      [--dialect openai|anthropic]

Wall-clock throughput on a small shared machine moves by +-20% between runs; an instruction
count moves by well under 1%, so it is the measure to compare one change against the next.
Each server (the same two as ``mock_throughput.py``: same request, same response bytes) runs
under ``valgrind --tool=callgrind`` with instrumentation off; after the warm-up requests it is
switched on, the measured requests are sent over keep-alive connections by a small socket
client in this process, and the dump's total is divided by the request count. Instructions are
not time (a cache miss costs more than an add), but the ranking of changes follows them.

``--dialect anthropic`` sends the same prompt to Anthropic's ``POST /v1/messages``
(``claude-haiku-4-5``) instead of OpenAI's chat completions.

``--refused`` measures the 429 path instead: the model's limit is 1 RPM, so every measured
request is refused. ``--latency`` gives the mock's model the catalogue's latency profile
instead of zero latency, so a plan's sleeps (a 429's network round trip) are counted too.
"""

from __future__ import annotations

import argparse
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mock_throughput import (
    BARE_READS,
    ROUTES,
    ServerProcess,
    _start,
    bare_argv,
    bench_config,
    request_body,
    request_headers,
    write_responses,
)

__all__ = ["drive", "instructions_per_request"]


def _raw_request(host: str, port: int, dialect: str = "openai") -> bytes:
    body = request_body(dialect)
    lines = [f"POST {ROUTES[dialect][1]} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in request_headers(dialect).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def drive(
    url: str, requests: int, connections: int, status: int = 200, dialect: str = "openai"
) -> None:
    """Send ``requests`` POSTs over ``connections`` keep-alive sockets, one in flight each;
    every answer must have ``status``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    raw = _raw_request(host, port, dialect)
    sel = selectors.DefaultSelector()
    sent = done = 0
    buffers: dict[socket.socket, bytes] = {}
    for _ in range(min(connections, requests)):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(raw)
        sent += 1
        buffers[s] = b""
        sel.register(s, selectors.EVENT_READ)
    while done < requests:
        for key, _ in sel.select(timeout=60):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            chunk = conn.recv(65536)
            if not chunk:
                raise RuntimeError("server closed a connection")
            buf = buffers[conn] + chunk
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                buffers[conn] = buf
                continue
            head = buf[:head_end].decode("latin-1")
            if not head.startswith(f"HTTP/1.1 {status}"):
                raise RuntimeError(f"unexpected response: {head.splitlines()[0]}")
            length = next(
                int(line.split(":", 1)[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length:")
            )
            if len(buf) < head_end + 4 + length:
                buffers[conn] = buf
                continue
            buffers[conn] = buf[head_end + 4 + length :]
            done += 1
            if sent < requests:
                conn.sendall(raw)
                sent += 1
            else:
                sel.unregister(conn)
                conn.close()
    for s in list(buffers):
        if s.fileno() >= 0:
            s.close()


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def instructions_per_request(
    server: ServerProcess,
    out: Path,
    requests: int,
    warmup: int,
    connections: int,
    status: int = 200,
    dialect: str = "openai",
) -> float:
    if status != 200:
        drive(server.url, 1, 1, 200, dialect)  # the one request a 1 RPM limit admits
    drive(server.url, warmup, connections, status, dialect)
    _callgrind(server.proc.pid, "-i", "on")
    drive(server.url, requests, connections, status, dialect)
    _callgrind(server.proc.pid, "-d")
    time.sleep(0.5)
    totals = 0
    for dump in out.parent.glob(out.name + "*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                totals = max(totals, int(line.split()[1]))
    return totals / requests


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--server", choices=["both", "mock", "bare"], default="both")
    p.add_argument("--keep", type=Path, help="copy the callgrind dumps to this directory")
    p.add_argument("--bare-read", choices=BARE_READS, default="read",
                   help="how the bare app reads the body (see mock_throughput.py)")  # fmt: skip
    p.add_argument("--refused", action="store_true", help="measure the 429 path (1 RPM)")
    p.add_argument("--latency", action="store_true", help="the catalogue's latency, not zero")
    p.add_argument("--dialect", choices=list(ROUTES), default="openai",
                   help="the chat route measured (default: OpenAI's)")  # fmt: skip
    args = p.parse_args()

    cfg = bench_config()
    model_name = ROUTES[args.dialect][0]
    if args.refused or args.latency:
        model = cfg.models[model_name].model_copy(
            update={"rpm": 1 if args.refused else cfg.models[model_name].rpm}
            | ({"latency": None} if args.latency else {})
        )
        cfg = cfg.model_copy(update={"models": {**cfg.models, model_name: model}})
    if args.refused and args.server != "mock":
        p.error("--refused measures the mock only: pass --server mock")
    with tempfile.TemporaryDirectory(prefix="stampede-instr-") as tmp:
        config_path = Path(tmp, "provider.yaml")
        config_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
        response_path = Path(tmp, "response.json")
        write_responses(response_path, cfg)
        argvs = {
            "bare": bare_argv(response_path, args.bare_read)[1:],
            "mock": ["-m", "mock_provider", "--port", "0", "--config", str(config_path)],
        }
        names = ["bare", "mock"] if args.server == "both" else [args.server]
        for name in names:
            out = Path(tmp, f"{name}.callgrind")
            valgrind = [
                "valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out}", "--dump-instr=no",
            ]  # fmt: skip
            server = _start(name, [*valgrind, sys.executable, *argvs[name]], None, timeout=300)
            try:
                ipr = instructions_per_request(
                    server, out, args.requests, args.warmup, args.connections,
                    429 if args.refused else 200, args.dialect,
                )  # fmt: skip
            finally:
                server.stop()
            print(f"{name} ({args.dialect}): {ipr / 1000:.1f}k instructions/request", flush=True)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for dump in out.parent.glob(out.name + "*"):
                    shutil.copy(dump, args.keep / dump.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
