"""OpenAI error responses: ``{"error": {"message", "type", "param", "code"}}`` and a status.

A provider :class:`Rejection` is dialect-neutral; here it gets OpenAI's wording, codes and
headers: ``retry-after`` plus ``retry-after-ms`` on a 429, in wall-clock time.
"""

from __future__ import annotations

import math
from typing import Any

from ...model.provider import Rejection
from ...model.vocabulary import RejectionKind
from .headers import RETRY_AFTER, RETRY_AFTER_MS, ratelimit_headers

SHOULD_RETRY = "x-should-retry"  # the Stainless SDKs obey it, OpenAI's included

__all__ = ["SHOULD_RETRY", "error_body", "error_type", "fault_error", "rejection"]


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# OpenAI's error ``type`` for each of the brain's refusal kinds (a 429's is the limit's unit).
_TYPES: dict[str, str] = {
    "server_error": "server_error",
    "overloaded": "server_error",
}


def error_type(kind: RejectionKind) -> str:
    return _TYPES.get(kind, "invalid_request_error")


def _retry_in(seconds: float) -> str:
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout. The request took too long to complete.",
    529: "The engine is currently overloaded, please try again later.",  # Anthropic's status
}


def rejection(r: Rejection, time_scale: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for a provider rejection, worded as OpenAI does."""
    a = r.message_args
    headers = ratelimit_headers(r.ratelimit, time_scale)
    if r.kind == "auth":
        key = a["key"]
        if not key:
            msg = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"
            msg = f"Incorrect API key provided: {shown}."
        return 401, error_body(msg, "invalid_request_error", None, "invalid_api_key"), headers
    if r.kind == "permission":
        msg = f"Project `proj_stampede` does not have access to model `{a['model']}`"
        return 403, error_body(msg, "invalid_request_error", None, "model_not_found"), headers
    if r.kind == "model_not_found":
        msg = f"The model `{a['model']}` does not exist or you do not have access to it."
        return 404, error_body(msg, "invalid_request_error", None, "model_not_found"), headers
    if r.kind == "context_length":
        msg = (
            f"This model's maximum context length is {a['limit']} tokens. However, you requested "
            f"{a['total']} tokens ({a['input']} in the messages, {a['output']} in the "
            "completion). Please reduce the length of the messages or completion."
        )
        body = error_body(msg, "invalid_request_error", "messages", "context_length_exceeded")
        return 400, body, headers
    if r.kind == "rate_limit":
        lim = r.limited
        assert lim is not None
        if lim.kind == "too_large":
            msg = (
                f"Request too large for {a['model']} on tokens per min (TPM): Limit "
                f"{lim.limit}, Requested {lim.requested}. The input or output tokens must be "
                "reduced in order to run successfully."
            )
            return 429, error_body(msg, "tokens", None, "rate_limit_exceeded"), headers
        if lim.kind == "concurrency":
            msg = (
                f"Too many concurrent requests for {a['model']}: Limit {lim.limit}, "
                f"In flight {lim.used}. Please retry when a request completes."
            )
            headers[RETRY_AFTER] = "1"
            headers[RETRY_AFTER_MS] = str(math.ceil(1000 / time_scale))
            return 429, error_body(msg, "requests", None, "rate_limit_exceeded"), headers
        unit = "requests per min (RPM)" if lim.kind == "requests" else "tokens per min (TPM)"
        wait = (r.retry_after_s or 0.0) / time_scale  # from receipt (see Rejection)
        msg = (
            f"Rate limit reached for {a['model']} on {unit}: Limit {lim.limit}, Used "
            f"{lim.used}, Requested {lim.requested}. Please try again in {_retry_in(wait)}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        headers[RETRY_AFTER] = str(max(1, math.ceil(wait)))
        headers[RETRY_AFTER_MS] = str(max(1, math.ceil(wait * 1000)))
        return 429, error_body(msg, lim.kind, None, "rate_limit_exceeded"), headers
    if r.kind == "injected":
        return _injected(r, headers, time_scale)
    status = r.status
    msg = _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
    return status, error_body(msg, "server_error", None, None), headers


# An injected error's body by its error type, as OpenAI words it (``insufficient_quota`` is a
# 429 that no wait cures: the SDKs retry it anyway, as any 429).
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)


def fault_error(status: int, error_type: str | None, message: str | None) -> dict[str, Any]:
    """The body of an injected error (an ``error`` fault, or a ``stream_error`` event)."""
    if error_type == "insufficient_quota":
        return error_body(message or _QUOTA, "insufficient_quota", None, "insufficient_quota")
    if error_type is not None:
        return error_body(message or f"Injected {error_type}.", error_type, None, error_type)
    if status >= 500:
        msg = message or _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
        return error_body(msg, "server_error", None, None)
    if status == 429:
        msg = message or "Rate limit reached. Please try again later."
        return error_body(msg, "requests", None, "rate_limit_exceeded")
    return error_body(message or f"Injected error {status}.", "invalid_request_error", None, None)


def _injected(
    r: Rejection, headers: dict[str, str], time_scale: float
) -> tuple[int, dict[str, Any], dict[str, str]]:
    a = r.message_args
    if r.retry_after_s is not None:
        wait = r.retry_after_s / time_scale
        headers[RETRY_AFTER] = str(max(0, math.ceil(wait)))
        headers[RETRY_AFTER_MS] = str(max(0, math.ceil(wait * 1000)))
    if a.get("should_retry") is not None:
        headers[SHOULD_RETRY] = "true" if a["should_retry"] else "false"
    return r.status, fault_error(r.status, a.get("error_type"), a.get("message")), headers
