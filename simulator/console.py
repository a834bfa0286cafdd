"""The terminal: lines that fit 100 columns, and a closed pipe that does not stop a run.

``stampede run ... | head -3`` closes the read end of stdout while the run goes on. Python
ignores SIGPIPE, so the next write raises ``BrokenPipeError`` (and an unflushed buffer raises
it again at exit). Python's documentation (``signal``, "Note on SIGPIPE") points the stream's
file descriptor at ``/dev/null`` once that happens: later writes, and the final flush, then
succeed quietly. :func:`closed_pipe_ignored` does that at the first write that fails, so the
run goes on, its report is written, and it exits with its own status.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["WIDTH", "closed_pipe_ignored", "wrap"]

WIDTH = 100  # every line the CLI prints fits this many columns


def wrap(text: str, hanging: str = "    ", width: int = WIDTH) -> str:
    """Each line of ``text`` wrapped to ``width``; a continuation keeps the line's own indent
    plus ``hanging``. Words (paths, URLs) are never split, so one longer than a line stays
    whole."""
    out = []
    for line in text.splitlines() or [""]:
        indent = line[: len(line) - len(line.lstrip(" "))]
        out += textwrap.wrap(
            line,
            width,
            subsequent_indent=indent + hanging,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [line]
    return "\n".join(out)


class _ClosedPipeSafe:
    """A text stream that, once its reader has gone, writes to /dev/null instead of raising."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._divert()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._divert()

    def _divert(self) -> None:
        self.reader_gone = True
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # not a real file (a test's capture): nothing to redirect
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def closed_pipe_ignored() -> Iterator[None]:
    """Inside the block, ``sys.stdout`` and ``sys.stderr`` survive their reader going away."""
    saved = sys.stdout, sys.stderr
    out, err = _ClosedPipeSafe(sys.stdout), _ClosedPipeSafe(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        # A pipe's output is block-buffered: flush here, where a closed pipe is caught,
        # rather than at interpreter exit, where it would be reported and exit 120.
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = saved
