"""Commands sent together: one pipeline on a single Redis, concurrent single-slot calls on Redis Cluster.

redis-py's cluster pipeline refuses scripts (EVALSHA) and multi-key reads (MGET), which are what the store
batches. So on a cluster the same commands go out as concurrent calls, each routed to the primary of its
slot (at most :data:`CONCURRENCY` in flight: a node's connection pool is bounded); on one Redis (or
Sentinel) they stay one pipeline, one round trip. Each command touches one slot either way — the key
layout (:mod:`pipeline.state.redis_keys`) sees to it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot

__all__ = ["CONCURRENCY", "Batch", "is_cluster", "mget"]

CONCURRENCY = 32

#: a ``redis.asyncio.Redis`` or ``RedisCluster`` (typed loosely: redis-py's stubs disagree on pipelines)
Client = Any


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)


class Batch:
    """Queue commands (``batch.call("hgetall", key)``, ``batch.script(s, keys, args)``), then ``await
    batch.run()``: their replies in the order queued."""

    __slots__ = ("_calls", "_client")

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls: list[tuple[str | AsyncScript, tuple[Any, ...], dict[str, Any]]] = []

    def call(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._calls.append((name, args, kwargs))

    def script(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> None:
        self._calls.append((script, (list(keys), list(args)), {}))

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self) -> list[Any]:
        if not self._calls:
            return []
        if not is_cluster(self._client):
            async with self._client.pipeline(transaction=False) as pipe:
                for what, args, kwargs in self._calls:
                    if isinstance(what, str):
                        getattr(pipe, what)(*args, **kwargs)
                    else:
                        await what(keys=args[0], args=args[1], client=pipe)
                return list(await pipe.execute())
        await self._client.initialize()  # once (it locks): concurrent first calls must not each discover
        return await bounded([self._one(what, args, kwargs) for what, args, kwargs in self._calls])

    def _one(
        self, what: str | AsyncScript, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Callable[[], Awaitable[Any]]:
        client = self._client
        if isinstance(what, str):
            return lambda: getattr(client, what)(*args, **kwargs)
        return lambda: what(keys=args[0], args=args[1], client=client)


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int = CONCURRENCY) -> list[Any]:
    """Await every call, at most ``limit`` at a time; their results in order (the first error raises)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def mget(client: Client, keys: Sequence[str]) -> list[bytes | None]:
    """MGET of keys in any slots: one MGET on a single Redis; on a cluster one per slot, reassembled."""
    if not keys:
        return []
    if not is_cluster(client):
        return list(await client.mget(keys))
    await client.initialize()
    by_slot: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_slot.setdefault(key_slot(key.encode()), []).append(i)
    groups = list(by_slot.values())
    replies = await bounded([functools.partial(client.mget, [keys[i] for i in g]) for g in groups])
    out: list[bytes | None] = [None] * len(keys)
    for group, values in zip(groups, replies, strict=True):
        for i, value in zip(group, values, strict=True):
            out[i] = value
    return out
