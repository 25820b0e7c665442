"""Backfill: replay the current state of every indicator into one subscriber's feed.

``scam.indicators`` is compacted, so reading it from the beginning to its end gives (at least) the latest
version of every indicator. The records go through the fan-out step restricted to one subscriber
(``DeliverStep(only={id})``), so the same routing and TLP rules apply, and the per-subscriber version marks
in Redis skip what the subscriber already has: a second backfill delivers nothing. The subscription's TAXII
collection gets every current matching version whether its Kafka feed had it or not
(``refill_collections``): a subscription that existed before the gateway gets a full collection, and a
collection adds the same bytes only once, so that is idempotent too.

The end is the high watermark each partition's fetch reports (:mod:`pipeline.kafka.read`), not a
ListOffsets answer, which the embedded broker gets wrong (ENVIRONMENT.md).

A backfill running while a worker fans out the same indicator can send that version twice (both mark it
delivered, the counters move once); subscribers treat the same id and ``modified`` as one version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from pipeline.config import Settings
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.emit import KafkaEmitter
from pipeline.kafka.read import iter_to_end, reader
from pipeline.kafka.topics import ensure_topics, feed_topic_spec
from pipeline.state.redis_store import RedisStore
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.subscriptions import SubscriptionError
from pipeline.subscribers.taxii_channel import redis_taxii_channel
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
    store = RedisStore.from_settings(settings, dedup_ttl_s=settings.dedup_window_s)
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
        collections = redis_taxii_channel(store.client, settings.redis_key_prefix)
        only = frozenset({subscriber_id})
        step = DeliverStep(
            store, emitter, settings.topics, channels, only=only, collections=collections,
            refill_collections=True,
        )  # fmt: skip
        delivered = 0
        read = 0
        for batch in _latest_records(settings, settings.topics.indicators, batch_size, timeout_s):
            read += len(batch)
            delivered += await step.process(batch)
        logger.info("backfill subscriber=%s read=%d delivered=%d", subscriber_id, read, delivered)
        return delivered
    finally:
        await store.close()


def _latest_records(
    settings: Settings, topic: str, batch_size: int, timeout_s: float
) -> Iterator[list[InMessage]]:
    """Yield batches of the latest record of each key in ``topic``, as the topic stood when we started.

    Two passes: the first reads to every partition's end (the high watermark a fetch reports) noting the
    last offset of each key; the second reads up to the same ends and yields only those records.
    Compaction is lazy (and the embedded broker does not compact), so without it a new subscriber would
    get every old version in turn. Memory is one offset per indicator, not one record.
    """
    deadline = time.monotonic() + timeout_s
    # The group id is only required: assigned, not subscribed, so no group join and nothing committed.
    group = f"{settings.app_id}.backfill"
    latest: dict[tuple[int, bytes | None], int] = {}
    ends: dict[tuple[str, int], int] = {}
    for record in iter_to_end(reader(settings, group), topic, timeout_s=timeout_s):
        latest[(record.partition, record.key)] = record.offset
        ends[(topic, record.partition)] = record.offset + 1
    keep = {(p, o) for (p, _k), o in latest.items()}
    batch: list[InMessage] = []
    if not ends:
        return
    remaining = max(0.1, deadline - time.monotonic())
    for record in iter_to_end(reader(settings, group), topic, timeout_s=remaining, ends=ends):
        if (record.partition, record.offset) not in keep:
            continue
        batch.append(
            InMessage(
                topic=topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value or b"",
                headers=record.header_map(),
            )
        )
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
