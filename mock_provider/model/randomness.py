"""Each request's own random stream: seeded by (seed, request number), cheap to start.

Why counter-based: the brain draws for most requests (a latency, an output length, a fault,
a 429's round trip), and seeding a numpy generator costs 20-40 microseconds, more than the
rest of deciding a request; a virtual run decides hundreds of thousands. A SplitMix64 stream
(Steele, Lea and Flood, OOPSLA 2014) needs only two integers: its i-th value is the SplitMix64
mix of ``base + i * GOLDEN``, where ``base`` mixes the seed and the request number. So
starting a stream is free, a draw costs a microsecond, an array of draws is one numpy
expression, and the stream depends only on (seed, request number), never on what else ran.

The reference is :func:`splitmix64` on Python integers; :meth:`RequestRandom.lognormal`
computes the same values with numpy's wrapping uint64 arithmetic (a test holds them equal).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GOLDEN", "RequestRandom", "splitmix64"]

GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / the golden ratio, SplitMix64's increment
_MASK = (1 << 64) - 1
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_TO_UNIT = 2.0**-53  # 53 random bits -> [0, 1)
_TWO_PI = 2.0 * math.pi


def splitmix64(x: int) -> int:
    """The SplitMix64 output function of state ``x`` (the reference for every draw)."""
    z = x & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


class RequestRandom:
    """The random draws of one request: uniform, integer, normal and lognormal."""

    __slots__ = ("_base", "_i", "seed", "seq")

    def __init__(self, seed: int, seq: int) -> None:
        self.seed = seed
        self.seq = seq
        self._base = splitmix64(splitmix64(seed * GOLDEN) + seq)
        self._i = 0

    def _next(self) -> int:
        self._i += 1
        return splitmix64(self._base + self._i * GOLDEN)

    def random(self) -> float:
        """Uniform on [0, 1)."""
        return (self._next() >> 11) * _TO_UNIT

    def uniform(self, a: float, b: float) -> float:
        """Uniform on [a, b) (``random.Random.uniform``'s arguments, for the client's waits)."""
        return a + (b - a) * self.random()

    def integers(self, n: int) -> int:
        """Uniform on 0..n-1."""
        return min(n - 1, int(self.random() * n))

    def standard_normal(self) -> float:
        """Box-Muller from two uniforms (the first kept off 0 for the logarithm)."""
        u1 = 1.0 - self.random()
        u2 = self.random()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)

    def lognormal(self, mean: float, sigma: float, size: int) -> np.ndarray:
        """``size`` lognormal draws: ``exp(mean + sigma * N(0, 1))``, as one numpy expression.

        The same values as ``size`` calls of ``exp(mean + sigma * standard_normal())``.
        """
        i = self._i + 1 + np.arange(2 * size, dtype=np.uint64)
        self._i += 2 * size
        with np.errstate(over="ignore"):
            z = np.uint64(self._base) + i * np.uint64(GOLDEN)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
            z = z ^ (z >> np.uint64(31))
        u = (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT
        u1, u2 = 1.0 - u[0::2], u[1::2]
        normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
        return np.exp(mean + sigma * normal)
