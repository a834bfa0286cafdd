"""Per-attempt and per-request trace records, appended to JSONL as they happen.

One flat record type with a ``kind`` of ``"attempt"`` or ``"request"`` keeps the file a single
table for pandas/pyarrow. Field names follow the article's trace format plus attempt-level
fields (design.md). Times: ``t`` is scenario seconds since the strategy's run started;
``timestamp`` is wall-clock ISO-8601 UTC, for humans and log shippers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Literal

__all__ = ["TRACE_FIELDS", "TraceRecord", "TraceWriter", "iter_traces"]


@dataclass(frozen=True, slots=True)
class TraceRecord:
    kind: Literal["attempt", "request"]
    trace_id: str  # one per logical request; shared by its attempts
    timestamp: str
    t: float  # scenario seconds at the end of the attempt / request
    strategy: str
    user_id: str
    feature: str
    model: str | None
    prompt_version: str
    provider: str | None  # dialect of the model: "openai" | "anthropic"
    attempt: int  # attempt number (kind=attempt) or number of attempts (kind=request)
    status: int  # HTTP status; 0 = no response (timeout, connection error, local refusal)
    error: str | None
    retry_after_s: float | None
    slept_s: float  # wait before this attempt (attempt) or all waits (request)
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float  # this attempt (attempt) or end-to-end with retries (request)
    ttft_ms: float | None
    finish_reason: str | None
    fallback_used: str | None
    start_t: float  # scenario seconds when the attempt / logical request started
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    success: bool | None = None  # request records only
    worker: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


TRACE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TraceRecord))


class TraceWriter:
    """Appends records line by line and flushes each, so an interrupted run loses nothing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(self.path, "a", buffering=1)  # noqa: SIM115 - long-lived

    def write(self, record: TraceRecord) -> None:
        self._fh.write(record.to_json() + "\n")

    def flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_traces(path: str | Path) -> Iterator[dict[str, object]]:
    """Yield records as dicts; a torn last line (the run was killed mid-write) is skipped."""
    with open(path) as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
