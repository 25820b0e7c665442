"""The benchmark's pre-written partitions (pipeline/dev/bench_prewrite.py), on the session's broker.

On Apache Kafka every partition ends with its pre-written records deleted, so a reader from the beginning
(the worker's new group, the feed readers, the passthrough loop) sees only what is written after. On tansu
DeleteRecords is refused at the probe, and no other topic is written.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import TopicPartition

from pipeline.config import Settings
from pipeline.dev.bench_prewrite import FILLER_BYTES, prewrite
from pipeline.kafka.clients import build_admin, build_consumer, build_producer, produce
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import TopicSpec, ensure_topics
from tests.conftest import StackAddresses

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def watermarks(settings: Settings, topic: str, partitions: int) -> list[tuple[int, int]]:
    consumer = build_consumer(settings, f"wm-{uuid.uuid4().hex[:6]}")
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(partitions)
        ]
    finally:
        consumer.close()


def test_prewrite_leaves_every_partition_empty_to_readers_or_touches_nothing_where_refused(
    stack: StackAddresses,
) -> None:
    settings = Settings(bootstrap=stack.bootstrap)
    tag = uuid.uuid4().hex[:6]
    probe, inputs, feed = f"pw-{tag}.probe", f"pw-{tag}.in", f"pw-{tag}.feed"
    ensure_topics(build_admin(settings), [TopicSpec(t, 3, 1) for t in (probe, inputs, feed)])

    done = prewrite(settings, [inputs, feed], probe=probe)

    if stack.engine == "tansu":  # DeleteRecords closes the connection: refused at the probe, nothing else
        assert done["done"] is False and done["partitions"] == 0 and done["refused"] and done["seconds"] > 0
        assert watermarks(settings, inputs, 3) == watermarks(settings, feed, 3) == [(0, 0)] * 3
        return
    assert done == {"done": True, "partitions": 9, "seconds": done["seconds"]} and done["seconds"] > 0
    for topic in (probe, inputs, feed):  # two records written (past the first index entry), both deleted
        assert watermarks(settings, topic, 3) == [(2, 2)] * 3, topic
    assert FILLER_BYTES > 4096  # Kafka's default index.interval.bytes
    assert read_to_end(settings, [inputs, feed]) == []
    producer = build_producer(settings)
    produce(producer, inputs, b"k", b"real", partition=1)
    assert producer.flush(10) == 0
    assert [(r.partition, r.offset, r.value) for r in read_to_end(settings, inputs)] == [(1, 2, b"real")]
