"""Commands sent together: one pipeline on a single Redis, one pipeline per primary on Redis Cluster.

Scripts go out as ``EVALSHA``, loaded once per client (``SCRIPT LOAD``, on every primary of a cluster)
before the first batch that needs them. redis-py's own pipeline would send ``SCRIPT EXISTS`` before every
pipeline that carries a script, one more round trip per batch; and its cluster pipeline refuses EVALSHA
and MGET by name. So on one Redis (or Sentinel) a batch is one pipeline, one round trip. On a cluster it
is redis-py's cluster pipeline, which groups the commands by the node that serves their slot and sends each
node its share in one round trip (concurrently), an MGET of keys in several slots as one MGET per slot,
reassembled. Each command touches one slot either way: the key layout (:mod:`pipeline.state.redis_keys`)
sees to it. ``bench pipeline`` on a 3-primary cluster: 1,301-1,366/s (one concurrent call per command
before: 883-885/s), against 1,493-1,498/s on one Redis in the same hour.

A batch that fails for any reason forgets what was loaded for its client, so the next one loads again: a
restarted or promoted primary has lost its scripts (its first batch fails with NoScriptError, which the
worker retries as infrastructure), and the connection error that usually comes first clears them too.
"""

from __future__ import annotations

import asyncio
import weakref
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
        cluster = is_cluster(self._client)
        if cluster:
            await self._client.initialize()  # once (it locks): concurrent first calls must not each discover
        try:
            await _load_scripts(self._client, [w for w, _, _ in self._calls if not isinstance(w, str)])
            return await (self._cluster_pipeline() if cluster else self._pipeline())
        except Exception:
            _LOADED.pop(self._client, None)  # a restart, a failover, a flush: load them again next time
            raise

    async def _pipeline(self) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for what, args, kwargs in self._calls:
                if isinstance(what, str):
                    getattr(pipe, what)(*args, **kwargs)
                else:
                    _evalsha(pipe, what, args)
            return list(await pipe.execute())

    async def _cluster_pipeline(self) -> list[Any]:
        # Per call: None (one reply) or, for an MGET, its keys' positions per slot.
        plan: list[list[list[int]] | None] = []
        async with self._client.pipeline(transaction=False) as pipe:
            for what, args, kwargs in self._calls:
                if not isinstance(what, str):
                    _evalsha(pipe, what, args)
                    plan.append(None)
                elif what == "mget":
                    groups = _by_slot(list(args[0]))
                    for group in groups:
                        pipe.execute_command("MGET", *(args[0][i] for i in group))
                    plan.append(groups)
                else:
                    getattr(pipe, what)(*args, **kwargs)
                    plan.append(None)
            replies = iter(await pipe.execute())
        out: list[Any] = []
        for (_, args, _), plan_of in zip(self._calls, plan, strict=True):
            if plan_of is None:
                out.append(next(replies))
                continue
            values: list[Any] = [None] * len(args[0])
            for group in plan_of:
                for i, value in zip(group, next(replies), strict=True):
                    values[i] = value
            out.append(values)
        return out


def _evalsha(pipe: Any, script: AsyncScript, args: tuple[Any, ...]) -> None:
    """Queue ``script`` by its SHA (:func:`_load_scripts` loaded it): ``args`` are its (keys, argv)."""
    keys, argv = args
    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *argv)


#: the scripts (by SHA) loaded on the server, or on every primary of a cluster, per client
_LOADED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


async def _load_scripts(client: Client, scripts: Sequence[AsyncScript]) -> None:
    loaded = _LOADED.setdefault(client, set())
    for script in {s.sha: s for s in scripts if s.sha not in loaded}.values():
        await client.script_load(script.script)  # SCRIPT LOAD goes to every primary
        loaded.add(script.sha)


def _by_slot(keys: Sequence[Any]) -> list[list[int]]:
    by_slot: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_slot.setdefault(key_slot(key.encode() if isinstance(key, str) else key), []).append(i)
    return list(by_slot.values())


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int = CONCURRENCY) -> list[Any]:
    """Await every call, at most ``limit`` at a time; their results in order (the first error raises)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def mget(client: Client, keys: Sequence[str]) -> list[bytes | None]:
    """MGET of keys in any slots: one MGET on a single Redis; on a cluster one per slot, pipelined per
    primary (:class:`Batch`) and reassembled."""
    if not keys:
        return []
    if not is_cluster(client):
        return list(await client.mget(keys))
    batch = Batch(client)
    batch.call("mget", list(keys))
    [values] = await batch.run()
    return list(values)
