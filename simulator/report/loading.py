"""Reading ``traces.jsonl`` fast: pyarrow's JSON reader with an explicit, typed schema.

The report's input may hold a million attempt records and, after an interrupted run, end in a
torn line. The fast path hands the file (or, when torn, its complete lines) to pyarrow; a
damaged line anywhere else drops to a slower line-by-line filter.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

__all__ = ["REPORT_COLUMNS", "TRACE_SCHEMA", "load_traces"]

# Strings that repeat across rows become categoricals: a 1M-row file then costs a few bytes per
# cell instead of a Python object each. ``trace_id`` (shared by a request's rows: the herd
# index pairs a retry with its request) becomes an integer key instead: it is unique per
# request, so as categories it would still cost a Python string per request.
_CATEGORICAL = (
    "kind",
    "strategy",
    "user_id",
    "feature",
    "model",
    "prompt_version",
    "provider",
    "error",
    "finish_reason",
    "fallback_used",
    "gave_up",
)

TRACE_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("trace_id", pa.string()),
        ("timestamp", pa.string()),
        ("t", pa.float64()),
        ("strategy", pa.string()),
        ("user_id", pa.string()),
        ("feature", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("provider", pa.string()),
        ("attempt", pa.int32()),
        ("status", pa.int16()),
        ("error", pa.string()),
        ("retry_after_s", pa.float64()),
        ("slept_s", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("latency_ms", pa.float64()),
        ("ttft_ms", pa.float64()),
        ("finish_reason", pa.string()),
        ("fallback_used", pa.string()),
        ("start_t", pa.float64()),
        ("remaining_requests", pa.float64()),  # nullable ints: float keeps NaN cheap
        ("remaining_tokens", pa.float64()),
        ("success", pa.bool_()),
        ("worker", pa.int32()),
        ("plan_ms", pa.float64()),  # optional: live timing (simulator/live/timing.py)
        ("lag_ms", pa.float64()),
        ("fault", pa.string()),  # optional: how a broken attempt broke (Outcome.fault)
        ("attempt_ttft_ms", pa.float64()),  # the attempt's own TTFT (ttft_ms: the request's)
        ("gave_up", pa.string()),  # optional: why a request stopped (RequestResult.gave_up)
    ]
)

# What the report reads: metrics, plots, the fault tables, and ``gave_up`` for ``stampede
# check``'s attribution. Parsing a field costs even when nothing reads it, so the wall-clock
# ``timestamp``, ``worker``, the live timing fields (read by simulator/live/timing.py),
# ``prompt_version``, ``provider``, ``retry_after_s`` and the attempts' own TTFT stay in the
# file (bench/report_speed.py: reading all 33 fields of a 1M-record file takes half as long
# again as reading these).
REPORT_COLUMNS: tuple[str, ...] = (
    "kind",
    "trace_id",
    "t",
    "strategy",
    "user_id",
    "feature",
    "model",
    "attempt",
    "status",
    "error",
    "slept_s",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "finish_reason",
    "fallback_used",
    "start_t",
    "remaining_requests",
    "remaining_tokens",
    "success",
    "fault",
    "gave_up",
)
_READ = pj.ReadOptions(block_size=16 << 20)


# --------------------------------------------------------------------------- loading


def load_traces(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``traces.jsonl`` into a typed DataFrame (columns of :data:`TRACE_SCHEMA`).

    ``columns`` limits the fields kept (the report uses :data:`REPORT_COLUMNS`: fields it never
    reads are skipped at parse time, which saves memory on big files). A torn final line (a run
    killed mid-write) is skipped; so is any other line that is not a JSON object, on the
    slower fallback path. ``success`` is False where absent. ``trace_id`` is an integer key,
    the same for the rows of one logical request (the report only matches rows by it).
    """
    path = Path(path)
    schema = (
        TRACE_SCHEMA if columns is None else pa.schema([TRACE_SCHEMA.field(c) for c in columns])
    )
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return _to_frame(schema.empty_table())
    complete = _complete_length(path, size)
    try:
        if complete == size:
            table = pj.read_json(path, read_options=_READ, parse_options=parse)
        else:
            with open(path, "rb") as fh:
                head = fh.read(complete)
            table = pj.read_json(io.BytesIO(head), read_options=_READ, parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = _read_line_by_line(path, parse)
    return _to_frame(table)


def _complete_length(path: Path, size: int) -> int:
    """Bytes up to and including the last newline; finding it reads only the file's tail."""
    with open(path, "rb") as fh:
        pos = size
        while pos > 0:
            start = max(0, pos - (1 << 16))
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            pos = start
    return 0


def _read_line_by_line(path: Path, parse: pj.ParseOptions) -> pa.Table:
    """Slow path for a damaged file: keep the lines that parse as complete JSON objects."""
    good = io.BytesIO()
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("kind") in ("attempt", "request"):
                good.write(line)
    if good.tell() == 0:
        return parse.explicit_schema.empty_table()
    good.seek(0)
    return pj.read_json(good, read_options=_READ, parse_options=parse)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Typed columns to pandas; ``trace_id`` becomes an int32 key (equal ids, equal keys)."""
    columns = []
    for name in table.column_names:
        col = table.column(name)
        if name in _CATEGORICAL:
            col = pc.dictionary_encode(col)
        elif name == "trace_id":
            col = pc.dictionary_encode(col.combine_chunks()).indices
        elif name == "success":
            col = pc.fill_null(col, False)
        columns.append(col)
    frame = pa.table(columns, names=table.column_names)
    del table, columns
    return frame.to_pandas(split_blocks=True, self_destruct=True)
