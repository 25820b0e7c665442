"""Scripts of the Redis store (:mod:`pipeline.state.redis_store`). Each touches the keys of one shard
(:mod:`pipeline.state.redis_keys`): one hash slot, so it runs unchanged on Redis Cluster."""

from __future__ import annotations

# ARGV: expected revision ('' = must not exist), dedup TTL, published flag, expire-at ms ('' = leave the
# expiry as it is), replace flag, number of field pairs, the field pairs (``r`` first, then the pieces ``0``,
# ``1``, … of the state text: redis_fields.state_to_fields), then counter name/increment pairs.
# A state of an earlier layout (it has a revision but no piece ``0``) is dropped first, as on a replace, so
# none of its fields outlives its rewrite; pieces of a longer earlier text past the new last one are deleted.
CAS = """
local cur = redis.call('HGET', KEYS[1], 'r')
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
if ARGV[5] == '1' or (cur ~= '' and redis.call('HEXISTS', KEYS[1], '0') == 0) then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) ~= 'd:' then redis.call('HDEL', KEYS[1], f) end
  end
end
local n = tonumber(ARGV[6])
if n > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + 2 * n))
  local piece = n - 1
  while redis.call('HDEL', KEYS[1], tostring(piece)) == 1 do piece = piece + 1 end
end
if ARGV[4] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) end
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[3], 'EX', ARGV[2]) end
for i = 7 + 2 * n, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
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
