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
  nothing), so skew never creates more than ``d * rate`` tokens.
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

# Lua 5.1 numbers are doubles, as Python floats; '%.17g' writes one back exactly (Redis's own
# number-to-string keeps 14 digits). Each step below is the one in model/limits.py.
_FMT = "local function fmt(x) return string.format('%.17g', x) end\n"

_ADMIT_OPENAI = (
    _FMT
    + """
local now, rcap, tcap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local est, actual, most = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rrate, trate = rcap / 60.0, tcap / 60.0
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'u', 'f')
local r, t, u, f = rcap, tcap, now, 0
if h[1] then r, t, u, f = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4]) end
local dt = now - u
if dt > 0 then
  r = r + dt * rrate
  if r > rcap then r = rcap end
  t = t + dt * trate
  if t > tcap then t = tcap end
  u = now
end
local r0, t0, f0 = r, t, f
local verdict = 'ok'
if r < 1.0 - 1e-12 * rcap or t + 1e-12 * tcap < est then
  verdict = 'short'
elseif most and f >= most then
  verdict = 'busy'
else
  r = r - 1
  t = t - est
  if actual then t = t + est - actual else f = f + 1 end
end
redis.call('HSET', KEYS[1], 'r', fmt(r), 't', fmt(t), 'u', fmt(u), 'f', f)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {verdict, fmt(r0), fmt(t0), fmt(u), tostring(f0)}
"""
)

_SETTLE_OPENAI = (
    _FMT
    + """
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'u', 'f')
if not h[1] then return 0 end
local now, rcap, tcap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local r, t, u, f = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
if now > u then
  local dt = now - u
  r = math.min(rcap, r + dt * (rcap / 60.0))
  t = math.min(tcap, t + dt * (tcap / 60.0))
  u = now
end
local level = t + tonumber(ARGV[4]) - tonumber(ARGV[5])
if level < tcap then t = level else t = tcap end
if f > 0 then f = f - 1 end
redis.call('HSET', KEYS[1], 'r', fmt(r), 't', fmt(t), 'u', fmt(u), 'f', f)
return 1
"""
)

# The split scheme: buckets r (requests), i (input), o (output) and c (the combined cap, when
# its capacity ARGV[5] is not empty). One refill time for all: they are always refilled at
# the same instants (SplitLimits refills every bucket on each call).
_SPLIT_COMMON = (
    _FMT
    + """
local now = tonumber(ARGV[1])
local caps = {r = tonumber(ARGV[2]), i = tonumber(ARGV[3]), o = tonumber(ARGV[4]),
              c = tonumber(ARGV[5])}
local names = {'r', 'i', 'o'}
if caps.c then names[4] = 'c' end
local h = redis.call('HMGET', KEYS[1], 'r', 'i', 'o', 'c', 'u', 'f')
local lv, u, f = {}, now, 0
if h[1] then
  lv = {r = tonumber(h[1]), i = tonumber(h[2]), o = tonumber(h[3]), c = tonumber(h[4])}
  u, f = tonumber(h[5]), tonumber(h[6])
else
  for _, n in ipairs(names) do lv[n] = caps[n] end
end
if now > u then
  for _, n in ipairs(names) do
    local level = lv[n] + (now - u) * (caps[n] / 60.0)
    if level < caps[n] then lv[n] = level else lv[n] = caps[n] end
  end
  u = now
end
local function store()
  local args = {'u', fmt(u), 'f', f}
  for _, n in ipairs(names) do args[#args + 1] = n; args[#args + 1] = fmt(lv[n]) end
  redis.call('HSET', KEYS[1], unpack(args))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
"""
)

_ADMIT_SPLIT = (
    _SPLIT_COMMON
    + """
local inp, out = tonumber(ARGV[7]), tonumber(ARGV[8])
local actual, most = tonumber(ARGV[9]), tonumber(ARGV[10])
local seen = {'x', fmt(u), tostring(f)}
for _, n in ipairs(names) do seen[#seen + 1] = fmt(lv[n]) end
local verdict = 'ok'
if lv.r + 1e-12 * caps.r < 1 or lv.i + 1e-12 * caps.i < inp or lv.o + 1e-12 * caps.o < out
    or (caps.c and lv.c + 1e-12 * caps.c < inp + out) then
  verdict = 'short'
elseif most and f >= most then
  verdict = 'busy'
else
  lv.r = lv.r - 1
  lv.i = lv.i - inp
  if actual then lv.o = lv.o - actual else lv.o = lv.o - out; f = f + 1 end
  if caps.c then
    if actual then lv.c = lv.c - (inp + actual) else lv.c = lv.c - (inp + out) end
  end
end
store()
seen[1] = verdict
return seen
"""
)

_SETTLE_SPLIT = (
    _SPLIT_COMMON
    + """
if not h[1] then return 0 end
local back = tonumber(ARGV[7])
lv.o = math.min(caps.o, lv.o + back)
if caps.c then lv.c = math.min(caps.c, lv.c + back) end
if f > 0 then f = f - 1 end
store()
return 1
"""
)

# The shared clock: created by the first process (HSETNX semantics), replaced by a reset.
_JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'time_scale', ARGV[2], 'generation', 1,
             'run', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'epoch', 'time_scale', 'generation', 'run')
"""

_RESET = """
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'time_scale', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return redis.call('HMGET', KEYS[1], 'epoch', 'time_scale', 'generation', 'run')
"""


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
        self._admit_openai = client.register_script(_ADMIT_OPENAI)
        self._settle_openai = client.register_script(_SETTLE_OPENAI)
        self._admit_split = client.register_script(_ADMIT_SPLIT)
        self._settle_split = client.register_script(_SETTLE_SPLIT)
        self._join = client.register_script(_JOIN)
        self._reset = client.register_script(_RESET)

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
