"""The Redis quota queue under concurrent holds and releases (a real Redis server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from pipeline.state.quotas import AdmitRequest, MemoryQuotas, QuotaStore, RedisQuotas
from pipeline.wire.message import InMessage


def _msg(offset: int) -> InMessage:
    return InMessage("t.submissions.org", 0, offset, None, b"{}")


@pytest.fixture(params=["redis", "cluster"])
async def quota_client(
    request: pytest.FixtureRequest, contract_redis_url: str, contract_prefix: str
) -> AsyncIterator[Any]:
    """A client on one Redis or on the 3-primary Redis Cluster (the holds must touch one slot per call)."""
    if request.param == "cluster":
        client: Any = RedisCluster.from_url(request.getfixturevalue("contract_cluster_url"))
    else:
        client = aioredis.Redis.from_url(contract_redis_url)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=contract_prefix + "*")]
        for key in keys:  # one slot per DEL on a cluster
            await client.delete(key)
        await client.aclose()


async def test_a_message_held_while_the_last_one_is_released_is_never_orphaned(
    quota_client: Any, contract_prefix: str
) -> None:
    """Was a liveness bug: release() read ZCARD = 0, a hold ran, then release() removed the organisation
    from the set the release timer walks, so the new message was held for ever (seen as a flaky e2e).
    On the cluster the organisation's keys and ``qorgs`` are in different slots, so no script holds both."""
    quotas = RedisQuotas(quota_client, contract_prefix)
    for offset in range(1, 201):
        held = await quotas.held("org", 10)
        # The release of everything held so far races a hold of one more message.
        await asyncio.gather(
            quotas.release("org", [m.source for m in held]), quotas.hold("org", [_msg(offset)])
        )
        left = await quotas.held_count("org")
        orgs = await quotas.held_orgs()
        assert left == 0 or "org" in orgs, f"{left} message(s) held but the organisation is not listed"


async def test_admitting_several_organisations_at_once_gives_each_what_admitting_it_alone_gives(
    quota_client: Any, contract_prefix: str
) -> None:
    """One round trip for the batch (a pipeline on one Redis, one call per slot on the cluster), and each
    organisation's verdict is the in-memory reference's: its own windows, its own held queue."""
    moment = datetime(2026, 12, 3, 12, 0, 0, 250_000, tzinfo=UTC)
    requests = [
        AdmitRequest("capped", {"reports_per_second": 3}, [{"reports_per_second": 1}] * 5),
        AdmitRequest("free", {}, [{"reports_per_second": 4}] * 3),
        AdmitRequest("queued", {"reports_per_second": 100}, [{"reports_per_second": 1}]),
        AdmitRequest("new", {"new_indicators_per_hour": 2}, [{"new_indicators_per_hour": 1}] * 3),
    ]
    stores: list[QuotaStore] = [RedisQuotas(quota_client, contract_prefix, now=lambda: moment)]
    stores.append(MemoryQuotas(now=lambda: moment))
    verdicts = []
    for store in stores:
        assert await store.hold("queued", [_msg(1)]) == [True]
        verdicts.append(await store.admit_all(requests, releasing=False))
    got, want = verdicts
    assert got == want
    assert [v.admitted for v in got] == [3, 3, 0, 2]
    assert [v.limit for v in got] == ["reports_per_second", None, "held", "new_indicators_per_hour"]
    assert got[0].retry_after_ms == 750  # the rest of the one-second window
    # The windows were spent: a second call admits nothing more for the capped organisations.
    again = await stores[0].admit_all(requests[:1], releasing=False)
    assert again[0].admitted == 0
