"""OpenAI's chat completions as a :class:`~mock_provider.dialects.protocol.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ...model.limits import RateLimitView
from ...model.provider import Completion, Rejection
from ...model.vocabulary import RejectionKind
from ..protocol import ChatCall
from .bodies import FINISH_REASONS, chat_body_bytes, usage
from .errors import error_body, error_type, fault_error, rejection
from .headers import ratelimit_headers
from .parsing import parse_chat
from .sse import DONE, chunk, chunk_head, content_chunk
from .tokens import cache_prefixes

__all__ = ["OpenAIDialect", "OpenAIStream", "bearer_key"]

_encode = msgspec.json.encode


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header (the scheme in any case)."""
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer "):  # the usual spelling, without the split
        return auth[7:].strip() or None
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class OpenAIStream:
    """``chat.completion.chunk`` events: a role chunk, one content chunk per token, then the
    finish chunk, the usage chunk (with ``stream_options.include_usage``) and ``[DONE]``."""

    __slots__ = ("c", "created", "head", "include_usage")

    def __init__(self, c: Completion, created: int, include_usage: bool) -> None:
        self.c, self.created, self.include_usage = c, created, include_usage
        self.head = chunk_head(c, created)

    def opening(self) -> bytes:
        delta = {"role": "assistant", "content": "", "refusal": None}
        return chunk(self.c, self.created, delta, with_usage=self.include_usage)

    def token(self, piece: str) -> bytes:
        return content_chunk(self.head, piece, self.include_usage)

    def closing(self, delivered: int) -> bytes:
        c, created, with_usage = self.c, self.created, self.include_usage
        out = chunk(c, created, {}, FINISH_REASONS[c.finish_reason], with_usage=with_usage)
        if with_usage:
            out += chunk(c, created, None, with_usage=True, usage_body=usage(c, delivered))
        return out + DONE

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        return b"data: " + _encode(fault_error(status, error_type, message)) + b"\n\n"


class OpenAIDialect:
    name = "openai"
    serves = "openai"
    chat_path = "/v1/chat/completions"
    request_id_header = "x-request-id"

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        return bearer_key(headers)

    def parse_chat(self, raw: bytes) -> ChatCall:
        body, input_tokens, max_tokens = parse_chat(raw)
        options = body.get("stream_options")
        include_usage = bool(options and options.get("include_usage"))
        return ChatCall(
            body["model"],
            input_tokens,
            max_tokens,
            bool(body.get("stream")),
            body["messages"],
            include_usage,
            bool(body.get("tools")),
        )

    def cache_prefixes(self, messages: Any) -> Sequence[tuple[int, int]]:
        return cache_prefixes(messages)

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes:
        return chat_body_bytes(c, created)

    def stream(self, c: Completion, call: ChatCall, created: int) -> OpenAIStream:
        return OpenAIStream(c, created, bool(call.options))

    def ratelimit_headers(self, view: RateLimitView | None, time_scale: float) -> dict[str, str]:
        return ratelimit_headers(view, time_scale)

    def rejection(self, r: Rejection, time_scale: float) -> tuple[int, bytes, dict[str, str]]:
        status, body, headers = rejection(r, time_scale)
        return status, _encode(body), headers

    def error(
        self,
        status: int,
        kind: RejectionKind,
        message: str,
        param: str | None = None,
        code: str | None = None,
    ) -> bytes:
        return _encode(error_body(message, error_type(kind), param, code))

    def with_request_id(self, body: bytes, request_id: str) -> bytes:
        return body  # OpenAI's error bodies carry no request id (the header does)
