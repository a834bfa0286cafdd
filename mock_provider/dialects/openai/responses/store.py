"""Stored responses, for a later request's ``previous_response_id`` to continue.

The Responses API keeps every response created with ``store`` left on (the default), and a
request naming one with ``previous_response_id`` is read as that response's whole
conversation (its input items, its predecessors' and its output; never its
``instructions``) followed by the new input. That conversation is billed as input tokens and,
being a prefix of the new prompt, can hit the prompt cache.

What a stored response keeps is its conversation as chat messages, the form the dialect
counts and caches (see :mod:`.parsing`). A chain of continuations shares its message objects:
each entry is a new tuple of references, not a copy of the texts.

The store is bounded: it keeps the last :data:`STORED_RESPONSES` responses, oldest dropped
first, where the real API keeps them for 30 days. A continuation of a dropped response is
refused as one of an unknown id is (400 ``previous_response_not_found``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["STORED_RESPONSES", "Conversation", "ResponseStore"]

STORED_RESPONSES = 10_000

Conversation = tuple[Mapping[str, Any], ...]  # chat-shaped messages, oldest first


class ResponseStore:
    """Response id -> its conversation, for the last ``capacity`` responses stored."""

    def __init__(self, capacity: int = STORED_RESPONSES) -> None:
        self.capacity = capacity
        self._conversations: dict[str, Conversation] = {}  # insertion order: oldest first

    def remember(self, response_id: str, conversation: Conversation) -> None:
        conversations = self._conversations
        if len(conversations) >= self.capacity:
            del conversations[next(iter(conversations))]
        conversations[response_id] = conversation

    def conversation(self, response_id: str) -> Conversation | None:
        return self._conversations.get(response_id)

    def __len__(self) -> int:
        return len(self._conversations)
