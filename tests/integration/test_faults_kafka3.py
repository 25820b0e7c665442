"""Faults survived on a 3-broker Apache Kafka cluster (replication 3, min.insync.replicas 2, acks=all,
idempotent producers), with exact counts: received = accepted + rejected + allowlisted, every feed holds
every version it should, nothing is counted twice.

- a broker is SIGKILLed while thousands of reports are being processed, and restarted later;
- two workers share the consumer group: the second joins mid-stream, then one is SIGKILLed; its partitions
  move to the survivor and the lag returns to 0;
- Redis is SIGKILLed mid-stream and restarted from its append-only file: the worker retries (lag, not loss);
- the worker is SIGKILLed twice mid-stream and restarted (the crash test, on the replicated cluster).

One cluster (three combined broker+controller nodes) serves the module; each test has its own topic prefix.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.config import Settings
from pipeline.dev.kafka_jars import kafka_available
from pipeline.dev.stack import EmbeddedStack
from pipeline.state.redis_store import RedisStore
from tests.integration.crashkit import assert_exact, publish_mix, wait_received, wait_settled
from tests.integration.helpers import start_worker, stop_worker

AVAILABLE, WHY = kafka_available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not AVAILABLE, reason=f"Apache Kafka half skipped: {WHY}"),
]

REPORTS = 5000
ENV = {"SCAMSHARE_WORKER_BATCH_SIZE": "200", "SCAMSHARE_REPLICATION_FACTOR": "3"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(tmp_path_factory.mktemp("kafka3"), broker="kafka", brokers=3) as stack:
        yield stack


@pytest.fixture
def settings3(cluster: EmbeddedStack, tmp_path: Path) -> Settings:
    tid = f"f{uuid.uuid4().hex[:8]}"
    return Settings(
        bootstrap=cluster.bootstrap, redis_url=cluster.redis_url, topic_prefix=f"{tid}.",
        redis_key_prefix=f"{tid}:", app_id=tid, partitions=4, replication_factor=3,
        state_dir=tmp_path / ".scamshare",
    )  # fmt: skip


@pytest.fixture
def client3(cluster: EmbeddedStack) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(cluster.redis_url)
    yield c
    c.close()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_worker(proc, 20)


async def test_a_broker_killed_mid_stream_and_restarted_loses_nothing(
    cluster: EmbeddedStack,
    settings3: Settings,
    client3: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    assert cluster.cluster is not None
    store = RedisStore.from_url(cluster.redis_url, prefix=settings3.redis_key_prefix)
    published = await publish_mix(settings3, store, REPORTS, seed=5)
    log = tmp_path / "worker.log"
    workers.append(start_worker(settings3, log, cwd=tmp_path, extra_env=ENV))
    at_kill = await wait_received(store, published.total // 4, workers[-1], log)
    cluster.cluster.kill_node(2)
    at_restart = await wait_received(store, published.total // 2, workers[-1], log)
    cluster.cluster.restart_node(2)
    stats = await wait_settled(settings3, store, published.total, timeout_s=150)
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    print(f"broker 2 killed at {at_kill}, restarted at {at_restart} of {published.total}")
    assert at_kill < published.total
    await assert_exact(settings3, store, client3, published, stats)
    await store.close()


async def test_a_second_worker_joins_then_one_is_killed_and_the_survivor_finishes(
    cluster: EmbeddedStack,
    settings3: Settings,
    client3: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    store = RedisStore.from_url(cluster.redis_url, prefix=settings3.redis_key_prefix)
    published = await publish_mix(settings3, store, REPORTS, seed=9)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers.append(start_worker(settings3, logs[0], cwd=tmp_path, extra_env=ENV))
    joined_at = await wait_received(store, published.total // 5, workers[0], logs[0])
    workers.append(start_worker(settings3, logs[1], cwd=tmp_path, extra_env=ENV))  # a rebalance
    killed_at = await wait_received(store, published.total // 2, workers[0], logs[0])
    workers[0].kill()  # SIGKILL: its partitions move once its session times out
    workers[0].wait(10)
    stats = await wait_settled(settings3, store, published.total, timeout_s=150)
    assert workers[1].poll() is None, logs[1].read_text(errors="replace")[-3000:]
    print(f"second worker joined at {joined_at}, first killed at {killed_at} of {published.total}")
    assert killed_at < published.total
    await assert_exact(settings3, store, client3, published, stats)
    await store.close()


async def test_redis_killed_mid_stream_restarts_from_its_aof_and_the_counts_stay_exact(
    cluster: EmbeddedStack,
    settings3: Settings,
    client3: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    store = RedisStore.from_url(cluster.redis_url, prefix=settings3.redis_key_prefix)
    published = await publish_mix(settings3, store, REPORTS, seed=13)
    log = tmp_path / "worker.log"
    workers.append(start_worker(settings3, log, cwd=tmp_path, extra_env=ENV))
    at_kill = await wait_received(store, published.total // 3, workers[-1], log)
    cluster.kill_redis()  # SIGKILL: only what reached its append-only file survives
    await asyncio.sleep(3)  # the worker retries its batch (lag, not loss) while Redis is gone
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    cluster.restart_redis()
    client3.connection_pool.disconnect()
    await store.close()
    store = RedisStore.from_url(cluster.redis_url, prefix=settings3.redis_key_prefix)
    stats = await wait_settled(settings3, store, published.total, timeout_s=150)
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    assert "failed (attempt" in log.read_text(errors="replace")  # it did retry while Redis was down
    print(f"Redis killed at {at_kill} of {published.total}")
    await assert_exact(settings3, store, client3, published, stats)
    await store.close()


async def test_the_worker_sigkilled_twice_mid_stream_on_three_brokers_loses_nothing(
    cluster: EmbeddedStack,
    settings3: Settings,
    client3: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """The crash test (tests/integration/test_crash.py) on the replicated cluster."""
    store = RedisStore.from_url(cluster.redis_url, prefix=settings3.redis_key_prefix)
    published = await publish_mix(settings3, store, REPORTS, seed=17)
    log = tmp_path / "worker.log"
    workers.append(start_worker(settings3, log, cwd=tmp_path, extra_env=ENV))
    kills = []
    for fraction in (1 / 3, 2 / 3):
        kills.append(await wait_received(store, int(published.total * fraction), workers[-1], log))
        workers[-1].kill()
        workers[-1].wait(10)
        workers.append(start_worker(settings3, log, cwd=tmp_path, extra_env=ENV))
    assert kills[-1] < published.total, f"the worker finished before a kill: {kills}"
    stats = await wait_settled(settings3, store, published.total, timeout_s=150)
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    print(f"worker SIGKILLed at {kills} of {published.total}")
    await assert_exact(settings3, store, client3, published, stats)
    await store.close()
