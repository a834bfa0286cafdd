"""The request journal: one entry per request the mock answered (or the client abandoned).

Why it exists: it is the mock's own account of what a client did, whatever the client is
(our Locust users, a team's app, a Node service): the live driver checks its traces against
it, the timing check reads the mock's handling time from it, and ``stampede audit`` judges a
client from it alone. ``stampede serve --request-log FILE`` (and every ``stampede run``)
appends it as JSON lines as requests end, so an interrupted run keeps what was answered.

Fields (:class:`JournalEntry`); times are scenario seconds since the last reset, and a reset
writes a line of its own (``path`` ``/_stampede/reset``, with its ``time_scale``), so entries
after it belong to that reset's run. ``prompt`` is on every request's line, refusals included:
the fingerprint of the request's messages as its dialect read them (:func:`fingerprint`, 16 hex
digits; the model is left out, so a fallback to another model keeps it), or, for a body the
dialect could not read (a 400, a 413, a 404 for an unknown path), the fingerprint of the body
(:func:`body_fingerprint`, ``raw:`` and 16 hex digits: of the JSON object without its model,
else of the bytes; for a 413, of the bytes read before the refusal). Identical requests get
identical fingerprints and different ones different fingerprints, so a retry, or a copy, can be
told from another request.
``key`` is shown as OpenAI's errors show one (its first 3 and last 4 characters).
``tag`` is the last request tag (``#`` and nine digits, as ``#000000042``) in the request's
body: stampede's workloads start every user message with one, unique per logical request, so
a run can join the journal to its logical requests whatever the client did to the prompt
around the user's text (``simulator/apps/attribution.py``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

__all__ = [
    "RAW_PREFIX",
    "RESET_PATH",
    "JournalEntry",
    "body_fingerprint",
    "fingerprint",
    "read_journal",
    "redact_key",
    "request_tag",
    "write_entry",
]

RESET_PATH = "/_stampede/reset"
RAW_PREFIX = "raw:"  # a fingerprint of a body's bytes, not of its messages


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    t: float  # when the response ended, or the client went away
    path: str
    status: int  # the HTTP status; 499 when the client went away before the end
    model: str = ""
    dialect: str | None = None  # "openai" | "openai_responses" | "anthropic"
    key: str | None = None  # redacted (redact_key)
    start_t: float | None = None  # when the request arrived
    error: str | None = None  # the brain's refusal kind, or the code of a refused body
    fault: str | None = None  # the fault that struck it, if one did
    retry_after_s: float | None = None  # what the response told the client to wait
    retry_count: str | None = None  # the client's x-stainless-retry-count header, as sent
    user_agent: str | None = None
    request_id: str | None = None
    stream: bool = False
    tools: bool = False
    input_tokens: int = 0
    output_tokens: int = 0  # delivered, so far when the client went away
    ttft_ms: float | None = None  # arrival to the first content, for a stream
    disconnected: bool = False
    plan_ms: float | None = None  # the latency the mock planned for it
    prompt: str | None = None  # fingerprint of the messages (see the module docstring)
    max_tokens: int | None = None
    time_scale: float | None = None  # on a reset's line only
    tag: str | None = None  # the last request tag in the body (see the module docstring)
    cached_tokens: int = 0  # prompt tokens read from the cache
    cache_write_tokens: int = 0  # prompt tokens written to an explicit (Anthropic) cache
    finish_reason: str | None = None  # the brain's word (end, max_tokens, tool_use)


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(JournalEntry).decode


def redact_key(key: str | None) -> str | None:
    if not key:
        return None
    return key[:3] + "..." + key[-4:] if len(key) > 8 else "***"


_TAG = re.compile(rb"#\d{9}(?!\d)")


def request_tag(raw: bytes | str | None) -> str | None:
    """The last request tag (``#000000042``) in a body or a text, or None."""
    if not raw:
        return None
    data = raw.encode() if isinstance(raw, str) else raw
    found = _TAG.findall(data)
    return found[-1].decode() if found else None


def fingerprint(messages: Any) -> str:
    """A short, stable digest of a request's messages (the dialect's parsed form)."""
    raw = msgspec.json.encode(messages, order="deterministic")
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def body_fingerprint(raw: bytes | None) -> str:
    """A short, stable digest of a body no dialect could read (``raw:`` and 16 hex digits):
    of the JSON object without its ``model``, if it is one (a fallback to another model sends
    the same bad body again, as :func:`fingerprint` leaves the model out), else of the bytes
    (the empty body's digest for a request with none)."""
    data = raw or b""
    try:
        body = msgspec.json.decode(data)
    except (msgspec.MsgspecError, RecursionError):  # not JSON, or nested past msgspec's depth
        body = None
    if isinstance(body, dict):
        body.pop("model", None)
        data = msgspec.json.encode(body, order="deterministic")
    return RAW_PREFIX + hashlib.blake2b(data, digest_size=8).hexdigest()


def write_entry(fh: IO[str], entry: JournalEntry) -> None:
    fh.write(_encode(entry).decode() + "\n")


def read_journal(path: str | Path, offset: int = 0) -> Iterator[JournalEntry]:
    """Entries from byte ``offset`` on; a torn last line (a run killed mid-write) is skipped,
    and so is a line that is not an entry."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                yield _decode(line)
            except msgspec.DecodeError:
                continue
