"""Random-looking response and request ids, reproducible for a seed and unique across resets.

Theory of operation
-------------------
A real provider's ids look random (``req_f230ff10e7374c7a8b2fc292a3cc0685``,
``chatcmpl-9OY4XFK8suJ7ed0yw5vglbTsOZUt1``), and a client that stores them (a trace, a cache
key, a dedup table) must never see one twice. The mock's ids are a pure function of
``(seed, generation, stream, n)``:

- ``seed`` is the provider's seed: the same scenario gives the same ids;
- ``generation`` counts the provider's resets: each strategy of a run starts from a reset
  and gets ids no earlier strategy had, while its numbered requests (and so every random
  draw) restart from 0;
- ``stream`` keeps unrelated id sequences apart (numbered requests, refusals made before
  numbering);
- ``n`` is the request's number within the generation.

Ids come in blocks of :data:`BLOCK`: one seeded draw of bytes per block, cut into ids by a
few C-level string operations (hex with a separator, base64 cut by a regular expression),
so an id costs two list indexes: every chat request takes one, and slicing and joining
strings per request cost more than the rest of its id. A request id is 32 hex digits (128
bits) and a key 29 characters from 62 (173 bits): two ever colliding is not a concern.
"""

from __future__ import annotations

import base64
import re

import numpy as np

__all__ = ["BLOCK", "KEY_LENGTH", "SHIFT", "IdStream"]

SHIFT = 10
BLOCK = 1 << SHIFT  # ids per block: request n is in block n >> SHIFT, at n & (BLOCK - 1)
KEY_LENGTH = 29  # OpenAI's chatcmpl- ids: 29 characters from [A-Za-z0-9]
_KEYS = re.compile(f".{{{KEY_LENGTH}}}", re.S)
_KEY_BYTES = 22  # 176 bits: base64 of 22 bytes is 29.3 characters
# base64's two symbols outside [A-Za-z0-9] mapped into it (a slight bias, invisible in an id).
_ALNUM = bytes.maketrans(b"+/", b"xQ")


class IdStream:
    """The ids of one stream of one generation (see the module docstring).

    :meth:`ids` is the reference; a hot path may read a block directly: request ``n``'s ids
    are ``request_ids[n & (BLOCK - 1)]`` and ``keys[...]`` once ``block == n >> SHIFT``
    (after :meth:`fill` if not).
    """

    __slots__ = ("block", "generation", "keys", "request_ids", "seed", "stream")

    def __init__(self, seed: int, generation: int, stream: int) -> None:
        self.seed, self.generation, self.stream = seed, generation, stream
        self.block = -1
        self.request_ids: list[str] = []
        self.keys: list[str] = []

    def fill(self, block: int) -> None:
        """Make block ``block``'s ids current."""
        seed = self.seed & 0xFFFFFFFFFFFFFFFF  # numpy seeds must not be negative
        gen = np.random.default_rng((seed, self.generation, self.stream, block))
        hexes = gen.bytes(16 * BLOCK).hex("|", 16)  # 32 digits, |, 32 digits, ...
        self.request_ids = ("|" + hexes).replace("|", "|req_").split("|")[1:]
        text = base64.b64encode(gen.bytes(_KEY_BYTES * BLOCK)).translate(_ALNUM).decode()
        self.keys = _KEYS.findall(text, 0, KEY_LENGTH * BLOCK)
        self.block = block

    def ids(self, n: int) -> tuple[str, str]:
        """(request id, key) of request ``n``: ``req_`` and 32 hex digits; 29 characters from
        ``[A-Za-z0-9]``, which each dialect prefixes (OpenAI's ``chatcmpl-``)."""
        if n >> SHIFT != self.block:
            self.fill(n >> SHIFT)
        i = n & (BLOCK - 1)
        return self.request_ids[i], self.keys[i]

    def request_id(self, n: int) -> str:
        return self.ids(n)[0]
