"""Consumer lag: committed offsets of a group against the partitions' end offsets.

Lag arithmetic is pure (:func:`offset_lag`); the Kafka calls around it are thin.

End offsets come from one of two sources, both correct on Apache Kafka for read_uncommitted consumers:

- ``list-offsets``: ListOffsets(latest), the usual way (Burrow, kafka-consumer-groups.sh);
- ``fetch``: the high watermark carried in a Fetch response.

The embedded broker (tansu 0.6.0) answers ListOffsets(latest) with the base offset of the partition's last
batch + 1 when producers batch (ENVIRONMENT.md, defect 1), so on it ``list-offsets`` under-reports the end
and hides lag. ``fetch`` is right on both, at the cost of one fetch per partition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from pipeline.config import Settings
from pipeline.kafka import build_consumer

logger = logging.getLogger(__name__)

EndSource = Literal["list-offsets", "fetch"]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    lag: int


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


def offset_lag(committed: int | None, end: int, start: int = 0) -> int:
    """Messages the group has not consumed yet; never negative.

    Without a commit the group would start at ``start`` (auto.offset.reset=earliest).

    >>> offset_lag(5, 12), offset_lag(None, 12), offset_lag(15, 12)
    (7, 12, 0)
    """
    return max(0, end - (start if committed is None or committed < 0 else committed))


def committed_offsets(admin: AdminClient, group: str, timeout: float = 10.0) -> dict[tuple[str, int], int]:
    """Every committed offset of ``group``: (topic, partition) → offset."""
    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=timeout
    )
    result = futures[group].result(timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def end_offsets(
    settings: Settings,
    admin: AdminClient,
    tps: Sequence[tuple[str, int]],
    source: EndSource,
    timeout: float = 10.0,
) -> dict[tuple[str, int], int]:
    """End offset of each partition, from ListOffsets or from a fetch's high watermark."""
    if not tps:
        return {}
    if source == "list-offsets":
        req = {TopicPartition(t, p): OffsetSpec.latest() for t, p in tps}  # type: ignore[no-untyped-call]
        return {
            (tp.topic, tp.partition): f.result(timeout).offset for tp, f in admin.list_offsets(req).items()
        }
    consumer = build_consumer(settings, "scamshare-lag-probe", **{"enable.partition.eof": True})
    try:
        lows = {}
        for t, p in tps:
            low, _high = consumer.get_watermark_offsets(TopicPartition(t, p), timeout=timeout, cached=False)
            lows[(t, p)] = max(low, 0)
        consumer.assign([TopicPartition(t, p, lows[(t, p)]) for t, p in tps])
        # One fetch per partition is enough for the broker to tell us its high watermark.
        pending = set(tps)
        ends: dict[tuple[str, int], int] = {}
        polls = 0
        while pending and polls < 200:
            polls += 1
            msg = consumer.poll(0.1)
            if msg is not None:
                key = (str(msg.topic()), int(msg.partition() or 0))
                ends[key] = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)[1]
                pending.discard(key)
                consumer.pause([TopicPartition(*key)])
        for key in pending:  # no answer: fall back to what ListOffsets says
            ends[key] = consumer.get_watermark_offsets(TopicPartition(*key), timeout=timeout, cached=False)[1]
        return ends
    finally:
        consumer.close()


def topic_partitions(
    admin: AdminClient, topics: Iterable[str], timeout: float = 10.0
) -> list[tuple[str, int]]:
    meta = admin.list_topics(timeout=timeout)
    out: list[tuple[str, int]] = []
    for topic in topics:
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None:
            continue
        out.extend((topic, p) for p in sorted(tmeta.partitions))
    return out


def group_lag(
    settings: Settings,
    admin: AdminClient,
    group: str,
    topics: Iterable[str],
    source: EndSource = "list-offsets",
) -> GroupLag:
    """Lag of one group on the given topics (partitions it never committed on count from the start)."""
    committed = committed_offsets(admin, group)
    tps = topic_partitions(admin, topics)
    ends = end_offsets(settings, admin, tps, source)
    rows = tuple(
        PartitionLag(
            t, p, committed.get((t, p)), ends[(t, p)], offset_lag(committed.get((t, p)), ends[(t, p)])
        )
        for t, p in tps
    )
    return GroupLag(group, rows)
