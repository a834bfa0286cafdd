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

:func:`event` renders any event; the deltas, one per token, are rendered from per-stream
fragments instead (:meth:`ResponsesStream.token`), byte for byte what :func:`event` gives
(tests hold them equal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ....model.memo import fill
from ....model.provider import Completion
from ..errors import fault_error
from .bodies import IN_PROGRESS, output_message, output_text, response_body, status_of, usage
from .parsing import ResponsesRequest

__all__ = ["ResponsesStream", "event"]

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

    ``on_close`` is called with the text delivered once the stream has closed, for the
    dialect to store the response.
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
        on_close: Callable[[str], None] | None = None,
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
        out = b"".join((
            self._event("response.output_text.done", {**self._part(), "text": text,
                                                       "logprobs": []}),
            self._event("response.content_part.done", {**self._part(), "part": part}),
            self._event("response.output_item.done", {"output_index": 0, "item": message}),
            self._event(final, {"response": self._response(status, [message],
                                                            usage(c, delivered))}),
        ))  # fmt: skip
        if self.on_close is not None:
            self.on_close(text)
        return out

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        """The Responses API's ``error`` event: a code and a message, no nested object."""
        err = fault_error(status, error_type, message)["error"]
        return self._event(
            "error", {"code": err["code"] or err["type"], "message": err["message"], "param": None}
        )
