"""The brain's own words for how a response ends and why a request is refused.

Each dialect renders these in its wire format's words (OpenAI's ``stop`` and ``length``,
Anthropic's ``end_turn`` and ``max_tokens``; ``invalid_request_error``, ``rate_limit_error``
and so on), so nothing in the brain is one provider's vocabulary.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "END",
    "MAX_TOKENS",
    "STOP_SEQUENCE",
    "TOOL_USE",
    "FinishReason",
    "RejectionKind",
]

# How a completion ended.
FinishReason = Literal["end", "max_tokens", "tool_use", "stop_sequence"]
END: Final = "end"  # the model finished its answer
MAX_TOKENS: Final = "max_tokens"  # the answer was cut at max_tokens (or the model's cap)
TOOL_USE: Final = "tool_use"  # the answer is a call of one of the request's tools
STOP_SEQUENCE: Final = "stop_sequence"  # the answer met one of the request's stop sequences

# Why a request was refused (``Rejection.kind``); its HTTP status travels with it.
RejectionKind = Literal[
    "auth",  # no key, or a key the mock does not accept
    "permission",  # a key without access to this model
    "model_not_found",
    "invalid_request",  # a body the API refuses (bad field, value out of range)
    "context_length",  # prompt plus max_tokens over the model's context window
    "request_too_large",  # a body over the size limit
    "rate_limit",  # a limit refused admission (see Rejection.limited)
    "overloaded",  # the model is over capacity (OpenAI 503, Anthropic 529)
    "server_error",  # an injected or scheduled server failure (500, 502, 503, 504)
    "injected",  # an ``error`` fault: its own status, error type, message and retry hint
]
