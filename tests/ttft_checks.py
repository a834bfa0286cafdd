"""What a logical request's TTFT must include, checked on trace rows from either driver."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any


def ttft_shortfalls(
    records: Iterable[Mapping[str, Any]], tolerance_ms: float = 1e-6
) -> tuple[int, list[str]]:
    """(successful requests checked, what is wrong with any of them).

    A success's TTFT runs from the request's start to the first token of the attempt that
    answered, so it is at least every earlier attempt's round trip, plus every wait up to the
    answering attempt, plus that attempt's own TTFT; and at least the first attempt's own TTFT
    (its round trip when it failed) plus every wait before the answering attempt.
    """
    attempts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    requests = []
    for r in records:
        if r["kind"] == "attempt":
            attempts[r["trace_id"]].append(r)
        elif r["success"]:
            requests.append(r)
    wrong = []
    for req in requests:
        tried = sorted(attempts[req["trace_id"]], key=lambda a: a["attempt"])
        if not tried or req["ttft_ms"] is None or tried[-1]["attempt_ttft_ms"] is None:
            wrong.append(f"{req['trace_id']}: no TTFT for a success")
            continue
        answer, earlier = tried[-1], tried[:-1]
        waits_ms = 1000.0 * sum(a["slept_s"] for a in tried)
        whole = sum(a["latency_ms"] for a in earlier) + waits_ms + answer["attempt_ttft_ms"]
        first = tried[0]
        first_ttft = first["attempt_ttft_ms"] if first is answer else first["latency_ms"]
        for what, bound in (("round trips + waits + own TTFT", whole),
                            ("first attempt's TTFT + waits", first_ttft + waits_ms)):  # fmt: skip
            if req["ttft_ms"] < bound - tolerance_ms:
                wrong.append(f"{req['trace_id']}: ttft_ms {req['ttft_ms']:.3f} < {what} "
                             f"{bound:.3f}")  # fmt: skip
    return len(requests), wrong
