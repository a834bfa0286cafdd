"""Wire formats, one package each, all keeping :class:`~.protocol.Dialect`.

``DIALECTS`` maps a dialect's name (a model's ``dialect`` in the catalogue) to it. OpenAI's
Responses API is a second dialect of OpenAI's (``openai_responses``, its own route).
"""

from __future__ import annotations

from . import anthropic, openai
from .openai import responses as openai_responses
from .protocol import BadRequest, ChatCall, Dialect, StreamWriter

__all__ = ["DIALECTS", "BadRequest", "ChatCall", "Dialect", "StreamWriter"]

_ALL: tuple[Dialect, ...] = (openai.DIALECT, openai_responses.DIALECT, anthropic.DIALECT)
DIALECTS: dict[str, Dialect] = {d.name: d for d in _ALL}
