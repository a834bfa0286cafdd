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

Ids come in blocks of :data:`BLOCK`: one seeded draw of bytes per block, rendered at once
(hex for request ids, an alphanumeric alphabet for keys), so an id costs a list index. A
request id is 32 hex digits (128 bits) and a key 29 characters from 62 (173 bits): two ever
colliding is not a concern.
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["BLOCK", "KEY_LENGTH", "IdStream"]

BLOCK = 256
KEY_LENGTH = 29  # OpenAI's chatcmpl- ids: 29 characters from [A-Za-z0-9]
_KEY_BYTES = 22  # 176 bits: base64 of 22 bytes is 29.3 characters
# base64's two symbols outside [A-Za-z0-9] mapped into it (a slight bias, invisible in an id).
_ALNUM = bytes.maketrans(b"+/", b"xQ")


class IdStream:
    """The ids of one stream of one generation (see the module docstring)."""

    __slots__ = ("_block", "_pairs", "generation", "seed", "stream")

    def __init__(self, seed: int, generation: int, stream: int) -> None:
        self.seed, self.generation, self.stream = seed, generation, stream
        self._block = -1
        self._pairs: list[tuple[str, str]] = []

    def _fill(self, block: int) -> None:
        seed = self.seed & 0xFFFFFFFFFFFFFFFF  # numpy seeds must not be negative
        gen = np.random.default_rng((seed, self.generation, self.stream, block))
        hexes = gen.bytes(16 * BLOCK).hex()
        keys = base64.b64encode(gen.bytes(_KEY_BYTES * BLOCK)).translate(_ALNUM).decode()
        self._pairs = [
            ("req_" + hexes[i * 32 : (i + 1) * 32], keys[i * KEY_LENGTH : (i + 1) * KEY_LENGTH])
            for i in range(BLOCK)
        ]
        self._block = block

    def ids(self, n: int) -> tuple[str, str]:
        """(request id, key) of request ``n``: ``req_`` and 32 hex digits; 29 characters from
        ``[A-Za-z0-9]``, which each dialect prefixes (OpenAI's ``chatcmpl-``)."""
        if n // BLOCK != self._block:
            self._fill(n // BLOCK)
        return self._pairs[n % BLOCK]

    def request_id(self, n: int) -> str:
        return self.ids(n)[0]
