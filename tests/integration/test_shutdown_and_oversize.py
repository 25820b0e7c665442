"""Nothing is lost at the edges: a worker stopped mid-retry commits nothing it did not process, and a message
bigger than the DLQ could carry whole is dead-lettered as a bounded prefix with its size and SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from pipeline.config import Settings
from pipeline.dev.proc import free_port
from pipeline.kafka.clients import build_admin, build_producer, produce
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import TopicSpec, ensure_topics, input_topic_spec, pipeline_topics
from pipeline.ops.lag import group_lag
from pipeline.producers.publisher import build_submission
from pipeline.state.redis_store import RedisStore
from pipeline.wire.headers import (
    DLQ_MAX_VALUE_BYTES,
    HEADER_ORIGINAL_SHA256,
    HEADER_ORIGINAL_SIZE,
    HEADER_REASON,
    HEADER_TRUNCATED,
)
from tests.integration.helpers import (
    canon,
    enrol_async,
    running_worker,
    start_worker,
    stop_worker,
    wait_processed,
)

pytestmark = [pytest.mark.integration]

BIG = 12 * 1024 * 1024  # what the test's own producer and topic allow; the pipeline's limit is 1,000,000


def send(settings: Settings, values: list[tuple[bytes, bytes]]) -> None:
    producer = build_producer(settings, **{"message.max.bytes": BIG})
    for key, value in values:
        produce(producer, settings.topics.submissions_of("telco-th"), key, value)
    assert producer.flush(30) == 0


def reports(n: int) -> list[tuple[bytes, bytes]]:
    now = datetime.now(UTC)
    domains = [canon("domain", f"shutdown-{i}.example.com") for i in range(n)]
    subs = [build_submission(c, producer="telco-th", now=now) for c in domains]
    return [(s.key.encode(), s.value) for s in subs]


def wait_for(log: Path, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {log}:\n" + log.read_text(errors="replace")[-3000:])


@contextmanager
def redis_refusing_writes(client: redis.Redis) -> Iterator[None]:
    """maxmemory 1 byte (policy noeviction): every write, scripts included, gets OOM; reads still work."""
    before = client.config_get("maxmemory")["maxmemory"]  # redis-py decodes CONFIG GET
    client.config_set("maxmemory", 1)
    try:
        yield
    finally:
        client.config_set("maxmemory", before)


def wait_checked(client: redis.Redis, settings: Settings, proc: subprocess.Popen[bytes]) -> None:
    """Until the worker has checked its Redis (it marks a fresh prefix with the key layout)."""
    deadline = time.monotonic() + 60
    while client.get(f"{settings.redis_key_prefix}layout") is None:
        assert proc.poll() is None and time.monotonic() < deadline, "the worker never checked its Redis"
        time.sleep(0.1)


async def test_a_worker_stopped_while_retrying_commits_nothing_it_did_not_process(
    settings: Settings, store: RedisStore, redis_client: redis.Redis, tmp_path: Path
) -> None:
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    await enrol_async(settings, store, "telco-th")
    inputs = [settings.topics.submissions, settings.topics.submissions_of("telco-th")]

    # Redis refuses every write once the worker is up: each batch fails for an infrastructure reason and is
    # retried, never acked (and never dead-lettered: OOM is not the reports' fault).
    log = tmp_path / "stuck-worker.log"
    stuck = start_worker(settings, log)
    try:
        wait_checked(redis_client, settings, stuck)
        with redis_refusing_writes(redis_client):
            send(settings, reports(3))
            shared = build_producer(settings)  # and one on the shared topic (it names no organisation)
            produce(shared, settings.topics.submissions, b"k", reports(1)[0][1])
            assert shared.flush(30) == 0
            wait_for(log, "ingest failed (attempt 2")
            stop_worker(stuck)  # SIGTERM in the middle of the retries
    finally:
        stop_worker(stuck)
    assert stuck.returncode is not None
    assert "dead-lettered" not in log.read_text(errors="replace")
    lag = group_lag(settings, build_admin(settings), settings.app_id, inputs, "fetch")
    assert lag.lag == 4, f"offsets committed past unprocessed messages: {lag}"

    # Redis unreachable from the start: the worker does not read a message before it could check Redis.
    unreachable = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    log = tmp_path / "unreachable-worker.log"
    waiting = start_worker(unreachable, log)
    try:
        wait_for(log, "Redis not checked yet, retrying")
    finally:
        stop_worker(waiting)
    lag = group_lag(settings, build_admin(settings), settings.app_id, inputs, "fetch")
    assert lag.lag == 4, f"offsets committed past unprocessed messages: {lag}"

    # The next worker gets all four, and each counts once.
    with running_worker(settings, log=tmp_path / "worker.log") as worker:
        stats = await wait_processed(settings, store, 4, worker)
    assert (stats["accepted"], stats["rejected"], stats["rejected:no_identity"]) == (3, 1, 1)


@pytest.mark.parametrize(("topic", "size"), [("submissions", 1536 * 1024), ("sightings", 1200 * 1024)])
async def test_a_message_too_big_for_the_dlq_is_dead_lettered_as_a_bounded_prefix(
    settings: Settings, store: RedisStore, tmp_path: Path, topic: str, size: int
) -> None:
    """1.5 MiB on scam.submissions.<org> and 1.2 MB on scam.sightings.<org> (topics and sender allowing
    12 MB): before, the DLQ write failed and was retried for ever, and nothing reached the DLQ."""
    name = getattr(settings.topics, f"{topic}_of")("telco-th")  # telco-th's own topic
    own = input_topic_spec(settings, name)
    big = TopicSpec(
        own.name, own.partitions, own.replication_factor, {**own.config, "max.message.bytes": str(BIG)}
    )
    ensure_topics(build_admin(settings), [*pipeline_topics(settings), big])
    await enrol_async(settings, store, "telco-th")
    huge = b"{" + b"x" * size  # far over every pipeline limit
    producer = build_producer(settings, **{"message.max.bytes": BIG})
    produce(producer, name, b"huge", huge)
    assert producer.flush(30) == 0
    send(settings, reports(1))
    with running_worker(settings, log=tmp_path / "worker.log") as worker:
        stats = await wait_processed(settings, store, 1, worker)
        deadline = time.monotonic() + 60
        counter = "rejected" if topic == "submissions" else "sightings_rejected"
        while stats.get(f"{counter}:too_large", 0) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            stats = await store.stats()
    assert stats[f"{counter}:too_large"] == 1
    assert stats["accepted"] == 1
    [dead] = read_to_end(settings, [settings.topics.dlq], timeout_s=30)
    headers = dict(dead.headers)
    assert dead.key == b"huge"
    assert headers[HEADER_TRUNCATED] == b"1"
    assert headers[HEADER_ORIGINAL_SIZE] == str(len(huge)).encode()
    assert headers[HEADER_ORIGINAL_SHA256] == hashlib.sha256(huge).hexdigest().encode()
    assert headers[HEADER_REASON].startswith(b"too_large:")
    assert dead.value == huge[:DLQ_MAX_VALUE_BYTES]
