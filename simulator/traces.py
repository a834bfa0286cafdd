"""Per-attempt and per-request trace records, appended to JSONL as they happen.

One flat record type with a ``kind`` of ``"attempt"`` or ``"request"`` keeps the file a single
table for pandas/pyarrow. Field names follow the article's trace format plus attempt-level
fields (design.md). Times: ``t`` is scenario seconds since the strategy's run started;
``timestamp`` is wall-clock ISO-8601 UTC, for humans and log shippers.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from simulator.client.events import AttemptSpec, Outcome, RequestResult
    from simulator.workload import LogicalRequest

__all__ = [
    "TRACE_FIELDS",
    "TraceRecord",
    "TraceWriter",
    "attempt_record",
    "iter_traces",
    "request_record",
]


class TraceRecord(msgspec.Struct, frozen=True, gc=False):
    """One line of ``traces.jsonl``.

    A frozen ``msgspec.Struct``: built in C from positional fields, and encoded straight to
    JSON by msgspec (fields in this order, NaN and inf as null) with no dict in between. This
    runs twice per logical request on the live driver's hot path; as a NamedTuple turned into
    a dict for a JSON encoder it cost four times as much.
    """

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
    # Request records: from the request's start (its first attempt's send) to the first token
    # the user sees, through every retry, wait and fallback (a non-streamed answer: the whole
    # answer). None on attempt records, and on a request that did not succeed.
    ttft_ms: float | None
    finish_reason: str | None
    fallback_used: str | None
    start_t: float  # scenario seconds when the attempt / logical request started
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    success: bool | None = None  # request records only
    worker: int = 0
    # Live timing (attempt records from a live run; see simulator/live/timing.py), else None:
    plan_ms: float | None = None  # the latency the mock planned for this attempt
    lag_ms: float | None = None  # how late the arrival or wake-up that started it came
    # How the attempt broke, as the client saw it (Outcome.fault): "connection", "timeout",
    # "stream_cut", "stream_error", "malformed"; None when it was answered or refused. Its
    # output_tokens are the tokens received before it broke.
    fault: str | None = None
    # The attempt's own time to first token, from its send (a non-streamed answer: the whole
    # answer); on a request record, the answering attempt's. None when no token came.
    attempt_ttft_ms: float | None = None
    # Request records only: why a request that did not succeed stopped where it did (the
    # brain's RequestResult.gave_up: "retry_budget", "attempts_exhausted", "circuit_open", ...).
    gave_up: str | None = None

    def to_json_bytes(self) -> bytes:
        return _encode(self)

    def to_json(self) -> str:
        return _encode(self).decode()


TRACE_FIELDS: tuple[str, ...] = TraceRecord.__struct_fields__


def _plain(value: Any) -> Any:
    """numpy scalars (from workload arrays) as the Python numbers they hold."""
    item = getattr(value, "item", None)
    if item is None:
        raise NotImplementedError(f"cannot write a {type(value).__name__} to a trace")
    return item()


_encoder = msgspec.json.Encoder(enc_hook=_plain)
_encode = _encoder.encode
_encode_into = _encoder.encode_into


class TraceWriter:
    """Appends records as they happen; what is written reaches the file within ``max_delay_s``.

    Lines are buffered and handed to the OS at most every ``max_delay_s`` (and on close), not
    one write per line: a write per record was a tenth of the live driver's per-request cost.
    A crash of this process can lose at most that window; Ctrl-C and SIGTERM lose nothing,
    since the stop order (``simulator/live/locustfile.py``) closes the writer only after the
    last record is written. A write after :meth:`close` is refused: the record is counted in
    ``dropped`` and logged once, never sent to a closed file.
    """

    def __init__(self, path: str | Path, max_delay_s: float = 0.25) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - long-lived
        # Records are encoded into this buffer in place (msgspec's encode_into: no bytes
        # object per record) and handed to the OS in one write per ``max_delay_s``.
        self._buf = bytearray()
        self.max_delay_s = max_delay_s
        self._due = time.monotonic() + max_delay_s
        self.closed = False
        self.dropped = 0  # records refused after close

    def write(self, record: TraceRecord) -> None:
        if self.closed:
            self._refuse()
            return
        buf = self._buf
        _encode_into(record, buf, -1)
        buf += b"\n"
        if time.monotonic() >= self._due:
            self._push()

    def write_line(self, line: str) -> None:
        """An already serialised record (from a worker process)."""
        if self.closed:
            self._refuse()
            return
        self._buf += line.encode()
        self._buf += b"\n"
        if time.monotonic() >= self._due:
            self._push()

    def _refuse(self) -> None:
        self.dropped += 1
        if self.dropped == 1:
            logging.getLogger(__name__).error(
                "%s: a trace record came after the writer was closed; dropped", self.path
            )

    def _push(self) -> None:
        if self._buf:
            self._fh.write(self._buf)
            self._fh.flush()
            self._buf.clear()
        self._due = time.monotonic() + self.max_delay_s

    def flush(self) -> None:
        if not self.closed:
            self._push()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._push()
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


def attempt_record(  # no ``*``: the live driver passes these positionally, in this order
    strategy: str,
    req: LogicalRequest,
    spec: AttemptSpec,
    outcome: Outcome,
    start_t: float,
    slept_s: float,
    cost_usd: float,
    first_model: str,
    timestamp: str,
    worker: int = 0,
    lag_s: float | None = None,
) -> TraceRecord:
    """The record of one HTTP attempt (times in scenario seconds)."""
    # Positional, in field order: keywords cost twice as much, and this runs per attempt.
    ttft_s, plan_s = outcome.ttft_s, outcome.plan_s
    return TraceRecord(
        "attempt",  # kind
        f"{strategy}-{req.seq}",  # trace_id
        timestamp,
        outcome.now,  # t
        strategy,
        req.user_id,
        req.feature,
        spec.model,
        req.prompt_version,
        spec.dialect,  # provider
        spec.attempt,
        outcome.status,
        outcome.error,
        outcome.retry_after_s,
        slept_s,
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.cached_tokens,
        cost_usd,
        outcome.latency_s * 1000.0,  # latency_ms
        None,  # ttft_ms: request records only
        outcome.finish_reason,
        spec.model if spec.model != first_model else None,  # fallback_used
        start_t,
        outcome.remaining_requests,
        outcome.remaining_tokens,
        None,  # success: request records only
        worker,
        None if plan_s is None else plan_s * 1000.0,  # plan_ms
        None if lag_s is None else lag_s * 1000.0,  # lag_ms
        outcome.fault,
        None if ttft_s is None else ttft_s * 1000.0,  # attempt_ttft_ms
    )


def request_record(  # no ``*``: the live driver passes these positionally, in this order
    strategy: str,
    req: LogicalRequest,
    result: RequestResult,
    start_t: float,
    end_t: float,
    provider: str | None,
    timestamp: str,
    worker: int = 0,
    answer_start_t: float | None = None,
) -> TraceRecord:
    """The record of one logical request: end-to-end latency, retries and waits included.

    ``answer_start_t``: when the attempt whose outcome ended the request was sent. A success's
    TTFT runs from ``start_t`` to that attempt's first token: every earlier attempt, wait and
    fallback is in it.
    """
    final, success = result.final, result.success
    status, retry_after_s, tokens_in, tokens_out, cached = 0, None, 0, 0, 0
    ttft_ms, attempt_ttft_ms, finish_reason = None, None, None
    if final is not None:
        status, retry_after_s = final.status, final.retry_after_s
        tokens_in, tokens_out, cached = final.input_tokens, final.output_tokens, final.cached_tokens
        if success:
            finish_reason = final.finish_reason
            if final.ttft_s is not None:
                attempt_ttft_ms = final.ttft_s * 1000.0
                sent = start_t if answer_start_t is None else answer_start_t
                ttft_ms = (sent - start_t) * 1000.0 + attempt_ttft_ms
    # Positional, in field order (see attempt_record).
    return TraceRecord(
        "request",  # kind
        f"{strategy}-{req.seq}",  # trace_id
        timestamp,
        end_t,  # t
        strategy,
        req.user_id,
        req.feature,
        result.model,
        req.prompt_version,
        provider,
        result.attempts,  # attempt
        status,
        result.error,
        retry_after_s,
        result.slept_s,
        tokens_in,
        tokens_out,
        cached,
        result.cost_usd,
        (end_t - start_t) * 1000.0,  # latency_ms
        ttft_ms,
        finish_reason,
        result.fallback_used,
        start_t,
        None,  # remaining_requests: attempt records only
        None,  # remaining_tokens
        success,
        worker,
        None,  # plan_ms: attempt records only
        None,  # lag_ms
        None,  # fault
        attempt_ttft_ms,
        result.gave_up,
    )
