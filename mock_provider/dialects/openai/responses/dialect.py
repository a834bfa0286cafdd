"""OpenAI's Responses API as a :class:`~mock_provider.dialects.protocol.Dialect`.

It is OpenAI's service behind a second route, so everything but the request and response
shapes is chat completions': the bearer key, the ``x-ratelimit-*`` headers, the error bodies
and 429 wording (:mod:`..errors`, :mod:`..headers`), the token counting and cache prefixes
(:mod:`..tokens`), and, through the brain, the same per-(key, model) limits: a call here and
a chat completion draw on one bucket.

Its own state is the :class:`~.store.ResponseStore` of responses a ``previous_response_id``
may continue. It lives in the dialect, so in the process: a response stored before a
``/_stampede/reset`` can still be continued after it (the real API keeps responses for
30 days, whatever a client's rate limits do). Response ids carry a serial number that is
never reused in the process, so two mocks in one process, or one mock across resets, never
give two responses one id.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import msgspec

from ....clock import TimeBase
from ....model.provider import Completion, Rejection
from ...protocol import BadRequest, ChatCall
from ..dialect import OpenAIDialect
from ..errors import error_body, rejection
from ..headers import ratelimit_headers, stamp
from ..tokens import cache_prefixes, count_chat_tokens
from .bodies import output_message, output_text, response_body, status_of, usage
from .parsing import ResponsesRequest, parse_request
from .sse import ResponsesStream
from .store import Conversation, ResponseStore

__all__ = ["CONTEXT_WINDOW_MESSAGE", "ResponsesCall", "ResponsesDialect"]

_encode = msgspec.json.encode

# The Responses API's words for a prompt over the context window (param ``input``).
CONTEXT_WINDOW_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


class ResponsesCall(msgspec.Struct, frozen=True, gc=False):
    """What rendering needs besides the completion: the request, and the conversation a
    stored response keeps (the prompt less ``instructions``)."""

    request: ResponsesRequest
    conversation: Conversation


class ResponsesDialect:
    name = "openai_responses"
    serves = "openai"
    chat_path = "/v1/responses"
    request_id_header = "x-request-id"

    def __init__(self, store: ResponseStore | None = None) -> None:
        self.store = ResponseStore() if store is None else store
        self._serial = itertools.count(1)

    # OpenAI's service behind a second route: its key, limit headers, headers on every
    # response and error bodies are chat completions' own.
    api_key = OpenAIDialect.api_key
    check_headers = OpenAIDialect.check_headers
    ratelimit_headers = OpenAIDialect.ratelimit_headers
    stamp = staticmethod(stamp)
    with_request_id = OpenAIDialect.with_request_id
    error = OpenAIDialect.error

    def parse_chat(self, raw: bytes) -> ChatCall:
        req = parse_request(raw)
        conversation = req.items
        if req.previous_response_id is not None:
            earlier = self.store.conversation(req.previous_response_id)
            if earlier is None:
                raise BadRequest(
                    f"Previous response with id '{req.previous_response_id}' not found.",
                    "previous_response_id",
                    "previous_response_not_found",
                )
            conversation = earlier + conversation
        prompt = conversation
        if req.instructions:  # a system message first; never carried to a continuation
            prompt = ({"role": "system", "content": req.instructions}, *conversation)
        return ChatCall(
            req.model,
            count_chat_tokens(prompt),
            req.max_output_tokens,
            req.stream,
            prompt,
            ResponsesCall(req, conversation),
            bool(req.body.get("tools")),
        )

    def cache_prefixes(self, messages: Any) -> Sequence[tuple[int, int]]:
        return cache_prefixes(messages)

    def _ids(self, c: Completion) -> tuple[str, str]:
        """(response id, message id): the request id's digits and a serial never reused."""
        suffix = f"{c.request_id.removeprefix('req_')}{next(self._serial):08x}"
        return "resp_" + suffix, "msg_" + suffix

    def _remember(self, call: ResponsesCall, response_id: str, text: str) -> None:
        if call.request.store:
            answer = {"role": "assistant", "content": text}
            self.store.remember(response_id, (*call.conversation, answer))

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes:
        rc: ResponsesCall = call.options
        response_id, message_id = self._ids(c)
        text = c.text
        status = status_of(c)
        message = output_message(message_id, status, [output_text(text)])
        body = response_body(
            c, rc.request, response_id, created, status, [message], usage(c, c.output_tokens)
        )
        self._remember(rc, response_id, text)
        return _encode(body)

    def stream(self, c: Completion, call: ChatCall, created: int) -> ResponsesStream:
        rc: ResponsesCall = call.options
        response_id, message_id = self._ids(c)

        def remember(text: str) -> None:
            self._remember(rc, response_id, text)

        return ResponsesStream(c, rc.request, created, response_id, message_id, remember)

    def rejection(
        self, r: Rejection, clock: TimeBase, call: ChatCall | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        if r.kind == "context_length":
            body = error_body(
                CONTEXT_WINDOW_MESSAGE, "invalid_request_error", "input", "context_length_exceeded"
            )
            return 400, _encode(body), ratelimit_headers(r.ratelimit, clock)
        status, body, headers = rejection(r, clock, "max_output_tokens")
        return status, _encode(body), headers
