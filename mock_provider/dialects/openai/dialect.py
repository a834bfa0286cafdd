"""OpenAI's chat completions as a :class:`~mock_provider.dialects.protocol.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ...clock import TimeBase
from ...model.limits import RateLimitView
from ...model.provider import Completion, Rejection
from ...model.vocabulary import RejectionKind
from ..protocol import ChatCall, StreamWriter
from .bodies import FINISH_REASONS, chat_body, chat_body_bytes, usage
from .errors import error_body, error_type, fault_error, rejection
from .headers import ratelimit_headers, stamp
from .params import read_options
from .parsing import parse_chat
from .sse import DONE, ChoicesStream, chunk, chunk_head, content_chunk
from .tokens import cache_prefixes

__all__ = ["CallOptions", "OpenAIDialect", "OpenAIStream", "bearer_key"]

_encode = msgspec.json.encode

# Fields of a body that asks for one plain answer. A body with no other field skips the
# option checks (params.py) altogether: the common request pays one subset test for them.
_PLAIN = frozenset(
    ("model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options",
     "user", "store", "metadata", "service_tier")
)  # fmt: skip


class CallOptions(msgspec.Struct, frozen=True, gc=False):
    """What OpenAI's renderers need to know of a request (``ChatCall.options``)."""

    include_usage: bool = False  # stream_options.include_usage
    max_tokens_param: str = "max_tokens"  # the field that capped the output, for refusals


# One shared instance per combination, indexed [include_usage][max_completion_tokens given]:
# a request builds none.
_OPTIONS = tuple(
    (CallOptions(usage, "max_tokens"), CallOptions(usage, "max_completion_tokens"))
    for usage in (False, True)
)


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
    # A ``malformed`` fault's last line: an unterminated JSON chunk.
    broken_line = b'data: {"id":"chatcmpl-broken","object":"chat.completion.chu\n\n'

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        return bearer_key(headers)

    def check_headers(self, headers: Mapping[str, str]) -> None:
        return None  # OpenAI requires no header but the key

    def parse_chat(self, raw: bytes) -> ChatCall:
        body, input_tokens, max_tokens = parse_chat(raw)
        output = None if _PLAIN.issuperset(body) else read_options(body)
        stream_options = body.get("stream_options")
        usage = bool(stream_options and stream_options.get("include_usage"))
        options = _OPTIONS[usage][body.get("max_completion_tokens") is not None]
        return ChatCall(
            body["model"],
            input_tokens,
            max_tokens,
            bool(body.get("stream")),
            body["messages"],
            options,
            bool(body.get("tools")),
            output,
        )

    def cache_prefixes(self, messages: Any) -> Sequence[tuple[int, int]]:
        return cache_prefixes(messages)

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes:
        if c.choices is None:
            return chat_body_bytes(c, created)
        return _encode(chat_body(c, created))

    def stream(self, c: Completion, call: ChatCall, created: int) -> StreamWriter:
        include_usage = call.options.include_usage
        if c.choices is None:
            return OpenAIStream(c, created, include_usage)
        return ChoicesStream(c, created, include_usage)

    def ratelimit_headers(self, view: RateLimitView | None, clock: TimeBase) -> dict[str, str]:
        return ratelimit_headers(view, clock)

    # The function itself, not a method calling it: this runs for every response.
    stamp = staticmethod(stamp)

    def rejection(
        self, r: Rejection, clock: TimeBase, call: ChatCall | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        param = call.options.max_tokens_param if call is not None else "max_tokens"
        status, body, headers = rejection(r, clock, param)
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
