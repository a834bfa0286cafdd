"""Attempts through the Locust transport, in a process of its own (Locust patches the
standard library with gevent on import, which a pytest process with a threaded aiohttp mock
cannot survive). Prints each outcome's fields as a JSON line, in order.

Usage: python -m tests.fault_probe <host> <read timeout s> <JSON list of AttemptSpec lists>
                                   [time scale, default 1: the mock's, to read its headers]
"""

from __future__ import annotations

import json
import sys

import locust  # noqa: F401  (first: it patches the standard library)
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mock_provider.clock import WallClock
from simulator.client.events import AttemptSpec
from simulator.live.transport import LocustTransport


def main() -> None:
    host, timeout, specs = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
    session = FastHttpSession(
        base_url=host, request_event=EventHook(), user=None, max_retries=0,
        network_timeout=timeout, connection_timeout=5.0,
    )  # fmt: skip
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    transport = LocustTransport(session, WallClock(scale))
    for fields in specs:
        spec = AttemptSpec(*fields[:3], tuple(map(tuple, fields[3])), *fields[4:])
        out = transport.send(spec)
        print(json.dumps({**out._asdict(), "fault": out.fault}), flush=True)


if __name__ == "__main__":
    main()
