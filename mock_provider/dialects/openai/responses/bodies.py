"""The Responses API's ``response`` object: the whole body of a plain call, and the snapshot
every lifecycle event of a stream carries.

The output is one assistant ``message`` item with one ``output_text`` part, or, when the
model calls tools, one ``function_call`` item per call (:func:`function_call_item`). A response cut
at ``max_output_tokens`` (or at the model's own output cap) is ``incomplete``, with
``incomplete_details.reason`` ``max_output_tokens``, and so is its message. The request's
settings are echoed back with the API's defaults for those it left out (``temperature`` 1,
``text.format`` ``text``, ``tool_choice`` ``auto``, ...), as the API does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ....model.outputs import ToolCall
from ....model.provider import Completion
from ....model.vocabulary import MAX_TOKENS
from ..bodies import call_id
from .parsing import ResponsesRequest

__all__ = [
    "COMPLETED",
    "INCOMPLETE",
    "IN_PROGRESS",
    "call_item_id",
    "function_call_item",
    "output_items",
    "output_message",
    "output_text",
    "response_body",
    "status_of",
    "usage",
]

COMPLETED: Final = "completed"
INCOMPLETE: Final = "incomplete"
IN_PROGRESS: Final = "in_progress"


def status_of(c: Completion) -> str:
    """``incomplete`` for an answer cut at its token limit, else ``completed``."""
    return INCOMPLETE if c.finish_reason == MAX_TOKENS else COMPLETED


def usage(c: Completion, output_tokens: int) -> dict[str, Any]:
    """``cache_write_tokens`` is 0: the mock's cache is OpenAI's automatic one, which bills no
    writes (the field is required by the SDK's type, openai-python 3.57)."""
    return {
        "input_tokens": c.input_tokens,
        "input_tokens_details": {"cached_tokens": c.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": c.input_tokens + output_tokens,
    }


def output_text(text: str) -> dict[str, Any]:
    """The ``output_text`` content part of a message."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def output_message(message_id: str, status: str, content: list[Any]) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    }


def call_item_id(suffix: str, index: int) -> str:
    """The ``fc_`` id of a response's ``index``-th function call item."""
    return f"fc_{suffix}{index:02x}"


def function_call_item(item_id: str, call: ToolCall, status: str, arguments: str) -> dict[str, Any]:
    """A ``function_call`` output item (openai-python's ``ResponseFunctionToolCall``): the
    ``fc_`` item id, the ``call_`` id a ``function_call_output`` answers, the arguments JSON."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id(call.key),
        "name": call.name,
    }


def output_items(c: Completion, suffix: str) -> list[dict[str, Any]]:
    """The output of a completion with choices: its message, or its function calls."""
    assert c.choices is not None
    choice = c.choices[0]
    status = status_of(c)
    if choice.tool_call is None:
        return [output_message("msg_" + suffix, status, [output_text(choice.text)])]
    return [
        function_call_item(call_item_id(suffix, i), call, status, call.text)
        for i, call in enumerate(choice.calls)
    ]


def _echo(body: Mapping[str, Any], name: str, default: Any) -> Any:
    value = body.get(name)
    return default if value is None else value


def response_body(
    c: Completion,
    req: ResponsesRequest,
    response_id: str,
    created: int,
    status: str,
    output: list[Any],
    usage_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The response object in state ``status`` (``in_progress`` while a stream runs)."""
    body = req.body
    text = body.get("text") or {}
    reasoning = body.get("reasoning") or {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "completed_at": created if status == COMPLETED else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == INCOMPLETE else None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "max_tool_calls": body.get("max_tool_calls"),
        "model": c.model.name,
        "output": output,
        "parallel_tool_calls": _echo(body, "parallel_tool_calls", True),
        "previous_response_id": req.previous_response_id,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": req.store,
        "temperature": _echo(body, "temperature", 1.0),
        "text": {
            "format": text.get("format") or {"type": "text"},
            "verbosity": text.get("verbosity") or "medium",
        },
        "tool_choice": _echo(body, "tool_choice", "auto"),
        "tools": _echo(body, "tools", []),
        "top_logprobs": _echo(body, "top_logprobs", 0),
        "top_p": _echo(body, "top_p", 1.0),
        "truncation": _echo(body, "truncation", "disabled"),
        "usage": usage_body,
        "user": body.get("user"),
        "metadata": _echo(body, "metadata", {}),
    }
