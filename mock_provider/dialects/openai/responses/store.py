"""Stored responses: for ``previous_response_id``, ``GET``/``DELETE /v1/responses/{id}`` and
``GET /v1/responses/{id}/input_items``.

The Responses API keeps every response created with ``store`` left on (the default). A
request naming one with ``previous_response_id`` is read as that response's whole
conversation (its input items, its predecessors' and its output; never its
``instructions``) followed by the new input. That conversation is billed as input tokens and,
being a prefix of the new prompt, can hit the prompt cache. A response made with
``store: false`` is kept nowhere: retrieving it is a 404, continuing it a 400.

What a stored response keeps (:class:`Stored`):

- its conversation as chat messages, the form the dialect counts and caches (see
  :mod:`.parsing`). A chain of continuations shares its message objects: each entry is a new
  tuple of references, not a copy of the texts;
- the ``call_id`` of every ``function_call`` in the chain, input and output, so that a later
  ``function_call_output`` can be matched to its call (:func:`.tools.check_call_outputs`);
- the response object as last sent (``GET /v1/responses/{id}`` answers it) and the request's
  own input items (``input_items`` lists them, ids given as they are listed).

The store is bounded: it keeps the last :data:`STORED_RESPONSES` responses, oldest dropped
first, where the real API keeps them for 30 days. A dropped response is answered as one of
an unknown id is (404, or 400 ``previous_response_not_found``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["STORED_RESPONSES", "Conversation", "ResponseStore", "Stored"]

STORED_RESPONSES = 10_000

Conversation = tuple[Mapping[str, Any], ...]  # chat-shaped messages, oldest first


class Stored(msgspec.Struct, frozen=True, gc=False):
    """One stored response (see the module docstring)."""

    conversation: Conversation
    call_ids: frozenset[str] = frozenset()
    body: Mapping[str, Any] | None = None  # the response object
    input_items: tuple[Any, ...] = ()  # the request's input items, as sent


class ResponseStore:
    """Response id -> :class:`Stored`, for the last ``capacity`` responses stored."""

    def __init__(self, capacity: int = STORED_RESPONSES) -> None:
        self.capacity = capacity
        self._stored: dict[str, Stored] = {}  # insertion order: oldest first

    def remember(self, response_id: str, entry: Stored | Conversation) -> None:
        stored = self._stored
        if len(stored) >= self.capacity:
            del stored[next(iter(stored))]
        stored[response_id] = entry if isinstance(entry, Stored) else Stored(entry)

    def get(self, response_id: str) -> Stored | None:
        return self._stored.get(response_id)

    def conversation(self, response_id: str) -> Conversation | None:
        entry = self._stored.get(response_id)
        return None if entry is None else entry.conversation

    def forget(self, response_id: str) -> bool:
        """Delete a stored response; whether there was one."""
        return self._stored.pop(response_id, None) is not None

    def __len__(self) -> int:
        return len(self._stored)
