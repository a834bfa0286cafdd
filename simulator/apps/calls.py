"""The record of one call of an app strategy's function, as the live driver saw it.

The driver knows when the call started and ended and how it ended (a return, or the
exception's type); it does not know the call's attempts, which only the mock saw. So a
Locust process writes one :class:`AppCall` per logical request to
``<run>/apps/<strategy>.calls.jsonl``; when the strategy has run, the orchestrator joins them
with the mock's journal (:mod:`simulator.apps.attribution`) into the same trace records a
built-in strategy writes as it goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

__all__ = ["MESSAGE_CHARS", "AppCall", "calls_path", "read_calls"]

MESSAGE_CHARS = 300  # of an exception's text: enough to recognise it


class AppCall(msgspec.Struct, frozen=True, kw_only=True):
    seq: int  # the logical request
    start_t: float  # scenario seconds
    t: float  # when the call returned, raised, or was cut
    success: bool  # it returned
    error: str | None = None  # the exception's type name, or the driver's cut (run_ended...)
    message: str | None = None  # the exception's text, shortened
    lag_ms: float | None = None  # how late the call started against its arrival (scenario ms)
    worker: int = 0

    def to_json(self) -> str:
        return _encode(self).decode()


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(AppCall).decode


def calls_path(run_dir: Path, strategy: str) -> Path:
    return run_dir / "apps" / f"{strategy}.calls.jsonl"


def read_calls(path: Path) -> Iterator[AppCall]:
    """Every complete record (a torn last line, from a killed process, is skipped)."""
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                yield _decode(line)
            except msgspec.DecodeError:
                continue
