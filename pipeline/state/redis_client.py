"""The asyncio Redis client the worker and the gateway use: redis-py, with commands packed by hiredis.

redis-py's asyncio connection packs every command in Python, one argument at a time (its synchronous
connection hands that to hiredis when hiredis is installed; the asyncio one does not). A worker batch
writes tens of arguments per indicator, and that packing was about a tenth of the worker's CPU in
``scamshare bench pipeline --profile``. :class:`HiredisPackedConnection` packs with ``hiredis.pack_command``
(the same RESP bytes, written in C) and falls back to redis-py's packer for anything hiredis refuses.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
import redis.cluster
from hiredis import pack_command as _hiredis_pack  # a dependency: redis[hiredis]
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection


def _pack(conn: AbstractConnection, args: tuple[Any, ...]) -> list[bytes]:
    if isinstance(args[0], float):
        return AbstractConnection.pack_command(conn, *args)
    # Like redis-py: a command name with literal arguments in it ("CONFIG GET") is split; they are sent apart.
    head = args[0].encode() if isinstance(args[0], str) else args[0]
    if b" " in head:
        args = (*head.split(), *args[1:])
    # bool cannot be subclassed, so the type test is exact; ``in`` over ``map`` runs in C (half the time of
    # an isinstance generator, and a batch's script calls carry thousands of arguments).
    if bool in map(type, args):
        return AbstractConnection.pack_command(conn, *args)  # redis-py refuses booleans with its own error
    try:
        return [_hiredis_pack(args)]
    except TypeError:  # a type hiredis does not pack (memoryview subclasses, ...): redis-py's rules apply
        return AbstractConnection.pack_command(conn, *args)


class HiredisPackedConnection(Connection):
    def pack_command(self, *args: Any) -> list[bytes]:
        return _pack(self, args)


class HiredisPackedSSLConnection(SSLConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        return _pack(self, args)


class HiredisPackedUnixConnection(UnixDomainSocketConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        return _pack(self, args)


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: HiredisPackedConnection,
    SSLConnection: HiredisPackedSSLConnection,
    UnixDomainSocketConnection: HiredisPackedUnixConnection,
}


def redis_from_url(url: str, *, cluster: bool = False, **kwargs: Any) -> Any:
    """``redis.asyncio.Redis.from_url(url, **kwargs)`` (bytes replies unless told otherwise), packing with
    hiredis. The URL decides the connection kind (redis://, rediss://, unix://) as it does in redis-py.

    ``cluster``: a ``redis.asyncio.RedisCluster`` that discovers the cluster from the node at ``url``
    (redis-py's own packer: its nodes build their connections themselves)."""
    kwargs.setdefault("decode_responses", False)
    if cluster:
        return RedisCluster.from_url(url, **kwargs)
    client = aioredis.Redis.from_url(url, **kwargs)
    pool = client.connection_pool
    pool.connection_class = _PACKED.get(pool.connection_class, pool.connection_class)
    return client


def sync_redis_from_url(url: str, *, cluster: bool = False, **kwargs: Any) -> Any:
    """The synchronous client of the operator tools (lag history, exporter, canary): ``redis.Redis``, or with
    ``cluster`` a ``redis.cluster.RedisCluster`` discovered from the node at ``url``. They send single-key
    commands only, in non-transactional pipelines, which a cluster client splits by node."""
    if cluster:
        return redis.cluster.RedisCluster.from_url(url, **kwargs)
    return redis.Redis.from_url(url, **kwargs)
