"""The key layout's version on a real Redis: a worker refuses an earlier layout, and the migration moves
its keys so the store finds them again (pipeline/state/redis_layout)."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner, Result

from pipeline.cli.context import CliContext
from pipeline.cli.state import state
from pipeline.config import Settings
from pipeline.state.redis_fields import state_to_fields
from pipeline.state.redis_layout import LayoutError, check_layout, check_mode
from pipeline.state.redis_store import LAYOUT, RedisStore
from pipeline.state.subscription import Subscription
from tests.contract.test_store_contract import STATE

pytestmark = pytest.mark.integration

IND = STATE.indicator_id
UUID = IND.removeprefix("indicator--")
SIGHTING = f"sighting:telco:{IND}:blocked"
SUB = Subscription(id="telco", name="Telco", sector="telecom", organisation="telco-th")


async def write_layout_1(store: RedisStore) -> None:
    """What layout 1 left in Redis: untagged keys, one stats hash, untagged registries."""
    r, p = store.client, store.keys.p
    fields = dict(zip(state_to_fields(STATE)[::2], state_to_fields(STATE)[1::2], strict=True))
    await r.hset(f"{p}i:{UUID}", mapping={**fields, "d:telco": "1"})
    await r.set(f"{p}erased:{UUID}", "2026-11-22T10:00:00Z")
    await r.set(f"{p}s:{SIGHTING}", "1", ex=3600)
    await r.set(f"{p}s:report-1", "1", ex=3600)  # names no indicator: left to expire
    await r.hset(f"{p}stats", mapping={"accepted": 5, "delivered:telco": 1})
    await r.hset(f"{p}subs", SUB.id, json.dumps(SUB.to_json()))
    await r.set(f"{p}subs:rev", 3)


async def migrate(redis_url: str, settings: Settings) -> Result:
    """``scamshare state migrate`` through click, off the event loop (the command runs its own)."""
    args = ["migrate", "--redis-url", redis_url]
    return await asyncio.to_thread(CliRunner().invoke, state, args, obj=CliContext(settings=settings))


async def test_a_fresh_redis_is_marked_with_the_layout(redis_store: RedisStore) -> None:
    await check_layout(redis_store)
    assert await redis_store.client.get(redis_store.keys.layout) == str(LAYOUT).encode()
    await check_layout(redis_store)  # and passes again


async def test_a_worker_refuses_layout_1_until_it_is_migrated(redis_store: RedisStore) -> None:
    await write_layout_1(redis_store)
    with pytest.raises(LayoutError, match="scamshare state migrate"):
        await check_layout(redis_store)
    assert await redis_store.load_states([IND]) == [(None, {})]  # what layout 2 would see: nothing

    settings = Settings(redis_key_prefix=redis_store.keys.p)
    url = redis_store.client.connection_pool.connection_kwargs
    redis_url = f"redis://{url['host']}:{url['port']}/0"
    result = await migrate(redis_url, settings)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["moved"] == {
        "states": 1, "erasure markers": 1, "sighting marks": 1, "registry subs": 2,
    } and report["conflicts"] == []  # fmt: skip

    await check_layout(redis_store)
    assert await redis_store.load_states([IND]) == [(STATE, {"telco": 1})]
    assert await redis_store.erased([IND]) == [True]
    assert await redis_store.seen_submissions([(IND, SIGHTING), (IND, "report-1")]) == [True, None]
    assert await redis_store.subscriptions() == (3, [SUB])
    assert await redis_store.stats() == {"accepted": 5, "delivered:telco": 1}

    again = await migrate(redis_url, settings)
    assert again.exit_code == 0 and json.loads(again.stdout)["moved"] == {}  # idempotent


async def test_a_later_layout_than_this_code_is_refused(redis_store: RedisStore) -> None:
    await redis_store.client.set(redis_store.keys.layout, str(LAYOUT + 1))
    with pytest.raises(LayoutError, match=f"layout {LAYOUT + 1}"):
        await check_layout(redis_store)


# -- the Redis mode: a cluster client on a single Redis, a plain one on a cluster node --------------------


async def test_the_cluster_mode_each_side_expects_is_checked_before_anything_is_written(
    redis_store: RedisStore, cluster_store: RedisStore, contract_redis_url: str, contract_cluster_url: str
) -> None:
    # The right mode on either side passes (and marks the layout, on the cluster too).
    await check_mode(redis_store)
    await check_layout(cluster_store)
    assert await cluster_store.client.get(cluster_store.keys.layout) == str(LAYOUT).encode()

    told_cluster = RedisStore.from_url(contract_redis_url, prefix=redis_store.keys.p, cluster=True)
    try:
        with pytest.raises(
            LayoutError, match=r"SCAMSHARE_REDIS_CLUSTER is set, but .* not a Redis Cluster node"
        ):
            await check_layout(told_cluster)
    finally:
        await told_cluster.close()

    # A plain client on one node of a 3-primary cluster would get MOVED for two thirds of the slots.
    told_single = RedisStore.from_url(contract_cluster_url, prefix=cluster_store.keys.p)
    try:
        with pytest.raises(LayoutError, match="is a Redis Cluster node: set SCAMSHARE_REDIS_CLUSTER=true"):
            await check_layout(told_single)
    finally:
        await told_single.close()
    assert await redis_store.client.get(redis_store.keys.layout) is None  # refused before any write
