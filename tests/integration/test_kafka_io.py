"""The Kafka I/O layer on the real broker: produce with backpressure, delivery accounting, read to end."""

from __future__ import annotations

from collections import Counter

import pytest
from confluent_kafka import TopicPartition

from pipeline.config import Settings
from pipeline.errors import KafkaError
from pipeline.kafka.clients import (
    DeliveryTracker,
    build_admin,
    build_consumer,
    build_producer,
    produce,
    wait_delivered,
)
from pipeline.kafka.read import EndNotReachedError, end_offsets, read_to_end, reader, topic_partitions
from pipeline.kafka.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _topic(settings: Settings, name: str, partitions: int = 2) -> str:
    topic = f"{settings.topic_prefix}{name}"
    ensure_topics(build_admin(settings), [TopicSpec(topic, partitions, settings.replication_factor)])
    return topic


def _send(
    settings: Settings, topic: str, n: int, *, partition: int | None = None, **overrides: object
) -> None:
    tracker = DeliveryTracker()
    producer = build_producer(settings, **overrides)
    for i in range(n):
        headers = [("i", str(i).encode())]
        produce(
            producer,
            topic,
            f"k{i}".encode(),
            f"v{i}".encode(),
            headers=headers,
            on_delivery=tracker,
            partition=partition,
        )
    wait_delivered(producer, 30, tracker=tracker)
    assert (tracker.delivered, tracker.failed) == (n, 0)


def test_500_records_in_one_batch_are_read_completely(settings: Settings) -> None:
    topic = _topic(settings, "batched", partitions=1)
    # One batch: the embedded broker's ListOffsets then says the partition ends at 1 (tansu defect 1).
    _send(settings, topic, 500, partition=0, **{"linger.ms": 1000, "batch.num.messages": 1000})

    records = read_to_end(settings, topic, timeout_s=20)

    assert [r.offset for r in records] == list(range(500))
    assert [r.value for r in records] == [f"v{i}".encode() for i in range(500)]
    assert records[7].key == b"k7" and records[7].header_map() == {"i": b"7"}
    assert all(r.topic == topic and r.partition == 0 and r.timestamp_ms for r in records)


def test_end_offsets_are_the_fetch_high_watermarks(settings: Settings) -> None:
    topic = _topic(settings, "ends")
    _send(settings, topic, 300, partition=1, **{"linger.ms": 500})
    consumer = reader(settings)
    try:
        assert end_offsets(consumer, topic_partitions(consumer, [topic])) == {(topic, 0): 0, (topic, 1): 300}
    finally:
        consumer.close()


def test_every_partition_and_topic_is_read_and_an_empty_one_ends_at_once(settings: Settings) -> None:
    first, second, empty = (
        _topic(settings, "a"),
        _topic(settings, "b", partitions=3),
        _topic(settings, "empty"),
    )
    _send(settings, first, 40)
    _send(settings, second, 60)

    records = read_to_end(settings, [first, second, empty], timeout_s=20)

    counts = Counter(r.topic for r in records)
    assert counts == {first: 40, second: 60}
    assert len({(r.topic, r.partition, r.offset) for r in records}) == 100
    assert read_to_end(settings, empty, timeout_s=10) == []


def test_records_written_after_the_start_are_left_out(settings: Settings) -> None:
    topic = _topic(settings, "later", partitions=1)
    _send(settings, topic, 10)
    ends = {(topic, 0): 6}  # as if the read had started when the partition held six records
    records = read_to_end(settings, topic, ends=ends, timeout_s=10)
    assert [r.offset for r in records] == list(range(6))


def test_a_group_reader_commits_what_it_read(settings: Settings) -> None:
    topic = _topic(settings, "grouped")
    _send(settings, topic, 30, partition=0)
    group = f"{settings.app_id}.grouped"

    assert len(read_to_end(settings, topic, group=group, timeout_s=20)) == 30

    consumer = build_consumer(settings, group)
    try:
        committed = consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    finally:
        consumer.close()
    assert committed[0].offset == 30
    assert committed[1].offset < 0  # nothing read there, nothing committed


def test_a_missing_topic_is_named(settings: Settings) -> None:
    with pytest.raises(KafkaError, match=f"topic {settings.topic_prefix}nothing does not exist"):
        read_to_end(settings, f"{settings.topic_prefix}nothing", timeout_s=5)


def test_an_end_that_is_never_reached_names_topic_and_partitions(settings: Settings) -> None:
    topic = _topic(settings, "short")
    _send(settings, topic, 3, partition=1)
    with pytest.raises(EndNotReachedError) as caught:
        read_to_end(settings, topic, ends={(topic, 0): 5}, timeout_s=2)  # partition 0 holds nothing
    assert caught.value.missing == {topic: [0]}
    assert f"{topic} partition(s) 0" in str(caught.value)
