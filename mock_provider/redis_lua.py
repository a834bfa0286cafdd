"""The shared limiter's Lua scripts: :class:`~mock_provider.model.limits.TokenBucket`'s rule
written for Redis, step by step in the same order (see ``redis_store``'s docstring).

Lua 5.1 numbers are doubles, as Python floats; ``fmt`` writes one back exactly (Redis's own
number-to-string keeps 14 digits), and Python sends floats as ``repr``, which round-trips.
"""

from __future__ import annotations

__all__ = ["ADMIT_OPENAI", "ADMIT_SPLIT", "JOIN", "RESET", "SETTLE_OPENAI", "SETTLE_SPLIT"]

# Each step below is the one in model/limits.py.
_FMT = "local function fmt(x) return string.format('%.17g', x) end\n"

ADMIT_OPENAI = (
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

SETTLE_OPENAI = (
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

ADMIT_SPLIT = (
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

SETTLE_SPLIT = (
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
JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'time_scale', ARGV[2], 'generation', 1,
             'run', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'epoch', 'time_scale', 'generation', 'run')
"""

RESET = """
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'time_scale', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return redis.call('HMGET', KEYS[1], 'epoch', 'time_scale', 'generation', 'run')
"""
