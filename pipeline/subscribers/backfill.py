"""Backfill: replay the current state of every indicator into one subscriber's feed.

``scam.indicators`` is compacted, so reading it from the beginning to its end gives (at least) the latest
version of every indicator. The records go through the fan-out step restricted to one subscriber
(``DeliverStep(only={id})``), so the same routing and TLP rules apply, and the per-subscriber version marks
in Redis skip what the subscriber already has: a second backfill delivers nothing.

The end is the high watermark each partition's fetch reports (``enable.partition.eof``), not a
ListOffsets answer, which the embedded broker gets wrong (ENVIRONMENT.md).

A backfill running while a worker fans out the same indicator can send that version twice (both mark it
delivered, the counters move once); subscribers treat the same id and ``modified`` as one version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from pipeline.config import Settings
from pipeline.errors import KafkaError as ScamshareKafkaError
from pipeline.kafka.clients import build_admin, build_consumer, build_producer
from pipeline.kafka.emit import KafkaEmitter
from pipeline.kafka.topics import ensure_topics, feed_topic_spec
from pipeline.state.redis_store import RedisStore
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.subscriptions import SubscriptionError
from pipeline.wire.headers import header_map
from pipeline.wire.message import InMessage

logger = logging.getLogger(__name__)


def backfill(
    settings: Settings, subscriber_id: str, *, batch_size: int = 500, timeout_s: float = 120.0
) -> int:
    """Deliver the matching current state to ``subscriber_id``'s feed; returns the number delivered.

    Raises SubscriptionError if the subscriber does not exist, KafkaError if the end of the topic is not
    reached within ``timeout_s``.
    """
    return asyncio.run(backfill_async(settings, subscriber_id, batch_size=batch_size, timeout_s=timeout_s))


async def backfill_async(
    settings: Settings, subscriber_id: str, *, batch_size: int = 500, timeout_s: float = 120.0
) -> int:
    """:func:`backfill` for callers already inside an event loop (the Kafka reads block it meanwhile)."""
    url = settings.redis_url_value()
    if url is None:
        raise SubscriptionError("backfill needs Redis: pass --redis-url")
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix, dedup_ttl_s=settings.dedup_window_s)
    consumer: Consumer | None = None
    try:
        _rev, subs = await store.subscriptions()
        if subscriber_id not in {s.id for s in subs}:
            raise SubscriptionError(
                f"no subscriber {subscriber_id!r}: add it with `scamshare subscribers add`"
            )
        admin = build_admin(settings)
        loop = asyncio.get_running_loop()

        async def ensure_feeds(names: list[str]) -> None:
            specs = [feed_topic_spec(settings, n) for n in names]
            await loop.run_in_executor(None, lambda: ensure_topics(admin, specs, 30.0))

        emitter = KafkaEmitter(build_producer(settings))
        channels = kafka_channels(emitter, settings.topics.prefix, ensure_feeds)
        step = DeliverStep(store, emitter, settings.topics, channels, only=frozenset({subscriber_id}))
        # Assigned, not subscribed: no group join, nothing committed; the group id is only required.
        consumer = build_consumer(settings, f"{settings.app_id}.backfill", **{"enable.partition.eof": True})
        delivered = 0
        read = 0
        for batch in _read_to_end(consumer, settings.topics.indicators, batch_size, timeout_s):
            read += len(batch)
            delivered += await step.process(batch)
        logger.info("backfill subscriber=%s read=%d delivered=%d", subscriber_id, read, delivered)
        return delivered
    finally:
        if consumer is not None:
            consumer.close()
        await store.close()


def _read_to_end(consumer: Consumer, topic: str, batch_size: int, timeout_s: float) -> Any:
    """Yield batches of the latest record of each key in ``topic``, as the topic stood when we started.

    Two passes: the first reads to every partition's end (EOF at the fetch's high watermark) noting the
    last offset of each key; the second yields only those records. Compaction is lazy (and the embedded
    broker does not compact), so without it a new subscriber would get every old version in turn. Memory is
    one offset per indicator, not one record.
    """
    deadline = time.monotonic() + timeout_s
    partitions = _partitions(consumer, topic)
    latest: dict[tuple[int, bytes | None], int] = {}
    last: dict[int, int] = {}
    for msg in _scan(consumer, topic, partitions, deadline, until=None):
        partition, offset = int(msg.partition() or 0), int(msg.offset() or 0)
        latest[(partition, msg.key())] = offset
        last[partition] = offset
    keep = {(p, o) for (p, _k), o in latest.items()}
    batch: list[InMessage] = []
    if not last:
        return
    for msg in _scan(consumer, topic, sorted(last), deadline, until=last):
        partition, offset = int(msg.partition() or 0), int(msg.offset() or 0)
        if (partition, offset) not in keep:
            continue
        batch.append(
            InMessage(
                topic=topic,
                partition=partition,
                offset=offset,
                key=msg.key(),
                value=msg.value() or b"",
                headers=header_map(msg.headers()),
            )
        )
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    meta = consumer.list_topics(topic, timeout=10)
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise ScamshareKafkaError(f"topic {topic} does not exist: run `scamshare topics create`")
    return sorted(info.partitions)


def _scan(
    consumer: Consumer, topic: str, partitions: list[int], deadline: float, until: dict[int, int] | None
) -> Iterator[Message[Any, Any]]:
    """Messages of ``partitions`` from the beginning, until each partition reports EOF (``until`` None)
    or reached its offset in ``until``."""
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    pending = set(partitions)
    try:
        while pending:
            if time.monotonic() > deadline:
                raise ScamshareKafkaError(
                    f"backfill did not reach the end of {topic} in time ({len(pending)} partition(s) left)"
                )
            for msg in consumer.consume(500, 0.2):
                partition = int(msg.partition() or 0)
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if until is None:
                            pending.discard(partition)
                        continue
                    raise ScamshareKafkaError(f"reading {topic}: {err.str()}")
                if until is not None and partition in until and int(msg.offset() or 0) >= until[partition]:
                    pending.discard(partition)
                    if int(msg.offset() or 0) > until[partition]:
                        continue
                if partition in pending or until is not None:
                    yield msg
    finally:
        consumer.unassign()
