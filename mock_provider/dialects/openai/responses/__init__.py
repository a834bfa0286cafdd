"""OpenAI's Responses API (``POST /v1/responses``): a second OpenAI dialect.

It shares chat completions' key, headers, errors, counting and limits (see
:mod:`.dialect`), and has its own request reading (:mod:`.parsing`), response object
(:mod:`.bodies`), typed stream events (:mod:`.sse`) and store of responses for
``previous_response_id`` (:mod:`.store`). ``DIALECT`` is the server's instance.
"""

from __future__ import annotations

from .dialect import ResponsesCall, ResponsesDialect
from .parsing import ResponsesRequest, parse_request
from .sse import ResponsesStream
from .store import ResponseStore

DIALECT = ResponsesDialect()

__all__ = [
    "DIALECT",
    "ResponseStore",
    "ResponsesCall",
    "ResponsesDialect",
    "ResponsesRequest",
    "ResponsesStream",
    "parse_request",
]
