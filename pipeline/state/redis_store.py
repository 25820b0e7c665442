"""State in Redis behind a small interface.

Layout (``p`` = settings.redis_key_prefix, default ``ss:``):

- ``p i:<uuid>``        hash — one indicator's state: its revision ``r`` and the rest as one compact text in
                         pieces ``0``, ``1``, … of at most 63 bytes (so Redis keeps the hash as a listpack;
                         ``redis_fields`` has the layout, and reads the earlier layouts too), plus one
                         ``d:<subscriber>`` field per past recipient holding the last version it received
- ``p s:<submission>``  string with TTL — "this submission was merged" (1 = it published a version, 0 = not)
- ``p x:<topic>:<partition>:<offset>`` string with TTL — "this reject was counted"
- ``p e:<sco id>``      JSON with TTL — enrichment cache
- ``p m:<name>``        small markers (the decay sweep's cursor)
- ``p stats``           hash — pipeline counters (accepted, rejected, rejected:<code>, duplicates, ...)
- ``p subs``            hash — subscriber id → subscription JSON; ``p subs:rev`` bumps on every change
- ``p orgs``            hash — organisation id → organisation JSON; ``p orgs:rev`` bumps on every change
- ``p erased:<uuid>``   string, never expires — "this indicator was erased" (the erasure time, RFC 3339):
                         its reports are refused for good. The uuid is the indicator id's (a pseudonym)
- ``p audit``           list — one JSON audit record per erasure (who, when, why, how many recipients; never
                         the value), appended at the tail

An indicator's hash may carry an expiry (``Commit.expire_at_ms``: its validity plus ``state_grace_days``);
the sighting marks of one indicator are the submission marks ``p s:sighting:<org>:<indicator id>:<kind>``.

Every write that must not be repeated on replay is one Lua script: the state is written only if its revision
is still the one that was read (compare-and-set), together with the submission marks and the counters, so a
report processed twice — after a crash, or by two workers during a rebalance — is counted once.
Multi-key scripts assume one Redis (or Sentinel); Redis Cluster would need hash tags on these keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from pipeline.config import default
from pipeline.state.indicator import IndicatorState
from pipeline.state.org import Organisation
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_fields import state_from_fields, state_to_fields
from pipeline.state.store import Commit, Delivery, FanoutInputs, MergeInputs
from pipeline.state.subscription import Subscription

DEFAULT_PREFIX: str = default("redis_key_prefix")
DEDUP_TTL_S: int = default("dedup_window_s")

# ARGV: expected revision ('' = must not exist), dedup TTL, published flag, expire-at ms ('' = leave the
# expiry as it is), replace flag, number of field pairs, the field pairs (``r`` first, then the pieces ``0``,
# ``1``, … of the state text: redis_fields.state_to_fields), then counter name/increment pairs.
# A state of an earlier layout (it has a revision but no piece ``0``) is dropped first, as on a replace, so
# none of its fields outlives its rewrite; pieces of a longer earlier text past the new last one are deleted.
_CAS = """
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

_MARK_DELIVERED_MANY = """
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

_COUNT_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
  return 1
end
return 0
"""


def glob_escape(text: str) -> str:
    """Escape Redis glob characters, so a key prefix can be SCANned as ``glob_escape(prefix) + '*'``."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class RedisStore:
    """The Redis implementation of :class:`Store` (redis-py asyncio). Construction does no I/O."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX, dedup_ttl_s: int = DEDUP_TTL_S
    ) -> None:
        self._r = client
        self._p = prefix
        self._ttl = dedup_ttl_s
        self._cas = client.register_script(_CAS)
        self._mark = client.register_script(_MARK_DELIVERED_MANY)
        self._once = client.register_script(_COUNT_ONCE)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, dedup_ttl_s: int = DEDUP_TTL_S
    ) -> RedisStore:
        # Commands packed by hiredis (redis_client): a batch sends tens of arguments per indicator.
        return cls(redis_from_url(url), prefix=prefix, dedup_ttl_s=dedup_ttl_s)

    async def close(self) -> None:
        await self._r.aclose()

    # -- keys ---------------------------------------------------------------------------------------
    def state_key(self, indicator_id: str) -> str:
        return f"{self._p}i:{indicator_id.removeprefix('indicator--')}"

    def submission_key(self, submission_id: str) -> str:
        return f"{self._p}s:{submission_id}"

    @property
    def stats_key(self) -> str:
        return f"{self._p}stats"

    @property
    def subs_key(self) -> str:
        return f"{self._p}subs"

    # -- indicators ---------------------------------------------------------------------------------
    async def load_states(
        self, indicator_ids: Sequence[str]
    ) -> list[tuple[IndicatorState | None, dict[str, int]]]:
        async with self._r.pipeline(transaction=False) as pipe:
            for ind in indicator_ids:
                pipe.hgetall(self.state_key(ind))
            raws = await pipe.execute()
        return [state_from_fields(ind, raw) for ind, raw in zip(indicator_ids, raws, strict=True)]

    async def load_delivered(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> list[dict[str, int]]:
        if not subscriber_ids or not indicator_ids:
            return [{} for _ in indicator_ids]
        fields = [f"d:{s}" for s in subscriber_ids]
        async with self._r.pipeline(transaction=False) as pipe:
            for ind in indicator_ids:
                pipe.hmget(self.state_key(ind), fields)
            rows = await pipe.execute()
        return [
            {sub: int(v) for sub, v in zip(subscriber_ids, row, strict=True) if v is not None} for row in rows
        ]

    async def seen_submissions(self, submission_ids: Sequence[str]) -> list[bool | None]:
        if not submission_ids:
            return []
        values = await self._r.mget([self.submission_key(s) for s in submission_ids])
        return [None if v is None else v == b"1" for v in values]

    async def load_for_merge(
        self, indicator_ids: Sequence[str], submission_ids: Sequence[str]
    ) -> MergeInputs:
        # One round trip: the marks and the erasure markers by one MGET each, one HGETALL per indicator.
        if not indicator_ids and not submission_ids:
            return MergeInputs([], [], [])
        async with self._r.pipeline(transaction=False) as pipe:
            if submission_ids:
                pipe.mget([self.submission_key(s) for s in submission_ids])
            if indicator_ids:
                pipe.mget([self.erased_key(ind) for ind in indicator_ids])
                for ind in indicator_ids:
                    pipe.hgetall(self.state_key(ind))
            replies = await pipe.execute()
        marks = replies.pop(0) if submission_ids else []
        gone = replies.pop(0) if indicator_ids else []
        return MergeInputs(
            states=[state_from_fields(ind, raw) for ind, raw in zip(indicator_ids, replies, strict=True)],
            seen=[None if v is None else v == b"1" for v in marks],
            erased=[v is not None for v in gone],
        )

    async def load_for_fanout(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> FanoutInputs:
        if not indicator_ids:
            return FanoutInputs([], [])
        fields = [f"d:{s}" for s in subscriber_ids]
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.mget([self.erased_key(ind) for ind in indicator_ids])
            if fields:
                for ind in indicator_ids:
                    pipe.hmget(self.state_key(ind), fields)
            gone, *rows = await pipe.execute()
        delivered = [
            {sub: int(v) for sub, v in zip(subscriber_ids, row, strict=True) if v is not None} for row in rows
        ]
        return FanoutInputs(
            delivered=delivered if fields else [{} for _ in indicator_ids],
            erased=[v is not None for v in gone],
        )

    async def commit(self, commits: Sequence[Commit]) -> list[bool]:
        if not commits:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for c in commits:
                fields = state_to_fields(c.state)
                counters = [x for name, inc in c.counters.items() if inc for x in (name, str(inc))]
                await self._cas(
                    keys=[self.state_key(c.state.indicator_id), self.stats_key]
                    + [self.submission_key(s) for s in c.submission_ids],
                    args=[
                        "" if c.expected_rev is None else str(c.expected_rev),
                        str(self._ttl),
                        "1" if c.published else "0",
                        "" if c.expire_at_ms is None else str(c.expire_at_ms),
                        "1" if c.replace else "0",
                        str(len(fields) // 2),
                        *fields,
                        *counters,
                    ],
                    client=pipe,
                )
            results = await pipe.execute()
        return [bool(r) for r in results]

    async def count_once(self, marker: str, counters: Mapping[str, int]) -> bool:
        """Increment counters unless ``marker`` was counted already (e.g. a reject at one offset)."""
        args = [str(self._ttl)] + [x for name, inc in counters.items() for x in (name, str(inc))]
        result = await self._once(keys=[f"{self._p}x:{marker}", self.stats_key], args=args)
        return bool(result)

    async def mark_delivered(self, deliveries: Sequence[Delivery]) -> list[bool]:
        if not deliveries:
            return []
        # One script call for the whole batch: the per-call packing is what costs, not the Lua.
        results = await self._mark(
            keys=[self.stats_key, *(self.state_key(d.indicator_id) for d in deliveries)],
            args=[x for d in deliveries for x in (d.subscriber, str(d.version), "1" if d.revoked else "0")],
        )
        return [bool(r) for r in results]

    async def incr(self, counters: Mapping[str, int]) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            for name, inc in counters.items():
                pipe.hincrby(self.stats_key, name, inc)
            await pipe.execute()

    async def stats(self) -> dict[str, int]:
        raw = await self._r.hgetall(self.stats_key)
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}

    async def scan_states(self, cursor: int, count: int) -> tuple[int, list[IndicatorState]]:
        pattern = glob_escape(self._p) + "i:*"
        next_cursor, keys = await self._r.scan(cursor=cursor, match=pattern, count=count)
        ids = [f"indicator--{(k.decode() if isinstance(k, bytes) else k).rsplit(':', 1)[1]}" for k in keys]
        loaded = await self.load_states(ids)
        return int(next_cursor), [state for state, _ in loaded if state is not None]

    async def get_marker(self, name: str) -> str | None:
        value = await self._r.get(f"{self._p}m:{name}")
        return value.decode() if isinstance(value, bytes) else value

    async def set_marker(self, name: str, value: str) -> None:
        await self._r.set(f"{self._p}m:{name}", value)

    # -- cache ----------------------------------------------------------------------------------------
    async def cached(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        values = await self._r.mget([f"{self._p}e:{k}" for k in keys])
        return [orjson.loads(v) if v is not None else None for v in values]

    async def cache(self, items: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        if not items:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for key, value in items.items():
                pipe.set(f"{self._p}e:{key}", orjson.dumps(value), ex=ttl_s)
            await pipe.execute()

    # -- registries: subscriptions and organisations -------------------------------------------------
    async def _registry(self, key: str) -> tuple[int, list[bytes]]:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.get(f"{key}:rev")
            pipe.hgetall(key)
            rev, raw = await pipe.execute()
        return int(rev or 0), [v for _, v in sorted(raw.items())]

    async def _registry_put(self, key: str, ident: str, doc: dict[str, Any]) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, ident, orjson.dumps(doc))
            pipe.incr(f"{key}:rev")
            await pipe.execute()

    async def _registry_remove(self, key: str, ident: str) -> bool:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(key, ident)
            pipe.incr(f"{key}:rev")
            removed, _ = await pipe.execute()
        return bool(removed)

    async def subscriptions(self) -> tuple[int, list[Subscription]]:
        rev, raw = await self._registry(self.subs_key)
        return rev, [Subscription.model_validate(orjson.loads(v)) for v in raw]

    async def put_subscription(self, sub: Subscription) -> None:
        await self._registry_put(self.subs_key, sub.id, sub.to_json())

    async def remove_subscription(self, sub_id: str) -> bool:
        return await self._registry_remove(self.subs_key, sub_id)

    async def organisations(self) -> tuple[int, list[Organisation]]:
        rev, raw = await self._registry(f"{self._p}orgs")
        return rev, [Organisation.model_validate(orjson.loads(v)) for v in raw]

    async def put_organisation(self, org: Organisation) -> None:
        await self._registry_put(f"{self._p}orgs", org.id, org.to_json())

    async def remove_organisation(self, org_id: str) -> bool:
        return await self._registry_remove(f"{self._p}orgs", org_id)

    # -- erasure ------------------------------------------------------------------------------------
    def erased_key(self, indicator_id: str) -> str:
        return f"{self._p}erased:{indicator_id.removeprefix('indicator--')}"

    @property
    def audit_key(self) -> str:
        return f"{self._p}audit"

    async def mark_erased(self, indicator_id: str, audit: Mapping[str, Any]) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self.erased_key(indicator_id), str(audit.get("at", "")), nx=True)
            pipe.rpush(self.audit_key, orjson.dumps(dict(audit)))
            await pipe.execute()

    async def erased(self, indicator_ids: Sequence[str]) -> list[bool]:
        if not indicator_ids:
            return []
        # One MGET (a marker is a string, its value the erasure time, possibly empty: present is erased).
        found = await self._r.mget([self.erased_key(ind) for ind in indicator_ids])
        return [v is not None for v in found]

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        if limit < 1:
            return []
        raw = await self._r.lrange(self.audit_key, -limit, -1)
        return [orjson.loads(item) for item in raw]

    async def delete_indicator(self, indicator_id: str, sco_id: str) -> None:
        # The sighting marks name the indicator inside their key: found by a SCAN (they are few per key
        # space slice; SCAN does not block the server as KEYS would).
        pattern = glob_escape(f"{self._p}s:sighting:") + "*" + glob_escape(f":{indicator_id}:") + "*"
        marks = [key async for key in self._r.scan_iter(match=pattern, count=1000)]
        await self._r.delete(self.state_key(indicator_id), f"{self._p}e:{sco_id}", *marks)

    @property
    def client(self) -> aioredis.Redis:
        """The underlying client, for operational commands (memory usage, info)."""
        return self._r
