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
_READ = pj.ReadOptions(block_size=8 << 20)  # 8 blocks a slice: every core busy to its end


# --------------------------------------------------------------------------- loading


def load_traces(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``traces.jsonl`` into a typed DataFrame (columns of :data:`TRACE_SCHEMA`).

    ``columns`` limits the fields kept (the report uses :data:`REPORT_COLUMNS`: fields it never
    reads are skipped at parse time). A torn final line (a run killed mid-write) is skipped;
    so is any other line that is not a JSON object, on the slower fallback path. ``success``
    is False where absent. ``trace_id`` is an integer key, the same for the rows of one
    logical request (the report only matches rows by it).
    """
    path = Path(path)
    schema = (
        TRACE_SCHEMA if columns is None else pa.schema([TRACE_SCHEMA.field(c) for c in columns])
    )
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return _to_frame(_compact(schema.empty_table()))
    try:
        table = _read_in_slices(path, _complete_length(path, size), parse)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = _compact(_read_line_by_line(path, parse))
    frame = _to_frame(table)
    del table
    pa.default_memory_pool().release_unused()  # the parser's scratch, back to the system
    return frame


SLICE_BYTES = 64 << 20


def _read_in_slices(path: Path, length: int, parse: pj.ParseOptions) -> pa.Table:
    """The first ``length`` bytes (whole lines), parsed :data:`SLICE_BYTES` at a time.

    pyarrow's parser needs about twice the finished table while it works; a slice at a time,
    each compacted (:func:`_compact`) before the next, holds that to one slice's worth. Each
    slice is still parsed by all cores.
    """
    tables = []
    with open(path, "rb") as fh:
        done = 0
        while done < length:
            text = fh.read(min(SLICE_BYTES, length - done))
            cut = text.rfind(b"\n") + 1 if done + len(text) < length else len(text)
            if cut == 0:  # one line longer than a slice: read on to its end
                text += fh.readline()
                cut = len(text)
            fh.seek(done + cut)
            done += cut
            lines = pa.BufferReader(pa.py_buffer(memoryview(text)[:cut]))
            tables.append(_compact(pj.read_json(lines, read_options=_READ, parse_options=parse)))
    if not tables:  # nothing but a torn line
        return _compact(parse.explicit_schema.empty_table())
    return pa.concat_tables(tables).unify_dictionaries()


def _compact(table: pa.Table) -> pa.Table:
    """Repeated strings as dictionaries and ``success`` filled; ``trace_id`` stays a string
    (its key needs the whole file, see :func:`_to_frame`)."""
    columns = []
    for name in table.column_names:
        col = table.column(name)
        if name in _CATEGORICAL:
            col = pc.dictionary_encode(col)
        elif name == "success":
            col = pc.fill_null(col, False)
        columns.append(col)
    return pa.table(columns, names=table.column_names)


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
    """A compacted table to pandas: dictionaries become categoricals, and ``trace_id`` an
    int32 key (equal ids, equal keys)."""
    if "trace_id" in table.column_names:
        ids = table.column("trace_id").combine_chunks()
        i = table.column_names.index("trace_id")
        table = table.set_column(i, "trace_id", pc.dictionary_encode(ids).indices)
        del ids
    return table.to_pandas(split_blocks=True)
