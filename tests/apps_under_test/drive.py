"""Drive an app as a team's own test or load script would: ``python drive.py SPEC PATH N MODEL``.

Imports the app (its SDK reads the environment the caller set), resets the mock, then sends N
concurrent
logical requests (a herd) and one with an empty message list (the mock answers 400),
each in its own thread, and waits for all. Exceptions are the app's to raise: printed, not fatal.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request

from simulator.apps.loading import load_app
from simulator.apps.request import AppRequest


def main(spec: str, path: str, n: int, model: str) -> None:
    answer = load_app(spec, path)

    def request(i: int, messages: list[dict[str, str]]) -> AppRequest:
        return AppRequest(
            messages=messages, model=model, max_tokens=32, stream=False, user=f"user-{i}",
            feature="chat", openai_base_url="", anthropic_base_url="", api_key="",
            trace_id=f"drive-{i}",
        )  # fmt: skip

    def call(req: AppRequest) -> None:
        try:
            answer(req)
        except Exception as exc:
            print(f"{req.trace_id}: {type(exc).__name__}", flush=True)

    # Scenario time 0 now, once the app has imported: the mock's outage starts with the herd.
    host = os.environ["OPENAI_BASE_URL"].removesuffix("/v1")
    reset = urllib.request.Request(host + "/_stampede/reset", method="POST",
                                   data=json.dumps({"epoch": time.time()}).encode())  # fmt: skip
    urllib.request.urlopen(reset, timeout=10).close()
    reqs = [request(i, [{"role": "user", "content": f"#{i:09d} hello"}]) for i in range(n)]
    reqs.append(request(n, []))  # refused with 400: no messages
    threads = [threading.Thread(target=call, args=(r,)) for r in reqs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
