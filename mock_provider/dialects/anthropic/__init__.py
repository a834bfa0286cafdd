"""Anthropic's Messages API wire format.

So far the client side only (:mod:`.client`, :mod:`.headers`): what the live driver sends
to a Claude model and reads back. The mock's own rendering of the format joins it here.
"""

from __future__ import annotations

from . import client

__all__ = ["client"]
