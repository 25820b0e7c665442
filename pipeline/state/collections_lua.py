"""The Lua scripts of :class:`pipeline.state.collections.RedisCollections` (one call each, one hash slot).

A stored object's meta is one string: ``<date_added_us>|<version key>|<digest>|<type>|<version>`` (the
version last, so it is the only free text). Scores and date_added are whole microseconds, exact as doubles
(< 2^53); they are written with ``%.0f``, never ``tostring``, which rounds to 14 digits in Lua 5.1.
"""

from __future__ import annotations

from typing import Final

# KEYS: ids zset, raw hash, meta hash, last date_added, barred ids set, type names set, then one zset per
# type. ARGV: now_us, number of types, the type names, then two values per object: its head
# ``<id>|<type index, 1-based>|<version key, µs, 0 = none>|<digest of raw>|<1 if final, else 0>|<version>``
# and its raw JSON. Final (revoked): once stored, its id is barred from any later change.
# Reads go object by object (a later object of the call sees what an earlier one stored, from ``state``);
# writes are gathered and sent in chunks at the end: a redis.call is most of a script's cost per object.
ADD: Final = """
local now = tonumber(ARGV[1])
local ntypes = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
local any_barred = redis.call('SCARD', KEYS[5]) > 0
local state, writes, order, sealed = {}, {}, {}, {}
local added = 0
for i = 3 + ntypes, #ARGV, 2 do
  local id, t, vkey_s, digest, final, version =
    string.match(ARGV[i], '^([^|]+)|(%d+)|(%d+)|(%x+)|([01])|(.*)$')
  local vkey = tonumber(vkey_s)
  if not sealed[id] and not (any_barred and redis.call('SISMEMBER', KEYS[5], id) == 1) then
    local old = state[id]
    if old == nil then
      local meta = redis.call('HGET', KEYS[3], id)
      if meta then
        local _, _, old_vkey, old_digest = string.find(meta, '^%d+|(%d+)|(%x*)|')
        old = {tonumber(old_vkey), old_digest}
      end
    end
    local same = old ~= nil and old[2] == digest
    local fresh = old == nil or not (same or (vkey > 0 and old[1] > vkey))
    if fresh then
      last = math.max(now, last + 1)
      local at = string.format('%.0f', last)
      if writes[id] == nil then order[#order + 1] = id end
      t = tonumber(t)
      writes[id] = {at, t, at .. '|' .. vkey_s .. '|' .. digest .. '|' .. ARGV[2 + t] .. '|' .. version,
                    ARGV[i + 1]}
      state[id] = {vkey, digest}
      added = added + 1
    end
    if final == '1' and (fresh or same) then sealed[id] = true end
  end
end
local function send(cmd, key, items)
  for s = 1, #items, 1000 do redis.call(cmd, key, unpack(items, s, math.min(s + 999, #items))) end
end
local z, o, m, by_type, seal = {}, {}, {}, {}, {}
for _, id in ipairs(order) do
  local w = writes[id]
  z[#z + 1] = w[1]; z[#z + 1] = id
  o[#o + 1] = id; o[#o + 1] = w[4]
  m[#m + 1] = id; m[#m + 1] = w[3]
  local tz = by_type[w[2]] or {}
  tz[#tz + 1] = w[1]; tz[#tz + 1] = id
  by_type[w[2]] = tz
end
for id in pairs(sealed) do seal[#seal + 1] = id end
send('ZADD', KEYS[1], z)
send('HSET', KEYS[2], o)
send('HSET', KEYS[3], m)
for t, tz in pairs(by_type) do send('ZADD', KEYS[6 + t], tz) end
send('SADD', KEYS[5], seal)
if added > 0 then
  redis.call('SET', KEYS[4], string.format('%.0f', last))
  redis.call('SADD', KEYS[6], unpack(ARGV, 3, 2 + ntypes))
end
return added
"""

# KEYS: ids zset, raw hash, meta hash, barred ids set, then one zset per type. ARGV: '1' to bar the ids
# from later adds, then id, its type's index (1-based, into the type zsets) pairs.
REMOVE: Final = """
local removed = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  removed = removed + redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[4 + tonumber(ARGV[i + 1])], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  if ARGV[1] == '1' then redis.call('SADD', KEYS[4], id) end
end
return removed
"""

# KEYS: the zsets to read (the ids zset, or one per requested type), then the raw hash, the meta hash.
# ARGV: min score ('-inf' or '(<after>'), how many. Several zsets are merged by score (date_added is
# unique per collection, so there are no ties). Returns {ids, metas, raws}; one snapshot, one round trip.
PAGE: Final = """
local nsets = #KEYS - 2
local want = tonumber(ARGV[2])
local ids = {}
if nsets == 1 then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, want)
else
  local found = {}
  for s = 1, nsets do
    local got = redis.call('ZRANGEBYSCORE', KEYS[s], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, want)
    for j = 1, #got, 2 do found[#found + 1] = {tonumber(got[j + 1]), got[j]} end
  end
  table.sort(found, function(a, b) return a[1] < b[1] end)
  for j = 1, math.min(want, #found) do ids[j] = found[j][2] end
end
local function hmget(key)
  local out = {}
  for s = 1, #ids, 1000 do
    local part = redis.call('HMGET', key, unpack(ids, s, math.min(s + 999, #ids)))
    for j = 1, #part do out[s + j - 1] = part[j] end
  end
  return out
end
if #ids == 0 then return {{}, {}, {}} end
return {ids, hmget(KEYS[nsets + 2]), hmget(KEYS[nsets + 1])}
"""
