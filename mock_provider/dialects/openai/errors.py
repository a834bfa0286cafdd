"""OpenAI error responses: ``{"error": {"message", "type", "param", "code"}}`` and a status.

A provider :class:`Rejection` is dialect-neutral; here it gets OpenAI's wording, codes and
headers. What a 429 says about when to retry is the model's ``retry_after`` setting, in
wall-clock time: ``exact`` sends ``retry-after-ms`` and a whole-second ``retry-after``,
``seconds`` only the whole-second ``retry-after`` (api.openai.com, the default profile),
``none`` neither. The exact wait is in the message either way ("Please try again in 1.2s"),
as the real one has it. An injected refusal tells its wait by the same rule
(``mock_provider/model/family.py``); OpenAI sends no ``x-should-retry`` unless a fault
says one.
"""

from __future__ import annotations

import math
from typing import Any

from ...clock import TimeBase
from ...model.family import OPENAI
from ...model.provider import Rejection
from ...model.vocabulary import RejectionKind
from .headers import ORGANIZATION_ID, RETRY_AFTER, RETRY_AFTER_MS, ratelimit_headers

SHOULD_RETRY = "x-should-retry"  # the Stainless SDKs obey it, OpenAI's included

__all__ = ["SHOULD_RETRY", "error_body", "error_type", "fault_error", "rejection", "retry_headers"]


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


def _seconds_text(seconds: float) -> str:
    """Whole seconds as an integer; a time-scaled wait with up to three decimals, rounded up
    (a client that waits what it is told must not come back early)."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")


def retry_headers(headers: dict[str, str], r: Rejection, clock: TimeBase) -> None:
    """Write what a 429 says about when to retry, in wall time (see the module docstring).

    The brain has already rounded ``r.retry_after_s`` as the model's ``retry_after`` says, in
    scenario seconds; at a time scale above 1 a whole scenario second is a fraction of a wall
    second, which the header carries as a decimal (the SDKs read it as a float).
    """
    told = r.retry_after_s
    if told is None:
        return
    headers[RETRY_AFTER] = _seconds_text(clock.wall(max(1, math.ceil(told))))
    if r.message_args.get("retry_after") == "exact":
        headers[RETRY_AFTER_MS] = str(max(1, math.ceil(clock.wall(told * 1000))))


def rejection(
    r: Rejection, clock: TimeBase, max_tokens_param: str = "max_tokens"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for a provider rejection, worded as OpenAI does.

    ``max_tokens_param`` is the field the request capped its output with, which a refusal of
    that cap names.
    """
    a = r.message_args
    headers = ratelimit_headers(r.ratelimit, clock)
    if r.kind == "auth":
        key = a["key"]
        if not key:
            msg = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            shown = key[:8] + "*" * (len(key) - 12) + key[-4:] if len(key) > 12 else "***"
            msg = (
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
        return 401, error_body(msg, "invalid_request_error", None, "invalid_api_key"), headers
    if r.kind == "permission":
        msg = f"Project `proj_stampede` does not have access to model `{a['model']}`"
        return 403, error_body(msg, "invalid_request_error", None, "model_not_found"), headers
    if r.kind == "invalid_request" and a.get("reason") == "max_tokens":
        msg = (
            f"{max_tokens_param} is too large: {a['requested']}. This model supports at most "
            f"{a['limit']} completion tokens, whereas you provided {a['requested']}."
        )
        body = error_body(msg, "invalid_request_error", max_tokens_param, "invalid_value")
        return 400, body, headers
    if r.kind == "invalid_request" and a.get("reason") == "dimensions":
        requested, limit = a["requested"], a["limit"]
        below = requested < 1
        msg = (
            f"Invalid 'dimensions': integer {'below minimum' if below else 'above maximum'} "
            f"value. Expected a value {'>= 1' if below else f'<= {limit}'}, but got "
            f"{requested} instead."
        )
        code = "integer_below_min_value" if below else "integer_above_max_value"
        return 400, error_body(msg, "invalid_request_error", "dimensions", code), headers
    if r.kind == "model_not_found" and a.get("retired"):
        # After a shutdown; the wording of a real one, quoted in openai/openai-quickstart-node
        # issue 127 (404, invalid_request_error, param null, code model_not_found).
        msg = (
            f"The model `{a['model']}` has been deprecated, learn more here: "
            "https://platform.openai.com/docs/deprecations"
        )
        return 404, error_body(msg, "invalid_request_error", None, "model_not_found"), headers
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
        where = f"{a['model']} in organization {ORGANIZATION_ID}"
        if lim.kind == "too_large":
            msg = (
                f"Request too large for {where} on tokens per min (TPM): Limit "
                f"{lim.limit}, Requested {lim.requested}. The input or output tokens must be "
                "reduced in order to run successfully. Visit "
                "https://platform.openai.com/account/rate-limits to learn more."
            )
            return 429, error_body(msg, "tokens", None, "rate_limit_exceeded"), headers
        if lim.kind == "concurrency":
            msg = (
                f"Too many concurrent requests for {where}: Limit {lim.limit}, "
                f"In flight {lim.used}. Please retry when a request completes."
            )
            retry_headers(headers, r, clock)
            return 429, error_body(msg, "requests", None, "rate_limit_exceeded"), headers
        unit = "requests per min (RPM)" if lim.kind == "requests" else "tokens per min (TPM)"
        wait = clock.wall(a.get("wait_s") or 0.0)  # from receipt (see Rejection)
        msg = (
            f"Rate limit reached for {where} on {unit}: Limit {lim.limit}, Used "
            f"{lim.used}, Requested {lim.requested}. Please try again in {_retry_in(wait)}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        retry_headers(headers, r, clock)
        return 429, error_body(msg, lim.kind, None, "rate_limit_exceeded"), headers
    if r.kind == "injected":
        return _injected(r, headers, clock)
    status = r.status
    retry_headers(headers, r, clock)  # an outage at 429 tells a wait, as any 429 does
    if status == 429:
        msg = "Rate limit reached. Please try again later."
        return status, error_body(msg, "requests", None, "rate_limit_exceeded"), headers
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
    r: Rejection, headers: dict[str, str], clock: TimeBase
) -> tuple[int, dict[str, Any], dict[str, str]]:
    a = r.message_args
    retry_headers(headers, r, clock)
    should = OPENAI.should_retry_header(r.status, override=a.get("should_retry"))
    if should is not None:
        headers[SHOULD_RETRY] = "true" if should else "false"
    return r.status, fault_error(r.status, a.get("error_type"), a.get("message")), headers
