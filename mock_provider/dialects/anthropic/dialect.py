"""Anthropic's Messages API as a :class:`~mock_provider.dialects.protocol.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ...clock import TimeBase
from ...model.limits import RateLimitView
from ...model.outputs import OutputSpec
from ...model.provider import Completion, Rejection
from ...model.vocabulary import RejectionKind
from ..openai.dialect import bearer_key
from ..protocol import ChatCall, StreamWriter
from .bodies import message_bytes
from .conversation import check_tool_turns
from .errors import error_body, rejection, with_request_id
from .headers import VERSION, ratelimit_headers
from .options import VERSIONS, check_version, read_options
from .parsing import decode, validate
from .sse import AnthropicBlockStream, AnthropicStream
from .tokens import cache_blocks

__all__ = ["AnthropicDialect", "api_key", "read_rules"]

_encode = msgspec.json.encode
_PROMPT = frozenset({"model", "max_tokens", "messages", "system", "stream"})


def api_key(headers: Mapping[str, str]) -> str | None:
    """The ``x-api-key`` header, else an ``Authorization: Bearer`` token (the way the
    anthropic SDK 2.x sends its API key)."""
    return headers.get("x-api-key") or bearer_key(headers)


def read_rules(body: dict[str, Any]) -> OutputSpec | None:
    """The rules across fields (tool turns, tools, ``tool_choice``, ``thinking``) of a body
    :func:`~.parsing.validate` passed, refused as the API refuses them; the brain's spec.

    ``/v1/messages`` and ``count_tokens`` both keep them."""
    # Tool turns pair up only in block content; a plain chat has none (and is not walked
    # again). A loop rather than any(...): no generator on every request served.
    messages = body["messages"]
    for m in messages:
        if type(m["content"]) is list:
            check_tool_turns(messages)
            break
    if not _PROMPT.issuperset(body):  # options beyond the prompt
        return read_options(body)
    return None


class AnthropicDialect:
    name = "anthropic"
    serves = "anthropic"
    chat_path = "/v1/messages"
    request_id_header = "request-id"
    # A ``malformed`` fault's last line: an unterminated JSON object, named as this API's
    # events are.
    broken_line = b'event: content_block_delta\ndata: {"type":"content_block_delta","ind\n\n'

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        return api_key(headers)

    def check_headers(self, headers: Mapping[str, str]) -> None:
        if headers.get(VERSION) not in VERSIONS:  # check_version's test, inline: every request
            check_version(headers)

    def parse_chat(self, raw: bytes) -> ChatCall:
        body = decode(raw)
        marks = validate(body)
        output = read_rules(body)
        input_tokens, blocks = cache_blocks(body, marks)
        return ChatCall(
            body["model"],
            input_tokens,
            body["max_tokens"],
            bool(body.get("stream")),
            blocks,
            tools=bool(body.get("tools")),
            output=output,
        )

    def cache_prefixes(self, messages: Any) -> Sequence[tuple[int, int, float]]:
        return messages  # parse_chat cut them already: (key, cumulative tokens, ttl_s)

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes:
        return message_bytes(c)

    def stream(self, c: Completion, call: ChatCall, created: int) -> StreamWriter:
        return AnthropicStream(c) if c.choices is None else AnthropicBlockStream(c)

    def ratelimit_headers(self, view: RateLimitView | None, clock: TimeBase) -> dict[str, str]:
        return ratelimit_headers(view, clock)

    def stamp(
        self, headers: dict[str, str], request_id: str, processing_s: float, clock: TimeBase
    ) -> None:
        headers["request-id"] = request_id  # the one header Anthropic puts on every response

    def rejection(
        self, r: Rejection, clock: TimeBase, call: ChatCall | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        status, error, headers = rejection(r, clock)
        return status, _encode({"type": "error", "error": error}), headers

    def error(
        self,
        status: int,
        kind: RejectionKind,
        message: str,
        param: str | None = None,
        code: str | None = None,
    ) -> bytes:
        return error_body(status, message)

    def with_request_id(self, body: bytes, request_id: str) -> bytes:
        return with_request_id(body, request_id)
