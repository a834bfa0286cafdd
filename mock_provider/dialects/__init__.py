"""Wire formats, one package each, all keeping :class:`~.protocol.Dialect`.

``DIALECTS`` maps a dialect's name (a model's ``dialect`` in the catalogue) to it.
"""

from __future__ import annotations

from . import anthropic, openai
from .protocol import BadRequest, ChatCall, Dialect, StreamWriter

__all__ = ["DIALECTS", "BadRequest", "ChatCall", "Dialect", "StreamWriter"]

DIALECTS: dict[str, Dialect] = {d.name: d for d in (openai.DIALECT, anthropic.DIALECT)}
