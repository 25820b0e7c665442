"""Broker timestamps of the records at given offsets: when a consumer's next record was appended.

The time lag of a group is the age of the first record it has not consumed (the one at its committed
offset). On a topic with ``message.timestamp.type=LogAppendTime`` (Apache Kafka) that record's timestamp is
the broker's append time, so its age is exact whatever the producers' clocks say; on a CreateTime topic it
is the producer's clock. The embedded broker (tansu 0.6.0) keeps CreateTime even on LogAppendTime topics
(ENVIRONMENT.md, defect 10): there, prefer the interpolated time lag of :mod:`pipeline.ops.timelag`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, TopicPartition
from confluent_kafka import KafkaError as ClientError

from pipeline.kafka.read import Partition, ReaderSource, Record, reader


def records_at(
    source: ReaderSource, positions: Mapping[Partition, int], *, timeout_s: float = 10.0
) -> dict[Partition, Record]:
    """The record at each ``(topic, partition) → offset``; partitions with nothing there are left out."""
    if not positions:
        return {}
    consumer = reader(source)
    found: dict[Partition, Record] = {}
    done: set[Partition] = set()
    try:
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in positions.items()])
        deadline = time.monotonic() + timeout_s
        while len(done) < len(positions) and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.2):
                tp = (msg.topic() or "", int(msg.partition() or 0))
                err = msg.error()
                if err is not None:
                    if err.code() == ClientError._PARTITION_EOF:
                        done.add(tp)
                    continue
                if tp in positions and tp not in found and (msg.offset() or 0) >= positions[tp]:
                    found[tp] = Record.from_message(msg)
                    done.add(tp)
                    consumer.pause([TopicPartition(*tp)])
    finally:
        consumer.close()
    return found


def appended_at(record: Record) -> bool:
    """Whether the record's timestamp is the broker's append time (a LogAppendTime topic)."""
    return record.timestamp_type == TIMESTAMP_LOG_APPEND_TIME
