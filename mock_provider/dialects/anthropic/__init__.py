"""Anthropic's Messages API wire format: parse requests, render messages, headers, SSE
events and errors, and read them back on the client side.

Shapes follow the API reference and the installed ``anthropic`` SDK's types, so the SDK
cannot tell the mock from the service: ``{"type":"error","error":{"type","message"},
"request_id"}`` errors, ``anthropic-ratelimit-*`` headers with RFC 3339 resets, named SSE
events from ``message_start`` to ``message_stop``. All durations handed in are scenario
seconds; the clock handed in with them (``clock.wall``) turns them into the wall-clock
values a client must see.

One module per idea: :mod:`.parsing` (request validation and its refusals), :mod:`.options`
(the rules across fields, and the options the brain reads: tools, ``tool_choice``, stop
sequences, structured output), :mod:`.conversation` (tool turns pair up), :mod:`.tokens`
(the approximate count and the cache blocks), :mod:`.errors`, :mod:`.headers`,
:mod:`.bodies`, :mod:`.sse`, :mod:`.dialect` (the server's view of all of them:
``DIALECT``) and :mod:`.client` (the client side, reading what the others write).
"""

from __future__ import annotations

from . import client
from .bodies import message_body, model_info, models_page, usage
from .dialect import AnthropicDialect, api_key, read_rules
from .errors import error_body, with_request_id
from .headers import VERSION, ratelimit_headers
from .parsing import COUNT_TOKENS_FIELDS, decode, validate
from .sse import AnthropicStream
from .tokens import count_request

DIALECT = AnthropicDialect()

__all__ = [
    "COUNT_TOKENS_FIELDS",
    "DIALECT",
    "VERSION",
    "AnthropicStream",
    "api_key",
    "client",
    "count_request",
    "decode",
    "error_body",
    "message_body",
    "model_info",
    "models_page",
    "ratelimit_headers",
    "read_rules",
    "usage",
    "validate",
    "with_request_id",
]
