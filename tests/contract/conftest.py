"""The contract suite's Redis: one real server for the session, whatever broker the integration tests use.

The store contract is about Redis, not Kafka, so its Redis half runs once (not once per broker engine):
``SCAMSHARE_TEST_REDIS_URL`` when set, else an embedded stack of its own (its Redis starts in milliseconds).
The store's contract runs on a Redis Cluster too: three cluster-mode primaries on loopback, started once
for the session (``SCAMSHARE_TEST_REDIS_CLUSTER_URL`` names one node of an existing cluster instead).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from pipeline.dev.redis_cluster import RedisClusterStack
from pipeline.dev.stack import EmbeddedStack
from pipeline.state.redis_store import RedisStore, glob_escape


@pytest.fixture(scope="session")
def contract_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SCAMSHARE_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedStack(Path(tmp_path_factory.mktemp("contract-stack"))) as embedded:
        yield embedded.redis_url


@pytest.fixture
def contract_prefix() -> str:
    return f"c{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def redis_store(contract_redis_url: str, contract_prefix: str) -> AsyncIterator[RedisStore]:
    """A RedisStore on a prefix of its own; its keys are deleted afterwards."""
    s = RedisStore.from_url(contract_redis_url, prefix=contract_prefix)
    yield s
    await s.close()
    client = redis.Redis.from_url(contract_redis_url)
    try:
        keys = list(client.scan_iter(match=glob_escape(contract_prefix) + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@pytest.fixture(scope="session")
def contract_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SCAMSHARE_TEST_REDIS_CLUSTER_URL")
    if external:
        yield external
        return
    with RedisClusterStack(Path(tmp_path_factory.mktemp("contract-cluster")), primaries=3) as cluster:
        yield cluster.url


@pytest.fixture
async def cluster_store(contract_cluster_url: str, contract_prefix: str) -> AsyncIterator[RedisStore]:
    """A RedisStore on a 3-primary Redis Cluster, on a prefix of its own; its keys are deleted afterwards."""
    s = RedisStore.from_url(contract_cluster_url, prefix=contract_prefix, cluster=True)
    yield s
    client = s.client
    try:
        keys = [k async for k in client.scan_iter(match=glob_escape(contract_prefix) + "*", count=1000)]
        for key in keys:  # one slot per DEL on a cluster
            await client.delete(key)
    finally:
        await s.close()
