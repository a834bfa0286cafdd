"""``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``: the
bodies, worked out from the :class:`~.store.ResponseStore` (the server's handlers are thin).

- **Retrieve** answers the response object as it was last sent (the whole body of a plain
  call, the ``response.completed`` snapshot of a stream).
- **Delete** answers ``{"id", "object": "response", "deleted": true}`` (the API reference's
  "Delete a model response"); the response can no longer be retrieved or continued.
- **Input items** is a list page (openai-python's ``ResponseItemList``: ``object: "list"``,
  ``data``, ``first_id``, ``last_id``, ``has_more``) of the request's own input items, newest
  first unless ``order=asc``, ``limit`` 1-100 (default 20), after the item ``after`` names
  (``InputItemListParams``). A message given as a string is listed with its text as an
  ``input_text`` part (``output_text`` for an assistant's), as the API lists it. Items that
  came without an id are given one as listed (``msg_``, ``fc_`` or ``item_`` and the
  response's digits), the same each time.
- An id the store does not hold (unknown, deleted, dropped, or made with ``store: false``)
  is the API's 404 ``Response with id 'resp_...' not found.`` (type
  ``invalid_request_error``; as quoted on community.openai.com, "Responses API - reconnect to
  a streaming response", and as vLLM's imitation words it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...protocol import BadRequest
from .store import ResponseStore, Stored

__all__ = ["deleted", "input_items_page", "not_found", "retrieved"]

MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 20
_PREFIXES: Final = {"message": "msg_", "function_call": "fc_"}


def not_found(response_id: str) -> BadRequest:
    return BadRequest(
        f"Response with id '{response_id}' not found.", None, None, 404, "invalid_request"
    )


def _stored(store: ResponseStore, response_id: str) -> Stored:
    entry = store.get(response_id)
    if entry is None or entry.body is None:
        raise not_found(response_id)
    return entry


def retrieved(store: ResponseStore, response_id: str) -> Mapping[str, Any]:
    body = _stored(store, response_id).body
    assert body is not None
    return body


def deleted(store: ResponseStore, response_id: str) -> dict[str, Any]:
    if not store.forget(response_id):
        raise not_found(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


def _listed(item: Mapping[str, Any], response_id: str, index: int) -> dict[str, Any]:
    """An input item as the list shows it: with an id and a status, text as parts."""
    kind = item.get("type", "message")
    out = {"type": kind, **item}
    if "id" not in out or out["id"] is None:
        prefix = _PREFIXES.get(kind, "item_")
        out["id"] = f"{prefix}{response_id.removeprefix('resp_')}{index:04x}"
    out.setdefault("status", "completed")
    if kind == "message" and isinstance(out.get("content"), str):
        part = "output_text" if out.get("role") == "assistant" else "input_text"
        text = {"type": part, "text": out["content"]}
        if part == "output_text":
            text["annotations"] = []
        out["content"] = [text]
    return out


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(
            f"Invalid 'limit': expected an integer, but got '{value}' instead.", "limit",
            "invalid_type",
        ) from None  # fmt: skip
    if not 1 <= limit <= MAX_LIMIT:
        side, bound = ("below minimum", ">= 1") if limit < 1 else ("above maximum", "<= 100")
        raise BadRequest(
            f"Invalid 'limit': integer {side} value. Expected a value {bound}, but got "
            f"{limit} instead.",
            "limit",
            f"integer_{'below_min' if limit < 1 else 'above_max'}_value",
        )
    return limit


def input_items_page(
    store: ResponseStore, response_id: str, query: Mapping[str, str]
) -> dict[str, Any]:
    """One page of a stored response's input items (see the module docstring)."""
    entry = _stored(store, response_id)
    limit = _limit(query.get("limit"))
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order",
            "invalid_value",
        )  # fmt: skip
    items = [_listed(item, response_id, i) for i, item in enumerate(entry.input_items)]
    if order == "desc":
        items.reverse()
    after = query.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
        items = items[start:]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
