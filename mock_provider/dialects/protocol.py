"""The seam between the mock's HTTP face and a wire format: one protocol every dialect keeps.

Theory of operation
-------------------
The server has one generic handler per route; a route belongs to a dialect. For a chat
request the handler

1. takes the API key the dialect's way (:meth:`Dialect.api_key`: a bearer token, an
   ``x-api-key``), and has the dialect check the other headers it requires
   (:meth:`Dialect.check_headers`);
2. has the dialect read the body into a :class:`ChatCall`: the neutral fields the brain
   needs (model, prompt tokens counted by the dialect's rules, max_tokens, stream) plus the
   dialect's own messages and options, which only the dialect reads again. A body the API
   would refuse raises :class:`BadRequest`;
3. asks the brain (``Provider.chat``), which answers in its own vocabulary
   (:mod:`mock_provider.model.vocabulary`): a ``Completion`` or a ``Rejection``;
4. has the dialect render the answer: a whole body (:meth:`Dialect.completion`), a
   :class:`StreamWriter` whose events the plan executor sends when the timing plan says, or
   an error (:meth:`Dialect.rejection`, :meth:`Dialect.error`), each with the dialect's
   rate-limit headers (:meth:`Dialect.ratelimit_headers`) and the headers every response of
   the dialect carries, its request id first (:meth:`Dialect.stamp`).

Times handed to a dialect are scenario seconds, with the clock that serves them
(:class:`~mock_provider.clock.TimeBase`): what a client must see is wall time, and the dialect
writes it (``retry-after``, reset times) through ``clock.wall``.

The client side reads responses through the same package (``<dialect>/client.py``), so a
header name or a body field is written once, next to the code that renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec

from ..clock import TimeBase
from ..model.limits import RateLimitView
from ..model.outputs import OutputSpec
from ..model.provider import Completion, Rejection
from ..model.vocabulary import RejectionKind

__all__ = ["BadRequest", "ChatCall", "Dialect", "StreamWriter"]


class BadRequest(Exception):
    """A request the API refuses before any model work: a 4xx with the dialect's wording.

    ``param`` and ``code`` are what the provider names in its error body, when it does.
    """

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: RejectionKind = "invalid_request",
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = (
            message, param, code, status, kind
        )  # fmt: skip


class ChatCall(msgspec.Struct, frozen=True, gc=False):
    """A parsed chat request: what the brain needs, and what only the dialect reads again."""

    model: str
    input_tokens: int  # counted by the dialect's rules
    max_tokens: int | None  # None: the request set none
    stream: bool
    messages: Any  # the dialect's own, for its cache prefixes
    options: Any = None  # the dialect's own rendering options (usage in the stream, ...)
    tools: bool = False  # the request offers tools (fault rules may select by it)
    output: OutputSpec | None = None  # the brain's: choices, tools, structured content...


class StreamWriter(Protocol):
    """The events of one streamed response, rendered; the plan executor decides when."""

    def opening(self) -> bytes:
        """Everything before the first token (a role chunk; message_start, ...)."""
        ...

    def token(self, piece: str) -> bytes:
        """One token of the answer."""
        ...

    def closing(self, delivered: int) -> bytes:
        """The end of a stream that delivered ``delivered`` tokens: finish, usage, done."""
        ...

    def error(self, status: int, error_type: str | None, message: str | None) -> bytes:
        """An error event in the middle of the stream (a ``stream_error`` fault), in the
        dialect's own form; the type follows ``status`` unless ``error_type`` names one."""
        ...


class Dialect(Protocol):
    """One wire format (see the module docstring for how the server uses it)."""

    name: str  # "openai" | "openai_responses" | "anthropic"
    serves: str  # the catalogue dialect of the models it answers ("openai" | "anthropic")
    chat_path: str
    request_id_header: str  # the header every response carries its request id in (stamp)
    broken_line: bytes  # the SSE line a ``malformed`` fault ends a stream with: no client parses it

    def api_key(self, headers: Mapping[str, str]) -> str | None: ...

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse (:class:`BadRequest`) headers the API refuses before it reads the body
        (Anthropic's ``anthropic-version``); a dialect that checks none does nothing."""
        ...

    def parse_chat(self, raw: bytes) -> ChatCall: ...

    def cache_prefixes(self, messages: Any) -> Sequence[Any]:
        """The cacheable prefixes the brain's cache reads (``mock_provider.model.cache``)."""
        ...

    def completion(self, c: Completion, call: ChatCall, created: int) -> bytes: ...

    def stream(self, c: Completion, call: ChatCall, created: int) -> StreamWriter: ...

    def ratelimit_headers(self, view: RateLimitView | None, clock: TimeBase) -> dict[str, str]: ...

    def stamp(
        self, headers: dict[str, str], request_id: str, processing_s: float, clock: TimeBase
    ) -> None:
        """Write the headers every response carries: the request id (in
        ``request_id_header``) and any the provider always sends; ``processing_s`` is the
        scenario time the provider spent on the response."""
        ...

    def rejection(
        self, r: Rejection, clock: TimeBase, call: ChatCall | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) for a refusal of the brain's; ``call`` is the request when
        it was parsed (its options may word the refusal)."""
        ...

    def error(
        self,
        status: int,
        kind: RejectionKind,
        message: str,
        param: str | None = None,
        code: str | None = None,
    ) -> bytes:
        """An error body for a refusal made outside the brain (a bad body, a wrong path)."""
        ...

    def with_request_id(self, body: bytes, request_id: str) -> bytes:
        """An error body carrying its response's request id, where the format has one
        (Anthropic's ``request_id``; OpenAI's bodies have none)."""
        ...
