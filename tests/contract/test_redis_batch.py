"""``Batch`` on a single Redis and on a 3-primary Redis Cluster: the same replies, in the order queued.

A batch is one pipeline (on the cluster one per primary, an MGET over several slots split per slot and
reassembled); its scripts go out as EVALSHA, loaded once per client, with no SCRIPT EXISTS round trip per
batch. A server that lost its scripts fails the batch with NoScriptError (the worker retries it as
infrastructure) and the next batch loads them again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from redis.exceptions import NoScriptError

from pipeline.state.redis_batch import Batch, is_cluster
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_store import glob_escape

pytestmark = pytest.mark.integration

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture(params=["single", "cluster"])
async def client(request: pytest.FixtureRequest, contract_prefix: str) -> AsyncIterator[Any]:
    cluster = request.param == "cluster"
    url: str = request.getfixturevalue("contract_cluster_url" if cluster else "contract_redis_url")
    c = redis_from_url(url, cluster=cluster)
    try:
        yield c
    finally:
        for key in [k async for k in c.scan_iter(match=glob_escape(contract_prefix) + "*", count=1000)]:
            await c.delete(key)
        await c.aclose()


async def test_replies_come_back_in_the_order_queued_whatever_the_slots(
    client: Any, contract_prefix: str
) -> None:
    keys = [f"{contract_prefix}{{{n:02d}}}k" for n in range(40)]  # 40 hash tags: slots on every primary
    script = client.register_script(INCR_BY)
    batch = Batch(client)
    for n, key in enumerate(keys[:20]):
        batch.call("set", key, f"v{n}")
    for n, key in enumerate(keys[20:30]):
        batch.script(script, [key], [n + 1])
    batch.call("mget", [keys[29], "missing-" + keys[0], keys[3], keys[25], keys[0]])
    batch.call("get", keys[7])
    replies = await batch.run()
    assert replies[:20] == [True] * 20
    assert replies[20:30] == list(range(1, 11))
    assert replies[30] == [b"10", None, b"v3", b"6", b"v0"]
    assert replies[31] == b"v7"


async def test_a_primary_that_lost_its_scripts_fails_one_batch_and_the_next_loads_them_again(
    client: Any, contract_prefix: str
) -> None:
    script = client.register_script(INCR_BY)
    keys = [f"{contract_prefix}{{{n:02d}}}s" for n in range(12)]

    def batch() -> Batch:
        b = Batch(client)
        for key in keys:
            b.script(script, [key], [1])
        return b

    assert await batch().run() == [1] * len(keys)
    for node in await _nodes(client):  # what a restarted or promoted primary looks like
        node.script_flush()
        node.close()
    with pytest.raises(NoScriptError):  # every EVALSHA refused: no script of the batch ran
        await batch().run()
    assert await batch().run() == [2] * len(keys)  # the next batch loads them again


async def test_scripts_are_loaded_once_per_client_not_checked_before_every_batch(
    client: Any, contract_prefix: str
) -> None:
    # redis-py's pipeline sends SCRIPT EXISTS before every pipeline that carries a script: one more round
    # trip per batch, on the worker's every merge, delivery mark and read.
    script = client.register_script(INCR_BY + " -- " + contract_prefix)  # a SHA no other test loaded
    key = f"{contract_prefix}{{once}}n"
    if is_cluster(client):
        await client.initialize()  # its primaries known
    nodes = await _nodes(client)
    before = [_script_calls(node) for node in nodes]
    for n in range(5):
        b = Batch(client)
        b.script(script, [key], [1])
        b.call("get", key)
        assert await b.run() == [n + 1, str(n + 1).encode()]
    after = [_script_calls(node) for node in nodes]
    for node in nodes:
        node.close()
    # One SCRIPT LOAD on every server (every primary of a cluster), then nothing: no SCRIPT EXISTS.
    assert [a - b for a, b in zip(after, before, strict=True)] == [1] * len(nodes)


def _script_calls(node: redis.Redis) -> int:
    """SCRIPT calls the server has answered: every subcommand (Redis 6 counts them as one command)."""
    stats = node.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k.split("|")[0] == "cmdstat_script")


async def _nodes(client: Any) -> list[redis.Redis]:
    if is_cluster(client):
        return [redis.Redis(host=n.host, port=n.port) for n in client.get_primaries()]
    kwargs = client.connection_pool.connection_kwargs
    return [redis.Redis(host=kwargs["host"], port=kwargs["port"])]
