"""Command-line argument types: a value the command cannot use is refused by argparse.

Each is an ``argparse`` ``type=``: it returns the parsed value or raises
``ArgumentTypeError``, which argparse prints as ``stampede serve: error: argument --port:
...`` and turns into exit status 2, before anything starts. Checking at the edge keeps a
negative port or a zero time scale from reaching the socket or the schema as a traceback.
The mock stands alone, so these live here; the simulator's command line uses them too.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "bounded_int",
    "http_url",
    "non_negative_int",
    "output_folder",
    "port",
    "positive_float",
    "positive_int",
    "text_file",
    "writable_file",
]


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from ``low`` (to ``high``, when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"from {low:,}" if high is None else f"from {low:,} to {high:,}"
            raise argparse.ArgumentTypeError(f"expected a whole number {span}, got {text}")
        return value

    return parse


positive_int = bounded_int(1)
port = bounded_int(0, 65_535)
non_negative_int = bounded_int(0)


def positive_float(text: str) -> float:
    """A finite number above 0 (a time scale, a factor)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def http_url(text: str) -> str:
    """``http://HOST[:PORT][/PATH]`` (or https), as a running mock is reached."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected http://HOST:PORT, got {text!r} ({exc})"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected a URL such as http://127.0.0.1:8000, got {text!r}"
        )
    return text


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _a_path(text: str) -> None:
    """A name the file system can take: a lone surrogate cannot be encoded."""
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a file name this system can use"
        ) from None


def output_folder(text: str) -> str:
    """A folder to write into: existing, or creatable (not a file, nor under one)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    _a_path(text)
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder; name a folder")
    found = _first_existing(path.absolute())
    if not found.is_dir():
        raise argparse.ArgumentTypeError(f"{found} is a file, so {text} cannot be a folder")
    if not os.access(found, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {found} (permission denied)")
    return text


def writable_file(text: str) -> str:
    """A file to write or append to: not a folder, in a folder that exists and can be written."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty path")
    _a_path(text)
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name a file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent} (permission denied)")
    return text


def text_file(text: str) -> str:
    """A small UTF-8 text file that exists (a thresholds file): what its reader assumes."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    try:
        path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{text}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None
    return text
