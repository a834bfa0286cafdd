"""OpenAI's Responses API as a :class:`~mock_provider.dialects.protocol.Dialect`.

It is OpenAI's service behind a second route, so everything but the request and response
shapes is chat completions': the bearer key, the ``x-ratelimit-*`` headers, the error bodies
and 429 wording (:mod:`..errors`, :mod:`..headers`), the token counting and cache prefixes
(:mod:`..tokens`), and, through the brain, the same per-(key, model) limits: a call here and
a chat completion draw on one bucket.

Its own state is the :class:`~.store.ResponseStore` of responses a ``previous_response_id``
may continue and ``GET /v1/responses/{id}`` retrieves (:mod:`.stored`). It lives in the
dialect, so in the process: a response stored before a ``/_stampede/reset`` can still be
continued after it (the real API keeps responses for 30 days, whatever a client's rate
limits do). Response ids carry a serial number that is never reused in the process, so two
mocks in one process, or one mock across resets, never give two responses one id.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import msgspec

from ....clock import TimeBase
from ....model.provider import Completion, Rejection
from ...protocol import BadRequest, ChatCall, StreamWriter
from ..dialect import OpenAIDialect
from ..errors import error_body, rejection
from ..headers import ratelimit_headers, stamp
from ..tokens import cache_prefixes, count_chat_tokens
from .bodies import output_items, output_message, output_text, response_body, status_of, usage
from .parsing import ResponsesRequest, parse_request
from .sse import CallsStream, ResponsesStream
from .store import Conversation, ResponseStore, Stored
from .tools import check_call_outputs, read_output

__all__ = ["CONTEXT_WINDOW_MESSAGE", "ResponsesCall", "ResponsesDialect"]

_encode = msgspec.json.encode

# The Responses API's words for a prompt over the context window (param ``input``).
CONTEXT_WINDOW_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


class ResponsesCall(msgspec.Struct, frozen=True, gc=False):
    """What rendering needs besides the completion: the request, the conversation a stored
    response keeps (the prompt less ``instructions``) and the call ids known in it."""

    request: ResponsesRequest
    conversation: Conversation
    call_ids: frozenset[str] = frozenset()


class ResponsesDialect:
    name = "openai_responses"
    serves = "openai"
    chat_path = "/v1/responses"
    request_id_header = "x-request-id"
    # A ``malformed`` fault's last line: an unterminated JSON event, named as Responses' are.
    broken_line = b'event: response.output_text.delta\ndata: {"type":"response.out\n\n'

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
        known: frozenset[str] = frozenset()
        if req.previous_response_id is not None:
            earlier = self.store.get(req.previous_response_id)
            if earlier is None:
                raise BadRequest(
                    f"Previous response with id '{req.previous_response_id}' not found.",
                    "previous_response_id",
                    "previous_response_not_found",
                )
            conversation = earlier.conversation + conversation
            known = earlier.call_ids
        raw_input = req.body.get("input")
        if isinstance(raw_input, list):
            known = check_call_outputs(raw_input, known)
        prompt = conversation
        if req.instructions:  # a system message first; never carried to a continuation
            prompt = ({"role": "system", "content": req.instructions}, *conversation)
        return ChatCall(
            req.model,
            count_chat_tokens(prompt),
            req.max_output_tokens,
            req.stream,
            prompt,
            ResponsesCall(req, conversation, known),
            bool(req.body.get("tools")),
            read_output(req.body),
        )

    def cache_prefixes(self, messages: Any) -> Sequence[tuple[int, int]]:
        return cache_prefixes(messages)

    def _ids(self, c: Completion) -> tuple[str, str]:
        """(response id, the suffix of its items' ids): the request id's digits and a serial
        never reused."""
        suffix = f"{c.request_id.removeprefix('req_')}{next(self._serial):08x}"
        return "resp_" + suffix, suffix

    def _remember(self, call: ResponsesCall, response_id: str, body: dict[str, Any]) -> None:
        """Store a response (unless ``store: false``): its conversation with its output read
        as input (:mod:`.parsing`), the call ids known after it, the body, the input items."""
        req = call.request
        if not req.store:
            return
        answer = []
        call_ids = set(call.call_ids)
        for item in body["output"]:
            if item["type"] == "function_call":
                answer.append({"role": "assistant", "content": item["name"] + item["arguments"]})
                call_ids.add(item["call_id"])
            else:
                text = "".join(part["text"] for part in item["content"])
                answer.append({"role": "assistant", "content": text})
        raw_input = req.body.get("input")
        items = (
            tuple(raw_input)
            if isinstance(raw_input, list)
            else ({"type": "message", "role": "user", "content": raw_input},)
        )
        entry = Stored((*call.conversation, *answer), frozenset(call_ids), body, items)
        self.store.remember(response_id, entry)

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes:
        rc: ResponsesCall = call.options
        response_id, suffix = self._ids(c)
        status = status_of(c)
        if c.choices is None:
            output = [output_message("msg_" + suffix, status, [output_text(c.text)])]
        else:
            output = output_items(c, suffix)
        body = response_body(
            c, rc.request, response_id, created, status, output, usage(c, c.output_tokens)
        )
        self._remember(rc, response_id, body)
        return _encode(body)

    def stream(self, c: Completion, call: ChatCall, created: int) -> StreamWriter:
        rc: ResponsesCall = call.options
        response_id, suffix = self._ids(c)

        def remember(body: dict[str, Any]) -> None:
            self._remember(rc, response_id, body)

        if c.choices is not None and c.choices[0].tool_call is not None:
            return CallsStream(c, rc.request, created, response_id, suffix, remember)
        return ResponsesStream(c, rc.request, created, response_id, "msg_" + suffix, remember)

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
