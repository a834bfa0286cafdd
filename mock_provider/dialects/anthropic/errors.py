"""Anthropic error responses: ``{"type":"error","error":{"type","message"},"request_id"}``.

The error ``type`` follows the status, as docs.claude.com/en/api/errors lists them: 400
``invalid_request_error``, 401 ``authentication_error``, 402 ``billing_error``, 403
``permission_error``, 404 ``not_found_error``, 413 ``request_too_large``, 429
``rate_limit_error``, 500 ``api_error``, 504 ``timeout_error``, 529 ``overloaded_error``.
Every error carries ``x-should-retry`` as the API sends it (true where a retry may succeed),
and a 429 ``retry-after``, by the rule every refusal follows (``mock_provider/model/family.py``):
the limiter's and an injected fault's alike. The
body's ``request_id`` is the response's ``request-id`` header, written in by
:func:`with_request_id`.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from ...clock import TimeBase
from ...model.family import ANTHROPIC
from ...model.provider import Rejection
from .headers import RETRY_AFTER, SHOULD_RETRY, ratelimit_headers

__all__ = [
    "ORGANIZATION", "error_body", "error_type", "fault_error", "rejection", "with_request_id",
]  # fmt: skip

ORGANIZATION = "00000000-0000-4000-8000-5743414d5045"  # the mock's organisation id
_encode = msgspec.json.encode

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str) -> bytes:
    return _encode({"type": "error", "error": {"type": error_type(status), "message": message}})


def with_request_id(body: bytes, request_id: str) -> bytes:
    """``body`` (from :func:`error_body`: a JSON object) with ``"request_id"`` last."""
    return body[:-1] + b',"request_id":' + _encode(request_id) + b"}"


_UNITS = {
    "requests": "requests per minute",
    "tokens": "tokens per minute",
    "input_tokens": "input tokens per minute",
    "output_tokens": "output tokens per minute",
}
_SERVER = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable",
           504: "Request timeout", 529: "Overloaded"}  # fmt: skip


def _message(r: Rejection) -> str:
    a = r.message_args
    if r.kind == "auth":
        return "invalid x-api-key" if a["key"] else "x-api-key header is required"
    if r.kind == "permission":
        return f"Your API key does not have permission to use the specified resource: {a['model']}"
    if r.kind == "model_not_found":
        return f"model: {a['model']}"
    if r.kind == "context_length":
        if a["input"] > a["limit"]:
            return f"prompt is too long: {a['input']} tokens > {a['limit']} maximum"
        return (
            f"input length and `max_tokens` exceed context limit: {a['input']} + {a['output']} "
            f"> {a['limit']}, decrease input length or `max_tokens` and try again"
        )
    if r.kind == "invalid_request" and a.get("reason") == "max_tokens":
        return (
            f"max_tokens: {a['requested']} > {a['limit']}, which is the maximum allowed number "
            f"of output tokens for {a['model']}"
        )
    if r.kind == "rate_limit" and r.limited is not None:
        lim = r.limited
        if lim.kind == "concurrency":
            return "Number of concurrent connections has exceeded your rate limit."
        unit = _UNITS.get(lim.bucket if lim.kind == "too_large" else lim.kind, "requests")
        return (
            f"This request would exceed the rate limit for your organization ({ORGANIZATION}) "
            f"of {lim.limit:,} {unit}. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
            "current usage. Please reduce the prompt length or the maximum tokens requested, "
            "or try again later."
        )
    return _SERVER.get(r.status, "Internal server error")


def seconds_text(seconds: float) -> str:
    """Whole seconds as an integer; a time-scaled wait with up to three decimals, rounded up
    (a client that waits what it is told must not come back early)."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")


def rejection(r: Rejection, clock: TimeBase) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, error object, extra headers) for a refusal of the brain's.

    The retry hints follow :mod:`mock_provider.model.family`, whoever refused: the wait the
    brain told (``r.retry_after_s``: whole scenario seconds, at least one), written in wall
    seconds (a decimal at a time scale above 1: the SDK reads ``retry-after`` as a float),
    and ``x-should-retry``.
    """
    headers = ratelimit_headers(r.ratelimit, clock)
    a = r.message_args
    told = r.retry_after_s
    if told is not None:
        headers[RETRY_AFTER] = seconds_text(clock.wall(told))
    hopeless = r.kind == "rate_limit" and told is None  # no wait lets it in (too large)
    should = ANTHROPIC.should_retry_header(
        r.status, waiting_helps=not hopeless, override=a.get("should_retry")
    )
    headers[SHOULD_RETRY] = "true" if should else "false"
    if r.kind == "injected":
        return r.status, fault_error(r.status, a.get("error_type"), a.get("message")), headers
    error = {"type": error_type(r.status), "message": _message(r)}
    return r.status, error, headers


def fault_error(status: int, type_: str | None, message: str | None) -> dict[str, str]:
    """The error object of an injected error (an ``error`` fault, or a stream's ``error``
    event): its type follows the status (402 ``billing_error``, 529 ``overloaded_error``)
    unless the fault names one."""
    kind = type_ or error_type(status)
    return {"type": kind, "message": message or _SERVER.get(status, f"Injected {kind}")}
