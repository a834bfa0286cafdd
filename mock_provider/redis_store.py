"""Rate limits and fault counts in Redis, so that several mock processes (or hosts) enforce one.

Theory of operation
-------------------
``stampede serve --limiter redis://HOST:PORT[/DB]`` gives the brain a :class:`RedisStore` as
its :class:`~mock_provider.model.limits.LimitStore` and fault
:class:`~mock_provider.model.faults.StrikeCounter`. The brain stays free of I/O: it calls the
limits objects the store made, as it calls the in-process ones.

- **One script per decision.** Admission is one Lua script (``EVALSHA``, through redis-py's
  ``Script``) that refills the pair's buckets to ``now``, decides, takes and stores, atomically;
  settling is another. The scripts are :class:`~mock_provider.model.limits.TokenBucket`'s rule
  written in Lua, operation by operation in the same order, on the same IEEE doubles (floats
  cross as 17 significant digits, which round-trip exactly), so a decision and its
  Retry-After are the in-process one's to the bit (``tests/test_shared_limits.py`` drives
  both with the same random sequences).
- **The view is computed here.** The admission script returns the levels it decided on, after
  refilling and before taking; the process replays the in-process rule on them
  (:class:`SharedLimitState` and :class:`SharedSplitLimits` are the in-process classes,
  re-seeded from Redis before each call), which gives the same verdict and builds the
  headers' view and the 429's Retry-After with the reference code.
- **One clock.** The scripts take ``now``, scenario seconds since the shared epoch (a wall
  ``time.time()`` stored in Redis): the first process to start stores it with the time scale,
  the others join it, and ``POST /_stampede/reset`` on any process stores a new one and bumps
  the *generation*. Bucket keys carry the generation, so a reset starts from fresh buckets,
  and a process that has not yet seen a reset writes only to the old, discarded ones. Each
  process polls the generation (:data:`POLL_S`, with a heartbeat), resets itself when it
  moves and acknowledges; the reset answers once every live process has acknowledged
  (:meth:`RedisStore.all_restarted`), so load sent after it meets one clock. Hosts must
  keep their clocks in step (NTP): a host ``d`` seconds ahead refills a bucket ``d`` seconds
  early; a refill never goes backwards (a ``now`` before a bucket's last refill refills
  nothing), so skew never creates more than ``d * rate`` tokens. (The scripts could read
  Redis's ``TIME`` instead, which needs no NTP; but then the brain's ``now`` would no longer
  be the one time, a fault window and a bucket could disagree, and no test could replay a
  sequence at given times.)
- **Each process its own draws.** A process's requests are numbered from 0 and every id and
  random draw is a function of (seed, number): two processes with one seed would give the
  same request ids and strike the same numbers. So each process takes a process number from
  Redis (:meth:`RedisStore.enlist`, one ``INCR``) and draws from a seed derived from the
  scenario's and that number (:func:`process_seed`): ids stay unique across processes and a
  rule's ``probability`` is met by each process, so by all of them.
- **Fault counts.** A rule's ``times`` is counted by one ``INCR`` per strike on a key named
  by the rule's id and config; like the in-process count it survives resets (not a restart
  of the shared state).

Shared: the buckets, requests in flight per pair (``max_in_flight``), the ``times`` counts,
the clock. Not shared: prompt caches, the journal, metrics counts, run-time fault rules,
the load curves' in-flight counts; each process keeps its own.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mock_provider.model.limits import (
    Limited,
    LimitKind,
    LimitState,
    RateLimitView,
    SplitLimits,
)

from .redis_lua import ADMIT_OPENAI, ADMIT_SPLIT, JOIN, RESET, SETTLE_OPENAI, SETTLE_SPLIT

__all__ = [
    "POLL_S",
    "RESET_WAIT_S",
    "RedisStore",
    "SharedLimitState",
    "SharedSplitLimits",
    "SharedTime",
    "process_seed",
]

POLL_S = 0.05  # wall seconds between a process's looks at the generation
_ALIVE_S = 1.0  # a process whose heartbeat is older is taken for gone
RESET_WAIT_S = 5.0  # a reset answers by then even if a process has not acknowledged
_TTL_MS = 24 * 3600 * 1000  # an idle pair's buckets go after a day (full long before)


@dataclass(frozen=True, slots=True)
class SharedTime:
    """The shared clock's state: t=0 (wall seconds), the time scale, resets so far."""

    epoch: float
    time_scale: float
    generation: int


def parse_redis_url(url: str) -> tuple[str, int, int]:
    """``redis://[[USER]:PASSWORD@]HOST:PORT[/DB]`` as (host, port, db); ValueError says
    what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"expected redis://HOST:PORT[/DB], got {url!r}")
    try:
        port = parts.port or 6379
        path = parts.path.strip("/")
        db = int(path) if path else 0
    except ValueError:
        raise ValueError(f"expected redis://HOST:PORT[/DB] with numbers, got {url!r}") from None
    return parts.hostname, port, db


def process_seed(seed: int, process: int) -> int:
    """The seed of the ``process``-th process to join a shared store (1 keeps ``seed``)."""
    return seed if process <= 1 else seed ^ (process << 40)


def _opt(x: int | None) -> int | str:
    return "" if x is None else x  # Lua's tonumber('') is nil


class RedisStore:
    """The shared :class:`~mock_provider.model.limits.LimitStore` and strike counter.

    ``client`` is a synchronous ``redis.Redis``: a loopback round trip costs tens of
    microseconds (``bench/shared_limiter.py`` measures what it costs a process's throughput).
    """

    def __init__(self, client: Any, namespace: str = "stampede") -> None:
        self.client = client
        self.namespace = namespace
        self._meta = f"{namespace}:clock"
        self.generation = 0
        self.run = ""
        self.process = 0  # this process's number, once enlisted
        self._admit_openai = client.register_script(ADMIT_OPENAI)
        self._settle_openai = client.register_script(SETTLE_OPENAI)
        self._admit_split = client.register_script(ADMIT_SPLIT)
        self._settle_split = client.register_script(SETTLE_SPLIT)
        self._join = client.register_script(JOIN)
        self._reset = client.register_script(RESET)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connect and check the server answers; ValueError/ConnectionError say why not."""
        import redis  # the optional extra: imported only when a shared limiter is asked for

        host, port, db = parse_redis_url(url)
        parts = urlsplit(url)  # redis://[[USER]:PASSWORD@]HOST...: Redis AUTH, when set
        client = redis.Redis(host=host, port=port, db=db, username=parts.username or None,
                             password=parts.password, socket_connect_timeout=2)  # fmt: skip
        client.ping()
        return cls(client)

    # -- the clock ---------------------------------------------------------------------------

    def join(self, time_scale: float) -> SharedTime:
        """The shared clock, created now with ``time_scale`` if no process has yet."""
        run = uuid.uuid4().hex  # names this shared state's keys: a fresh one never meets old
        return self._clock(self._join(keys=[self._meta], args=[time.time(), time_scale, run]))

    def enlist(self) -> int:
        """This process's number among those that joined (1, 2, ...), for its seed."""
        self.process = int(self.client.incr(f"{self.namespace}:{self.run}:processes"))
        self.heartbeat()
        return self.process

    def heartbeat(self) -> None:
        """Say this process is alive and has restarted at the current generation."""
        if not self.process:
            return
        ack = f"{self.namespace}:{self.run}:ack:{self.generation}"
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(f"{self.namespace}:{self.run}:alive", str(self.process), time.time())
        pipe.sadd(ack, self.process)
        pipe.expire(ack, 3600)
        pipe.execute()

    def all_restarted(self) -> bool:
        """Whether every live process has acknowledged the current generation."""
        alive = self.client.hgetall(f"{self.namespace}:{self.run}:alive")
        acks = self.client.smembers(f"{self.namespace}:{self.run}:ack:{self.generation}")
        recent = time.time() - _ALIVE_S
        return all(p in acks for p, t in alive.items() if float(t) > recent)

    def reset(self, epoch: float | None, time_scale: float) -> SharedTime:
        """Start every process's scenario time over at ``epoch`` (default now), fresh buckets."""
        epoch = time.time() if epoch is None else epoch
        return self._clock(self._reset(keys=[self._meta], args=[epoch, time_scale]))

    def current(self) -> SharedTime:
        """The shared clock as the last reset left it (one round trip: the poll)."""
        return self._clock(self.client.hmget(self._meta, "epoch", "time_scale", "generation",
                                             "run"))  # fmt: skip

    def _clock(self, row: list[Any]) -> SharedTime:
        epoch, scale, generation, run = row
        self.generation = int(generation)
        self.run = run.decode() if isinstance(run, bytes) else str(run)
        return SharedTime(float(epoch), float(scale), self.generation)

    # -- LimitStore --------------------------------------------------------------------------

    def _key(self, kind: str, key: str, model: str) -> str:
        digest = hashlib.blake2b(f"{key}\0{model}".encode(), digest_size=12).hexdigest()
        return f"{self.namespace}:{self.run}:g{self.generation}:{kind}:{digest}"

    def openai(
        self, key: str, model: str, rpm: int, tpm: int, now: float, max_in_flight: int | None
    ) -> LimitState:
        return SharedLimitState(self, self._key("tpm", key, model), rpm, tpm, now, max_in_flight)

    def anthropic(
        self,
        key: str,
        model: str,
        rpm: int,
        itpm: int,
        otpm: int,
        tpm: int | None,
        now: float,
        max_in_flight: int | None,
    ) -> SplitLimits:
        return SharedSplitLimits(
            self, self._key("split", key, model), rpm, itpm, otpm, tpm, now, max_in_flight
        )

    # -- StrikeCounter -----------------------------------------------------------------------

    def strike(self, rule_id: str, times: int) -> bool:
        digest = hashlib.blake2b(rule_id.encode(), digest_size=12).hexdigest()
        return int(self.client.incr(f"{self.namespace}:{self.run}:strike:{digest}")) <= times


class SharedLimitState(LimitState):
    """:class:`LimitState` whose levels live in Redis: the script decides, this object replays
    the decision on the levels the script saw to build the view (see the module docstring)."""

    __slots__ = ("_key", "_store")

    def __init__(
        self,
        store: RedisStore,
        key: str,
        rpm: int,
        tpm: int,
        now: float,
        max_in_flight: int | None = None,
    ) -> None:
        super().__init__(rpm, tpm, now, max_in_flight)
        self._store, self._key = store, key

    def admit(
        self, estimated_tokens: int, now: float, actual_tokens: int | None = None
    ) -> RateLimitView | Limited:
        verdict, r, t, u, f = self._store._admit_openai(
            keys=[self._key],
            args=[now, self.rpm, self.tpm, estimated_tokens, _opt(actual_tokens),
                  _opt(self.max_in_flight), _TTL_MS],
        )  # fmt: skip
        self._r_level, self._t_level, self._updated = float(r), float(t), float(u)
        self.in_flight = int(f)
        decided = LimitState.admit(self, estimated_tokens, now, actual_tokens)
        assert isinstance(decided, Limited) == (verdict != b"ok"), "the Lua rule disagrees"
        return decided

    def settle(self, charged: int, actual: int, now: float) -> None:
        self._store._settle_openai(keys=[self._key],
                                   args=[now, self.rpm, self.tpm, charged, actual])  # fmt: skip

    def view(self, now: float) -> RateLimitView:
        """The headers' values at ``now`` from the levels Redis holds (nothing charged)."""
        r, t, u, f = self._store.client.hmget(self._key, "r", "t", "u", "f")
        if r is not None:
            self._r_level, self._t_level, self._updated = float(r), float(t), float(u)
            self.in_flight = int(f)
        return LimitState.view(self, now)

    def _limited(
        self,
        kind: LimitKind,
        limit: int,
        used: int,
        requested: int,
        retry_after: float | None,
    ) -> Limited:
        # The view of the levels the script decided on, not a second look at Redis.
        view = LimitState.view(self, self._updated)
        return Limited(kind, limit, used, requested, retry_after, view)


class SharedSplitLimits(SplitLimits):
    """:class:`SplitLimits` whose levels live in Redis (as :class:`SharedLimitState`)."""

    __slots__ = ("_key", "_store")

    def __init__(
        self,
        store: RedisStore,
        key: str,
        rpm: int,
        itpm: int,
        otpm: int,
        tpm: int | None,
        now: float,
        max_in_flight: int | None = None,
    ) -> None:
        super().__init__(rpm, itpm, otpm, tpm, now, max_in_flight)
        self._store, self._key = store, key

    def _caps(self) -> list[int | str]:
        c = self.combined
        return [self.requests.capacity, self.input.capacity, self.output.capacity,
                "" if c is None else c.capacity, _TTL_MS]  # fmt: skip

    def _seed(self, u: bytes, f: bytes, levels: list[bytes]) -> None:
        """Put the levels Redis holds (or held) into this object's buckets, as of ``u``."""
        for (_, bucket), level in zip(self._buckets, levels, strict=True):
            bucket.level, bucket.updated = float(level), float(u)
        self.in_flight = int(f)

    def admit(
        self, input_tokens: int, output_tokens: int, now: float, actual_output: int | None = None
    ) -> RateLimitView | Limited:
        verdict, u, f, *levels = self._store._admit_split(
            keys=[self._key],
            args=[now, *self._caps(), input_tokens, output_tokens, _opt(actual_output),
                  _opt(self.max_in_flight)],
        )  # fmt: skip
        self._seed(u, f, levels)
        decided = SplitLimits.admit(self, input_tokens, output_tokens, now, actual_output)
        assert isinstance(decided, Limited) == (verdict != b"ok"), "the Lua rule disagrees"
        return decided

    def settle(self, charged: int, actual: int, now: float) -> None:
        self._store._settle_split(keys=[self._key],
                                  args=[now, *self._caps(), charged - actual])  # fmt: skip

    def view(self, now: float) -> RateLimitView:
        names = ["r", "i", "o", "c"][: len(self._buckets)]
        row = self._store.client.hmget(self._key, "u", "f", *names)
        if row[0] is not None:
            self._seed(row[0], row[1], row[2:])
        return SplitLimits.view(self, now)
