"""Scripts of the Redis store (:mod:`pipeline.state.redis_store`). Each touches the keys of one shard
(:mod:`pipeline.state.redis_keys`): one hash slot, so it runs unchanged on Redis Cluster."""

from __future__ import annotations

# Compare-and-set of every state of one shard in one call (:mod:`pipeline.state.redis_commit` packs it).
# KEYS: the shard's counters hash, then per item its state hash, its erasure marker when the item is a new
# state (expected revision ''), and its submission marks.
# ARGV: the dedup TTL, then per item: expected revision ('' = must not exist), published flag, expire-at ms
# ('' = leave the expiry as it is), replace flag, number of field pairs, of submission marks and of counters,
# the field pairs (``r`` first, then the pieces ``0``, ``1``, … of the state text:
# redis_fields.state_to_fields), the counter name/increment pairs. Returns 1 or 0 per item, in order: an item
# whose revision moved is left alone (with its marks and counters) and the rest still commit; so is a new
# state of an erased indicator (an erasure of a value nobody had reported yet, landing between a merge's read
# and its commit): the merge reads again and refuses it.
# A state of an earlier layout (it has a revision but no piece ``0``) is dropped first, as on a replace, so
# none of its fields outlives its rewrite; pieces of a longer earlier text past the new last one are deleted.
CAS_MANY = """
local ttl = ARGV[1]
local out = {}
local a, k = 2, 2
while a <= #ARGV do
  local key = KEYS[k]
  local n, subs, nc = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local c0 = a + 7 + 2 * n
  local cur = redis.call('HGET', key, 'r')
  if cur == false then cur = '' end
  local fresh = ARGV[a] == ''
  if fresh then k = k + 1 end
  if cur ~= ARGV[a] or (fresh and redis.call('EXISTS', KEYS[k]) == 1) then
    out[#out + 1] = 0
  else
    if ARGV[a + 3] == '1' or (cur ~= '' and redis.call('HEXISTS', key, '0') == 0) then
      for _, f in ipairs(redis.call('HKEYS', key)) do
        if string.sub(f, 1, 2) ~= 'd:' then redis.call('HDEL', key, f) end
      end
    end
    if n > 0 then
      redis.call('HSET', key, unpack(ARGV, a + 7, c0 - 1))
      local piece = n - 1
      while redis.call('HDEL', key, tostring(piece)) == 1 do piece = piece + 1 end
    end
    if ARGV[a + 2] ~= '' then redis.call('PEXPIREAT', key, ARGV[a + 2]) end
    for i = k + 1, k + subs do redis.call('SET', KEYS[i], ARGV[a + 1], 'EX', ttl) end
    for i = c0, c0 + 2 * nc - 1, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
    out[#out + 1] = 1
  end
  k = k + 1 + subs
  a = c0 + 2 * nc
end
return out
"""

MARK_DELIVERED_MANY = """
local out = {}
for i = 2, #KEYS do
  local j = (i - 2) * 3
  local f = 'd:' .. ARGV[j + 1]
  local cur = tonumber(redis.call('HGET', KEYS[i], f) or '0')
  if cur >= tonumber(ARGV[j + 2]) then
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[i], f, ARGV[j + 2])
    redis.call('HINCRBY', KEYS[1], 'delivered:' .. ARGV[j + 1], 1)
    if ARGV[j + 3] == '1' then redis.call('HINCRBY', KEYS[1], 'revocations_delivered', 1) end
    out[#out + 1] = 1
  end
end
return out
"""

COUNT_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
  return 1
end
return 0
"""


# A registry's hash and its revision, written together (KEYS: the hash, its revision counter).
REGISTRY_PUT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])
"""

REGISTRY_REMOVE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return removed
"""

# The reads of one shard's indicators in one call (:mod:`pipeline.state.redis_reads` packs them).
# KEYS: n state hashes, then their n erasure markers. ARGV: the hash fields to read (none: the whole hash).
# Returns per indicator {the hash as HGETALL or HMGET gives it, 1 if it was erased else 0}.
READ_MANY = """
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local fields
  if #ARGV == 0 then
    fields = redis.call('HGETALL', KEYS[i])
  else
    fields = redis.call('HMGET', KEYS[i], unpack(ARGV))
  end
  out[i] = {fields, redis.call('EXISTS', KEYS[n + i])}
end
return out
"""
