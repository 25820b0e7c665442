"""State in Redis behind a small interface.

Layout (``p`` = settings.redis_key_prefix, default ``ss:``; ``{nn}`` = the indicator's shard tag, two hex
digits: :mod:`pipeline.state.redis_keys`, which also says why):

- ``p {nn}i:<uuid>``    hash — one indicator's state: its revision ``r`` and the rest as one compact text in
                         pieces ``0``, ``1``, … of at most 63 bytes (so Redis keeps the hash as a listpack;
                         ``redis_fields`` has the layout, and reads the earlier layouts too), plus one
                         ``d:<subscriber>`` field per past recipient holding the last version it received
- ``p {nn}s:<submission>`` string with TTL — "this submission was merged into the indicator" (1 = it
                         published a version, 0 = not); a sighting's is ``p {nn}s:sighting:<org>:<id>:<kind>``
- ``p {nn}stats``       hash — the counters scripts increment beside that shard's states (accepted,
                         rejected:<code>, duplicates, delivered:<subscriber>, ...); ``p stats`` the plain
                         increments; :meth:`RedisStore.stats` sums them all
- ``p {nn}x:<topic>:<partition>:<offset>`` string with TTL — "this reject was counted" (``nn`` from the text)
- ``p {nn}erased:<uuid>`` string, never expires — "this indicator was erased" (the erasure time, RFC 3339):
                         its reports are refused for good. The uuid is the indicator id's (a pseudonym)
- ``p e:<sco id>``      JSON with TTL — enrichment cache
- ``p m:<name>``        small markers (the decay sweep's cursor)
- ``p {subs}``          hash — subscriber id → subscription JSON; ``p {subs}:rev`` bumps on every change
- ``p {orgs}``          hash — organisation id → organisation JSON; ``p {orgs}:rev`` likewise
- ``p audit``           list — one JSON audit record per erasure (who, when, why, how many recipients; never
                         the value), appended at the tail
- ``p layout``          the key layout's version (:data:`LAYOUT`); ``scamshare state migrate`` moves an
                         earlier one's keys

An indicator's hash may carry an expiry (``Commit.expire_at_ms``: its validity plus ``state_grace_days``).

Every write that must not be repeated on replay is one Lua script: the state is written only if its revision
is still the one that was read (compare-and-set), together with the submission marks and the counters, so a
report processed twice — after a crash, or by two workers during a rebalance — is counted once. Every script
touches one shard's keys, one hash slot: the same scripts run on one Redis, Sentinel or Redis Cluster
(``cluster=True``; :mod:`pipeline.state.redis_batch` says how batches travel there).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pipeline.config import Settings, default
from pipeline.state import redis_lua
from pipeline.state.indicator import IndicatorState
from pipeline.state.org import Organisation
from pipeline.state.redis_batch import Batch, bounded, is_cluster, mget
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_commit import by_shard
from pipeline.state.redis_fields import state_from_fields
from pipeline.state.redis_keys import Keys, script_groups, shard_tag, shard_tags
from pipeline.state.redis_reads import MAX_FIELDS, queue_reads
from pipeline.state.store import Commit, Delivery, FanoutInputs, MergeInputs, SubmissionRef
from pipeline.state.subscription import Subscription

DEFAULT_PREFIX: str = default("redis_key_prefix")
DEDUP_TTL_S: int = default("dedup_window_s")
#: The key layout this code writes: 2 = shard tags on every indicator key (redis_keys).
LAYOUT = 2


def glob_escape(text: str) -> str:
    """Escape Redis glob characters, so a key prefix can be SCANned as ``glob_escape(prefix) + '*'``."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class RedisStore:
    """The Redis implementation of :class:`Store` (redis-py asyncio; a single Redis or a Redis Cluster).
    Construction does no I/O."""

    def __init__(self, client: Any, *, prefix: str = DEFAULT_PREFIX, dedup_ttl_s: int = DEDUP_TTL_S) -> None:
        self._r = client
        self._k = Keys(prefix)
        self._ttl = dedup_ttl_s
        self._cluster = is_cluster(client)
        self._cas = client.register_script(redis_lua.CAS_MANY)
        self._mark = client.register_script(redis_lua.MARK_DELIVERED_MANY)
        self._once = client.register_script(redis_lua.COUNT_ONCE)
        self._reg_put = client.register_script(redis_lua.REGISTRY_PUT)
        self._reg_remove = client.register_script(redis_lua.REGISTRY_REMOVE)
        self._read = client.register_script(redis_lua.READ_MANY)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, dedup_ttl_s: int = DEDUP_TTL_S, cluster: bool = False
    ) -> RedisStore:
        # Commands packed by hiredis (redis_client): a batch sends tens of arguments per indicator.
        return cls(redis_from_url(url, cluster=cluster), prefix=prefix, dedup_ttl_s=dedup_ttl_s)

    @classmethod
    def from_settings(cls, settings: Settings, *, dedup_ttl_s: int = DEDUP_TTL_S) -> RedisStore:
        """The store of ``settings``: its Redis URL (ValueError without one), key prefix and cluster mode."""
        if (url := settings.redis_url_value()) is None:
            raise ValueError("redis_url is not configured")
        s = settings
        return cls.from_url(url, prefix=s.redis_key_prefix, dedup_ttl_s=dedup_ttl_s, cluster=s.redis_cluster)

    async def close(self) -> None:
        await self._r.aclose()

    # -- keys ---------------------------------------------------------------------------------------
    def state_key(self, indicator_id: str) -> str:
        return self._k.state(indicator_id)

    def submission_key(self, indicator_id: str, submission_id: str) -> str:
        return self._k.submission(indicator_id, submission_id)

    def stats_keys(self) -> list[str]:
        """Every counters hash: the plain one, then one per shard (:meth:`stats` sums them)."""
        return [self._k.global_stats, *(self._k.stats(t) for t in shard_tags())]

    @property
    def subs_key(self) -> str:
        return self._k.registry("subs")[0]

    # -- indicators ---------------------------------------------------------------------------------
    async def load_states(
        self, indicator_ids: Sequence[str]
    ) -> list[tuple[IndicatorState | None, dict[str, int]]]:
        batch = Batch(self._r)
        for ind in indicator_ids:
            batch.call("hgetall", self._k.state(ind))
        raws = await batch.run()
        return [state_from_fields(ind, raw) for ind, raw in zip(indicator_ids, raws, strict=True)]

    async def known_indicators(self, indicator_ids: Sequence[str]) -> list[bool]:
        # Every layout's state has its revision ``r`` (the compare-and-set reads it; delivery marks alone
        # are ``d:*`` fields), so HEXISTS answers what load_states would, without the hash or a parse.
        batch = Batch(self._r)
        for ind in indicator_ids:
            batch.call("hexists", self._k.state(ind), "r")
        return [bool(found) for found in await batch.run()]

    async def load_delivered(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> list[dict[str, int]]:
        if not subscriber_ids or not indicator_ids:
            return [{} for _ in indicator_ids]
        fields = [f"d:{s}" for s in subscriber_ids]
        batch = Batch(self._r)
        for ind in indicator_ids:
            batch.call("hmget", self._k.state(ind), fields)
        return _delivered_marks(subscriber_ids, await batch.run())

    async def seen_submissions(self, submissions: Sequence[SubmissionRef]) -> list[bool | None]:
        values = await mget(self._r, [self._k.submission(ind, s) for ind, s in submissions])
        return [None if v is None else v == b"1" for v in values]

    async def load_for_merge(
        self, indicator_ids: Sequence[str], submissions: Sequence[SubmissionRef]
    ) -> MergeInputs:
        if not indicator_ids and not submissions:
            return MergeInputs([], [], [])
        # One round trip: the submission marks by one MGET, the states and erasure markers by one script call
        # per shard (redis_reads; on one Redis per 128 indicators); on a cluster each primary gets its share.
        batch = Batch(self._r)
        if submissions:
            batch.call("mget", [self._k.submission(ind, s) for ind, s in submissions])
        reads = queue_reads(batch, self._read, self._k, indicator_ids, split=self._cluster)
        replies = await batch.run()
        marks = replies[0] if submissions else []
        raws, erased = reads.take(replies[1:] if submissions else replies)
        return MergeInputs(
            states=[state_from_fields(ind, raw) for ind, raw in zip(indicator_ids, raws, strict=True)],
            seen=[None if v is None else v == b"1" for v in marks],
            erased=erased,
        )

    async def load_for_fanout(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> FanoutInputs:
        if not indicator_ids:
            return FanoutInputs([], [])
        fields = [f"d:{s}" for s in subscriber_ids]
        if not fields or len(fields) > MAX_FIELDS:
            return FanoutInputs(
                await self.load_delivered(indicator_ids, subscriber_ids), await self.erased(indicator_ids)
            )
        # One round trip: the delivery marks and erasure markers by one script call per shard (redis_reads;
        # on one Redis, per 128 indicators).
        batch = Batch(self._r)
        reads = queue_reads(batch, self._read, self._k, indicator_ids, fields, split=self._cluster)
        rows, erased = reads.take(await batch.run())
        return FanoutInputs(delivered=_delivered_marks(subscriber_ids, rows), erased=erased)

    async def commit(self, commits: Sequence[Commit]) -> list[bool]:
        # One script call per shard of the batch (redis_commit; on one Redis, per 128 items), each item on its
        # own revision.
        calls = by_shard(commits, self._k, self._ttl, split=self._cluster)
        batch = Batch(self._r)
        for call in calls:
            batch.script(self._cas, call.keys, call.args)
        out = [False] * len(commits)
        for call, replies in zip(calls, await batch.run(), strict=True):
            for position, ok in zip(call.positions, replies, strict=True):
                out[position] = bool(ok)
        return out

    async def count_once(self, marker: str, counters: Mapping[str, int]) -> bool:
        """Increment counters unless ``marker`` was counted already (e.g. a reject at one offset)."""
        args = [str(self._ttl)] + [x for name, inc in counters.items() for x in (name, str(inc))]
        result = await self._once(keys=list(self._k.once(marker)), args=args)
        return bool(result)

    async def mark_delivered(
        self, deliveries: Sequence[Delivery], progress: Mapping[str, int] | None = None
    ) -> list[bool]:
        # One script call per shard of the batch (the per-call packing is what costs, not the Lua): its
        # states and its counters hash share a slot; on one Redis, not split by shard (script_groups). The
        # progress counters ride in the same round trip.
        groups = script_groups([d.indicator_id for d in deliveries], by_shard=self._cluster)
        batch = Batch(self._r)
        for group in groups:
            tag = shard_tag(deliveries[group[0]].indicator_id)
            batch.script(
                self._mark,
                [self._k.stats(tag), *(self._k.state(deliveries[i].indicator_id) for i in group)],
                [x for i in group for d in (deliveries[i],) for x in
                 (d.subscriber, str(d.version), "1" if d.revoked else "0")],
            )  # fmt: skip
        self._queue_incr(batch, progress or {})
        out = [False] * len(deliveries)
        replies = await batch.run()
        for group, results in zip(groups, replies[: len(groups)], strict=True):
            for i, r in zip(group, results, strict=True):
                out[i] = bool(r)
        return out

    async def incr(self, counters: Mapping[str, int]) -> None:
        batch = Batch(self._r)
        self._queue_incr(batch, counters)
        await batch.run()

    def _queue_incr(self, batch: Batch, counters: Mapping[str, int]) -> None:
        """Queue :meth:`incr`'s plain counters on ``batch`` (alone, or beside the delivery marks)."""
        for name, inc in counters.items():
            batch.call("hincrby", self._k.global_stats, name, inc)

    async def stats(self) -> dict[str, int]:
        batch = Batch(self._r)
        for key in self.stats_keys():
            batch.call("hgetall", key)
        out: dict[str, int] = {}
        for raw in await batch.run():
            for k, v in raw.items():
                name = k.decode() if isinstance(k, bytes) else k
                out[name] = out.get(name, 0) + int(v)
        return out

    async def scan_states(self, cursor: int, count: int) -> tuple[int, list[IndicatorState]]:
        pattern = glob_escape(self._k.p) + "{??}i:*"
        if self._cluster:
            next_cursor, keys = await self._scan_cluster(cursor, pattern, count)
        else:
            next_cursor, keys = await self._r.scan(cursor=cursor, match=pattern, count=count)
        ids = [f"indicator--{(k.decode() if isinstance(k, bytes) else k).rsplit(':', 1)[1]}" for k in keys]
        loaded = await self.load_states(ids)
        return int(next_cursor), [state for state, _ in loaded if state is not None]

    async def _scan_cluster(self, cursor: int, pattern: str, count: int) -> tuple[int, list[bytes]]:
        # One cursor over the primaries in name order: node index + len(nodes) * that node's cursor; a
        # page goes on to the next node while it has fewer than ``count`` keys. A topology change mid-walk
        # walks another node order; the walk only promises to come round (as a rehashing SCAN does).
        await self._r.initialize()
        nodes = sorted(self._r.get_primaries(), key=lambda n: n.name)
        index, node_cursor = cursor % len(nodes), cursor // len(nodes)
        keys: list[bytes] = []
        while True:
            node = nodes[index]
            found = await self._r.scan(cursor=node_cursor, match=pattern, count=count, target_nodes=node)
            node_cursor = int(found[0][node.name])
            keys += found[1]
            if node_cursor:
                if len(keys) >= count:
                    return index + len(nodes) * node_cursor, keys
                continue
            index += 1
            if index == len(nodes):
                return 0, keys
            if len(keys) >= count:
                return index, keys

    async def get_marker(self, name: str) -> str | None:
        value = await self._r.get(self._k.marker(name))
        return value.decode() if isinstance(value, bytes) else value

    async def set_marker(self, name: str, value: str) -> None:
        await self._r.set(self._k.marker(name), value)

    # -- cache ----------------------------------------------------------------------------------------
    async def cached(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        values = await mget(self._r, [self._k.cache(k) for k in keys])
        return [orjson.loads(v) if v is not None else None for v in values]

    async def cache(self, items: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        batch = Batch(self._r)
        for key, value in items.items():
            batch.call("set", self._k.cache(key), orjson.dumps(value), ex=ttl_s)
        await batch.run()

    # -- registries: subscriptions and organisations -------------------------------------------------
    async def _registry(self, name: str) -> tuple[int, list[bytes]]:
        key, rev_key = self._k.registry(name)
        batch = Batch(self._r)
        batch.call("get", rev_key)
        batch.call("hgetall", key)
        rev, raw = await batch.run()
        return int(rev or 0), [v for _, v in sorted(raw.items())]

    async def _registry_put(self, name: str, ident: str, doc: dict[str, Any]) -> None:
        await self._reg_put(keys=list(self._k.registry(name)), args=[ident, orjson.dumps(doc)])

    async def _registry_remove(self, name: str, ident: str) -> bool:
        return bool(await self._reg_remove(keys=list(self._k.registry(name)), args=[ident]))

    async def subscriptions(self) -> tuple[int, list[Subscription]]:
        rev, raw = await self._registry("subs")
        return rev, [Subscription.model_validate(orjson.loads(v)) for v in raw]

    async def put_subscription(self, sub: Subscription) -> None:
        await self._registry_put("subs", sub.id, sub.to_json())

    async def remove_subscription(self, sub_id: str) -> bool:
        return await self._registry_remove("subs", sub_id)

    async def organisations(self) -> tuple[int, list[Organisation]]:
        rev, raw = await self._registry("orgs")
        return rev, [Organisation.model_validate(orjson.loads(v)) for v in raw]

    async def put_organisation(self, org: Organisation) -> None:
        await self._registry_put("orgs", org.id, org.to_json())

    async def remove_organisation(self, org_id: str) -> bool:
        return await self._registry_remove("orgs", org_id)

    # -- erasure ------------------------------------------------------------------------------------
    def erased_key(self, indicator_id: str) -> str:
        return self._k.erased(indicator_id)

    @property
    def audit_key(self) -> str:
        return self._k.audit

    async def mark_erased(self, indicator_id: str, audit: Mapping[str, Any]) -> None:
        record = orjson.dumps(dict(audit))
        if self._cluster:
            # The marker and the audit list are in different slots: the audit record first, so a crash in
            # between leaves an erasure that is recorded and not yet enforced (the erasure is retried),
            # never one enforced without its record.
            await self._r.rpush(self._k.audit, record)
            await self._r.set(self._k.erased(indicator_id), str(audit.get("at", "")), nx=True)
            return
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._k.erased(indicator_id), str(audit.get("at", "")), nx=True)
            pipe.rpush(self._k.audit, record)
            await pipe.execute()

    async def erased(self, indicator_ids: Sequence[str]) -> list[bool]:
        # A marker is a string, its value the erasure time, possibly empty: present is erased.
        found = await mget(self._r, [self._k.erased(ind) for ind in indicator_ids])
        return [v is not None for v in found]

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        if limit < 1:
            return []
        raw = await self._r.lrange(self._k.audit, -limit, -1)
        return [orjson.loads(item) for item in raw]

    async def delete_indicator(self, indicator_id: str, sco_id: str) -> None:
        # The sighting marks name the indicator inside their key, beside its state (one shard): found by
        # a SCAN (SCAN does not block the server as KEYS would).
        mark_prefix = self._k.submission(indicator_id, "sighting:")
        pattern = glob_escape(mark_prefix) + "*" + glob_escape(f":{indicator_id}:") + "*"
        marks = [key async for key in self._r.scan_iter(match=pattern, count=1000)]
        keys = [self._k.state(indicator_id), self._k.cache(sco_id), *marks]
        await bounded([functools.partial(self._r.delete, k) for k in keys])

    @property
    def client(self) -> Any:
        """The underlying client (a ``redis.asyncio.Redis`` or ``RedisCluster``), for operational commands
        (memory usage, info)."""
        return self._r

    @property
    def keys(self) -> Keys:
        return self._k

    @property
    def is_cluster(self) -> bool:
        return self._cluster


def _delivered_marks(
    subscriber_ids: Sequence[str], rows: Sequence[Sequence[bytes | None]]
) -> list[dict[str, int]]:
    """Per indicator, subscriber → delivered version, from its ``HMGET`` of the subscribers' ``d:`` fields."""
    return [
        {sub: int(v) for sub, v in zip(subscriber_ids, row, strict=True) if v is not None} for row in rows
    ]
