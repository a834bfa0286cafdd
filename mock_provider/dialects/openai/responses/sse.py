"""The Responses API's typed stream: ``event:`` and ``data:`` lines, numbered in order.

Theory of operation
-------------------
A streamed response with one text answer is, in order, each event carrying the next
``sequence_number`` from 0:

1. ``response.created`` and ``response.in_progress``: the response, ``in_progress``, with no
   output and no usage yet;
2. ``response.output_item.added``: the assistant message, ``in_progress``, with no content;
3. ``response.content_part.added``: its ``output_text`` part, empty;
4. one ``response.output_text.delta`` per token;
5. ``response.output_text.done`` (the whole text), ``response.content_part.done`` (the part),
   ``response.output_item.done`` (the message, ``completed`` or ``incomplete``);
6. ``response.completed``, or ``response.incomplete`` when the answer was cut at its token
   limit: the whole response with its output and usage.

There is no ``[DONE]`` line: the stream ends after the last event. The plan executor sends
1-3 with the first token (as the chat stream sends its role chunk), so a client's time to
first token is the plan's.

An answer that calls tools (:class:`CallsStream`) sends, after 1, for each call in turn:
``response.output_item.added`` (the ``function_call`` item, ``in_progress``, with empty
``arguments``), one ``response.function_call_arguments.delta`` per token of its arguments,
``response.function_call_arguments.done`` (the whole arguments) and
``response.output_item.done`` (the item, ``completed``), each with the item's ``item_id`` and
``output_index``; then 6. These are the events and fields of openai-python's
``ResponseOutputItemAddedEvent``, ``ResponseFunctionCallArgumentsDeltaEvent``,
``ResponseFunctionCallArgumentsDoneEvent`` and ``ResponseOutputItemDoneEvent``, in the order
the API reference's streaming guide for function calls shows them.

:func:`event` renders any event; the deltas, one per token, are rendered from per-stream
fragments instead (:meth:`ResponsesStream.token`), byte for byte what :func:`event` gives
(tests hold them equal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ....model.memo import fill
from ....model.outputs import ToolCall
from ....model.provider import Completion
from ..errors import fault_error
from .bodies import (
    IN_PROGRESS,
    call_item_id,
    function_call_item,
    output_message,
    output_text,
    response_body,
    status_of,
    usage,
)
from .parsing import ResponsesRequest

__all__ = ["CallsStream", "ResponsesStream", "event"]

OnClose = Callable[[dict[str, Any]], None]  # given the final response object

_encode = msgspec.json.encode


def event(kind: str, sequence_number: int, fields: dict[str, Any]) -> bytes:
    """One SSE event: its type as the ``event:`` line and as the payload's first field."""
    payload = {"type": kind, "sequence_number": sequence_number, **fields}
    return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"


DELTA = "response.output_text.delta"
_DELTA_HEAD = (
    b"event: " + DELTA.encode() + b'\ndata: {"type":"' + DELTA.encode() + (b'","sequence_number":')
)
_DELTA_TAIL = b',"logprobs":[]}\n\n'
_piece_json: dict[str, bytes] = {}  # a memo (see model.memo)


class ResponsesStream:
    """The events of one streamed response (see the module docstring for their order).

    ``on_close`` is called with the final response object once the stream has closed, for
    the dialect to store the response.
    """

    __slots__ = ("c", "created", "delta_middle", "message_id", "on_close", "req",
                 "response_id", "seq")  # fmt: skip

    def __init__(
        self,
        c: Completion,
        req: ResponsesRequest,
        created: int,
        response_id: str,
        message_id: str,
        on_close: OnClose | None = None,
    ) -> None:
        self.c, self.req, self.created, self.on_close = c, req, created, on_close
        self.response_id, self.message_id = response_id, message_id
        self.seq = 0
        self.delta_middle = (
            b',"item_id":' + _encode(message_id) + b',"output_index":0,"content_index":0,"delta":'
        )

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        seq = self.seq
        self.seq = seq + 1
        return event(kind, seq, fields)

    def _response(self, status: str, output: list[Any], usage_body: Any) -> dict[str, Any]:
        c, req = self.c, self.req
        return response_body(c, req, self.response_id, self.created, status, output, usage_body)

    def _part(self) -> dict[str, Any]:
        return {"item_id": self.message_id, "output_index": 0, "content_index": 0}

    def opening(self) -> bytes:
        snapshot = {"response": self._response(IN_PROGRESS, [], None)}
        return b"".join((
            self._event("response.created", snapshot),
            self._event("response.in_progress", snapshot),
            self._event(
                "response.output_item.added",
                {"output_index": 0, "item": output_message(self.message_id, IN_PROGRESS, [])},
            ),
            self._event("response.content_part.added", {**self._part(), "part": output_text("")}),
        ))  # fmt: skip

    def token(self, piece: str) -> bytes:
        """``event(DELTA, seq, {item_id, output_index, content_index, delta, logprobs})``."""
        seq = self.seq
        self.seq = seq + 1
        try:
            delta = _piece_json[piece]
        except KeyError:
            delta = fill(_piece_json, piece, _encode)
        return b"".join((_DELTA_HEAD, b"%d" % seq, self.delta_middle, delta, _DELTA_TAIL))

    def closing(self, delivered: int) -> bytes:
        c = self.c
        text = "".join(c.pieces[:delivered])
        status = status_of(c)
        part = output_text(text)
        message = output_message(self.message_id, status, [part])
        final = "response.completed" if status == "completed" else "response.incomplete"
        response = self._response(status, [message], usage(c, delivered))
        out = b"".join((
            self._event("response.output_text.done", {**self._part(), "text": text,
                                                       "logprobs": []}),
            self._event("response.content_part.done", {**self._part(), "part": part}),
            self._event("response.output_item.done", {"output_index": 0, "item": message}),
            self._event(final, {"response": response}),
        ))  # fmt: skip
        if self.on_close is not None:
            self.on_close(response)
        return out

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        """The Responses API's ``error`` event: a code and a message, no nested object."""
        err = fault_error(status, error_type, message)["error"]
        return self._event(
            "error", {"code": err["code"] or err["type"], "message": err["message"], "param": None}
        )


class CallsStream:
    """The events of a streamed response whose answer calls tools (see the module
    docstring): the calls one after another, each token of the plan one argument piece.

    The plan executor calls :meth:`token` once per step; the step, not the piece passed
    (the same piece), says which call and which of its tokens comes next.
    """

    __slots__ = ("c", "calls", "created", "done", "on_close", "req", "response_id", "seq",
                 "step", "suffix")  # fmt: skip

    def __init__(
        self,
        c: Completion,
        req: ResponsesRequest,
        created: int,
        response_id: str,
        suffix: str,
        on_close: OnClose | None = None,
    ) -> None:
        assert c.choices is not None
        self.c, self.req, self.created, self.on_close = c, req, created, on_close
        self.response_id, self.suffix = response_id, suffix
        self.calls: tuple[ToolCall, ...] = c.choices[0].calls
        self.seq = 0
        self.step = 0
        self.done = 0  # calls finished (their done events sent)

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        seq = self.seq
        self.seq = seq + 1
        return event(kind, seq, fields)

    def _item(self, index: int, status: str, arguments: str) -> dict[str, Any]:
        call = self.calls[index]
        return function_call_item(call_item_id(self.suffix, index), call, status, arguments)

    def _added(self, index: int) -> bytes:
        item = self._item(index, IN_PROGRESS, "")
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _finish(self, index: int, status: str) -> bytes:
        """The done events of call ``index``."""
        self.done = index + 1
        item = self._item(index, status, self.calls[index].text)
        ids = {"item_id": item["id"], "output_index": index}
        return b"".join((
            self._event("response.function_call_arguments.done",
                        {**ids, "arguments": item["arguments"]}),
            self._event("response.output_item.done", {"output_index": index, "item": item}),
        ))  # fmt: skip

    def opening(self) -> bytes:
        snapshot = {"response": self._response(IN_PROGRESS, [], None)}
        return b"".join((
            self._event("response.created", snapshot),
            self._event("response.in_progress", snapshot),
            self._added(0),
        ))  # fmt: skip

    def _response(self, status: str, output: list[Any], usage_body: Any) -> dict[str, Any]:
        c, req = self.c, self.req
        return response_body(c, req, self.response_id, self.created, status, output, usage_body)

    def token(self, piece: str) -> bytes:
        k = self.step
        self.step = k + 1
        index, offset = 0, k
        while offset >= len(self.calls[index].arguments):
            offset -= len(self.calls[index].arguments)
            index += 1
        call = self.calls[index]
        out = []
        if offset == 0 and index > 0:  # the first piece of a later call: its item first
            out.append(self._added(index))
        out.append(self._event("response.function_call_arguments.delta", {
            "item_id": call_item_id(self.suffix, index), "output_index": index,
            "delta": call.arguments[offset],
        }))  # fmt: skip
        if offset + 1 == len(call.arguments):
            out.append(self._finish(index, status_of(self.c)))
        return b"".join(out)

    def closing(self, delivered: int) -> bytes:
        c = self.c
        status = status_of(c)
        out = [self._finish(i, status) for i in range(self.done, len(self.calls))]
        output = [self._item(i, status, call.text) for i, call in enumerate(self.calls)]
        final = "response.completed" if status == "completed" else "response.incomplete"
        response = self._response(status, output, usage(c, c.tokens_after(delivered)))
        out.append(self._event(final, {"response": response}))
        if self.on_close is not None:
            self.on_close(response)
        return b"".join(out)

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        err = fault_error(status, error_type, message)["error"]
        return self._event(
            "error", {"code": err["code"] or err["type"], "message": err["message"], "param": None}
        )
