"""The OpenAI wire format: parse requests, render bodies, headers, SSE chunks and errors.

Shapes follow the public API reference so the official ``openai`` SDK cannot tell the mock
from the service: ``{"error": {"message", "type", "param", "code"}}`` errors, Go-style
``x-ratelimit-reset-*`` durations, ``retry-after`` plus ``retry-after-ms`` on a 429, and
``data:`` SSE lines ending in ``data: [DONE]``; choices, tool calls, structured content and
log probabilities as the API renders them. All durations handed in are scenario seconds;
the clock handed in with them (``clock.wall``) turns them into the wall-clock values a
client must see.

One module per idea: :mod:`.parsing` (request bodies and their refusals), :mod:`.params`
(the options' range checks, and the brain's output spec), :mod:`.schemas` (strict mode's
schema rules), :mod:`.tokens`
(what a request is billed, its cache prefixes), :mod:`.errors`, :mod:`.headers`,
:mod:`.bodies`, :mod:`.sse`, :mod:`.dialect` (the server's view of all of them: ``DIALECT``)
and :mod:`.client` (the client side, reading what the others write). Callers use this
package's names.
"""

from __future__ import annotations

from ..protocol import BadRequest
from .bodies import (
    FINISH_REASONS,
    chat_body,
    chat_body_bytes,
    embedding_body,
    model_body,
    models_body,
    usage,
)
from .dialect import OpenAIDialect, bearer_key
from .errors import error_body, rejection
from .headers import ratelimit_headers, stamp
from .parsing import ChatBody, EmbeddingsBody, embedding_inputs, parse_chat, parse_embeddings
from .sse import DONE, chunk, chunk_head, content_chunk
from .tokens import cache_prefixes, count_chat_tokens

DIALECT = OpenAIDialect()

__all__ = [
    "DIALECT",
    "DONE",
    "FINISH_REASONS",
    "BadRequest",
    "ChatBody",
    "EmbeddingsBody",
    "bearer_key",
    "cache_prefixes",
    "chat_body",
    "chat_body_bytes",
    "chunk",
    "chunk_head",
    "content_chunk",
    "count_chat_tokens",
    "embedding_body",
    "embedding_inputs",
    "error_body",
    "model_body",
    "models_body",
    "parse_chat",
    "parse_embeddings",
    "ratelimit_headers",
    "rejection",
    "stamp",
    "usage",
]
