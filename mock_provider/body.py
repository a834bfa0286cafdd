"""Request bodies as each service takes them: its size limit, its 413, and content codings.

Theory of operation
-------------------
- **Size.** Each provider family takes bodies up to its documented limit, and answers a larger
  one with its own 413 (:data:`BODY_RULES`). The size is the body as sent (compressed, if it
  was) and, again, once decoded: a small gzip body that inflates past the limit is as large
  as what it inflates to.
- **Content codings.** The app is served with aiohttp's own decompression off
  (``create_app``'s ``handler_args``): aiohttp's parser fails an undecodable body inside the
  connection, so the handler saw a payload error (a 500) and the connection was dropped
  under the next request on it. Here a body is decoded by :func:`decode`, after it has been
  read whole: ``gzip`` (``x-gzip``), ``deflate`` (zlib, or raw deflate as some clients send
  it) and ``br`` (when the ``brotli`` module is installed), several in the order applied;
  ``identity`` is no coding. A body that does not decode, or names a coding the mock cannot
  decode, reads as :data:`UNREADABLE`: no body at all, which every route then refuses as the
  body its service cannot parse (each dialect's invalid-JSON 400). No capture of a real
  service refusing a bad coding was found; that refusal is the one each gives a body it
  cannot read.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

__all__ = ["BODY_RULES", "UNREADABLE", "BodyRules", "BodyTooLarge", "decode"]

try:  # aiohttp's "speedups" extra brings it; without it, br is a coding the mock cannot read
    import brotli
except ImportError:  # pragma: no cover - installed alongside aiohttp here
    brotli = None

MiB: Final = 1024 * 1024
UNREADABLE: Final = b""  # a body that did not decode: what no route can parse


@dataclass(frozen=True, slots=True)
class BodyRules:
    """A provider family's body limit and the 413 it answers past it."""

    max_bytes: int
    too_large_body: bytes
    too_large_content_type: str


BODY_RULES: Final = {
    # docs.claude.com/en/api/overview#request-size-limits: "32 MB" for the Messages and Token
    # Counting APIs, refused by Cloudflare before the API with a 413 whose body is quoted in
    # anthropic-sdk-python#938 and anthropic/claude-code#14567 (no top-level "type", no
    # request_id: the API never saw the request).
    "anthropic": BodyRules(
        32 * MiB,
        b'{"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}',
        "application/json",
    ),
    # platform.openai.com/docs/guides/images-vision, "Image input requirements": up to 50 MB
    # of payload per request. Past it Cloudflare answers before the API, with its own HTML
    # page (quoted in openai/codex#7682 and anomalyco/opencode#12060).
    "openai": BodyRules(
        50 * MiB,
        b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
        b"<center><h1>413 Request Entity Too Large</h1></center>\r\n"
        b"<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
        "text/html",
    ),
}


class BodyTooLarge(Exception):
    """A body, as sent or once decoded, over its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


def _inflate(data: bytes, wbits: int, limit: int) -> bytes | None:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or d.unconsumed_tail:
        raise BodyTooLarge(limit)
    return out if d.eof else None  # a stream cut short is not a body


def _unbrotli(data: bytes, limit: int) -> bytes | None:
    if brotli is None:
        return None
    d = brotli.Decompressor()
    try:
        out = d.process(data, output_buffer_limit=limit + 1)
    except brotli.error:
        return None
    if len(out) > limit or not d.can_accept_more_data():
        raise BodyTooLarge(limit)
    return out if d.is_finished() else None


def _decode_one(data: bytes, coding: str, limit: int) -> bytes | None:
    if coding in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, limit)
    if coding == "deflate":  # zlib-wrapped, as RFC 9110 has it, or raw deflate
        wrapped = _inflate(data, zlib.MAX_WBITS, limit)
        return wrapped if wrapped is not None else _inflate(data, -zlib.MAX_WBITS, limit)
    if coding == "br":
        return _unbrotli(data, limit)
    return None


def decode(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """``raw`` with its content codings undone (see the module docstring); :data:`UNREADABLE`
    if it does not decode; :class:`BodyTooLarge` if it decodes past ``limit`` bytes."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    for coding in reversed(codings):  # listed in the order they were applied
        if coding in ("", "identity"):
            continue
        decoded = _decode_one(raw, coding, limit)
        if decoded is None:
            return UNREADABLE
        raw = decoded
    return raw
