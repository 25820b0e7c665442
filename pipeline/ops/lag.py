"""Consumer lag: committed offsets of a group against the partitions' end offsets.

Lag arithmetic is pure (:func:`offset_lag`); the Kafka calls around it are thin.

End offsets come from one of two sources, both correct on Apache Kafka:

- ``list-offsets`` (the default): ListOffsets(latest) with isolation level read_committed, i.e. the last
  stable offset, which is what a read_committed consumer (librdkafka's default) can reach — the usual way
  (Burrow, kafka-consumer-groups.sh);
- ``fetch``: the high watermark carried in a Fetch response (for read_uncommitted consumers; equal to the
  last stable offset when no transaction is open).

Known defect, not papered over: the embedded broker (tansu 0.6.0) answers ListOffsets(latest) with the base
offset of the partition's last batch + 1 when producers batch (ENVIRONMENT.md, defect 1), so on it
``list-offsets`` under-reports the end and HIDES lag. ``fetch`` is right on both, at the cost of one small
fetch per partition; `scamshare lag` prints which source it used.

Rows are labelled rather than guessed at: a partition the group never committed on (``no-commit``, counted
from the first retained offset), with nothing retained (``empty``), of a compacted topic (``compacted``:
offsets have gaps, so lag counts offsets, an upper bound on messages), with a commit below the first
retained offset (``out-of-range``) or on a topic that no longer exists (``topic-deleted``, lag 0); an
expected topic that does not exist gets one row with partition -1 (``topic-missing``); a group with no
commit and no member is ``never-committed`` when the pipeline expects it, else ``unknown-group``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public names, re-exported without __all__
    AdminClient,
    ConfigResource,
    OffsetSpec,
    ResourceType,
)

from pipeline.config import Settings
from pipeline.kafka.clients import build_consumer
from pipeline.kafka.read import end_offsets as fetch_high_watermarks

logger = logging.getLogger(__name__)

EndSource = Literal["list-offsets", "fetch"]


#: Labels a partition row can carry (several may apply).
NO_COMMIT = "no-commit"  # the group never committed here: lag counts from the first retained offset
EMPTY = "empty"  # no message retained (start == end)
COMPACTED = "compacted"  # cleanup.policy=compact: offsets have gaps, lag counts offsets (an upper bound)
TOPIC_DELETED = "topic-deleted"  # committed offset on a topic that no longer exists: lag 0
TOPIC_MISSING = "topic-missing"  # an expected topic that does not exist (row with partition -1): lag 0
OUT_OF_RANGE = "out-of-range"  # committed below the first retained offset: the consumer will reset

#: Notes a group can carry.
UNKNOWN_GROUP = "unknown-group"  # not a pipeline group: no committed offset anywhere and no members
NEVER_COMMITTED = "never-committed"  # an expected group (e.g. a subscriber's reader) that never committed


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    lag: int
    start: int = 0
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    partitions: tuple[PartitionLag, ...]
    state: str = ""  # the broker's group state, lower case ("stable", "empty", ...); "" when unknown
    note: str = ""

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def active(self) -> bool | None:
        """Whether the group has live members (None: the broker did not say)."""
        if not self.state or self.state == "unknown":
            return None
        return self.state in ("stable", "preparing_rebalance", "completing_rebalance")


def offset_lag(committed: int | None, end: int, start: int = 0) -> int:
    """Messages the group has not consumed yet; never negative.

    Without a commit, or with one below the first retained offset, the group would start at ``start``
    (auto.offset.reset=earliest).

    >>> offset_lag(5, 12), offset_lag(None, 12), offset_lag(15, 12), offset_lag(2, 12, start=4)
    (7, 12, 0, 8)
    """
    base = start if committed is None or committed < start else committed
    return max(0, end - base)


def partition_labels(
    committed: int | None, start: int, end: int, *, compacted: bool = False, deleted: bool = False
) -> tuple[str, ...]:
    """The labels of one partition row (see the constants above). Pure."""
    if deleted:
        return (TOPIC_DELETED,)
    labels: list[str] = []
    if committed is None:
        labels.append(NO_COMMIT)
    elif committed < start:
        labels.append(OUT_OF_RANGE)
    if start >= end:
        labels.append(EMPTY)
    if compacted:
        labels.append(COMPACTED)
    return tuple(labels)


def committed_offsets(admin: AdminClient, group: str, timeout: float = 10.0) -> dict[tuple[str, int], int]:
    """Every committed offset of ``group``: (topic, partition) → offset (empty for an unknown group)."""
    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=timeout
    )
    result = futures[group].result(timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def list_groups(admin: AdminClient, timeout: float = 10.0) -> list[str]:
    """Ids of every consumer group the cluster knows."""
    result = admin.list_consumer_groups(request_timeout=timeout).result(timeout)
    return sorted(g.group_id for g in result.valid)


def group_states(admin: AdminClient, groups: Sequence[str], timeout: float = 10.0) -> dict[str, str]:
    """Each group's state in lower case ("stable", "empty", "dead", ...); "unknown" when not described."""
    if not groups:
        return {}
    out: dict[str, str] = {}
    for group, future in admin.describe_consumer_groups(list(groups), request_timeout=timeout).items():
        try:
            out[group] = future.result(timeout).state.name.lower()
        except KafkaException as exc:
            logger.debug("describe group failed group=%s error=%s", group, exc)
            out[group] = "unknown"
    return out


def compacted_topics(admin: AdminClient, topics: Iterable[str], timeout: float = 10.0) -> set[str]:
    """The topics whose cleanup.policy includes compact (empty if the broker will not say)."""
    names = sorted(set(topics))
    if not names:
        return set()
    out: set[str] = set()
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in names])
    for resource, future in futures.items():
        try:
            entry = future.result(timeout).get("cleanup.policy")
        except KafkaException as exc:
            logger.debug("describe configs failed topic=%s error=%s", resource.name, exc)
            continue
        if entry is not None and "compact" in (entry.value or ""):
            out.add(resource.name)
    return out


def start_offsets(
    admin: AdminClient, tps: Sequence[tuple[str, int]], timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """The first retained offset of each partition (ListOffsets earliest)."""
    if not tps:
        return {}
    req = {TopicPartition(t, p): OffsetSpec.earliest() for t, p in tps}  # type: ignore[no-untyped-call]
    return {
        (tp.topic, tp.partition): max(0, f.result(timeout).offset)
        for tp, f in admin.list_offsets(req).items()
    }


def end_offsets(
    settings: Settings,
    admin: AdminClient,
    tps: Sequence[tuple[str, int]],
    source: EndSource,
    timeout: float = 10.0,
) -> dict[tuple[str, int], int]:
    """End offset of each partition, from ListOffsets or from a fetch's high watermark.

    ``list-offsets`` asks with isolation level read_committed, so the answer is the last stable offset:
    what a read_committed consumer (librdkafka's default) can reach. Without transactions it equals the
    high watermark.
    """
    if not tps:
        return {}
    if source == "list-offsets":
        req = {TopicPartition(t, p): OffsetSpec.latest() for t, p in tps}  # type: ignore[no-untyped-call]
        futures = admin.list_offsets(req, isolation_level=IsolationLevel.READ_COMMITTED)
        return {(tp.topic, tp.partition): f.result(timeout).offset for tp, f in futures.items()}
    consumer = build_consumer(settings, "scamshare-lag-probe", **{"enable.partition.eof": True})
    try:
        ends = fetch_high_watermarks(consumer, tps, timeout, complete=False)
        for key in tps:
            if key not in ends:  # no fetch answer in time: fall back to what ListOffsets says
                tp = TopicPartition(*key)
                ends[key] = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)[1]
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
    return collect_lags(settings, admin, {group: list(topics)}, source=source, describe=False)[0]


def pipeline_groups(
    settings: Settings, admin: AdminClient, expected: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """Every consumer group on the pipeline's topics → the topics to report for it.

    A group is on the pipeline when it committed an offset on a topic starting with the topic prefix, or
    when ``expected`` names it (the processors' group, each subscription's reader group), committed or not.
    """
    out: dict[str, set[str]] = {g: set(topics) for g, topics in (expected or {}).items()}
    for group in list_groups(admin):
        topics = {t for t, _p in committed_offsets(admin, group) if t.startswith(settings.topic_prefix)}
        if topics:
            out.setdefault(group, set()).update(topics)
    return {g: sorted(t) for g, t in sorted(out.items())}


def collect_lags(
    settings: Settings,
    admin: AdminClient,
    groups: Mapping[str, Sequence[str]],
    *,
    source: EndSource = "list-offsets",
    describe: bool = True,
    timeout: float = 10.0,
) -> list[GroupLag]:
    """Lag of each group on its topics plus every other topic it committed on, labelled; one end-offset
    request for all partitions.

    A group with no commit and no member is noted ``never-committed`` when ``groups`` names topics for it
    (they are listed, counted from the start), else ``unknown-group``. Committed offsets on deleted topics
    are listed with lag 0; an expected topic that does not exist as one ``topic-missing`` row.
    """
    committed = {g: committed_offsets(admin, g, timeout) for g in groups}
    meta = admin.list_topics(timeout=timeout)
    existing = {t for t, m in meta.topics.items() if m.error is None}
    wanted: dict[str, set[str]] = {
        g: set(topics) | {t for t, _p in committed[g]} for g, topics in groups.items()
    }
    live_topics = sorted({t for ts in wanted.values() for t in ts if t in existing})
    tps = topic_partitions(admin, live_topics, timeout)
    ends = end_offsets(settings, admin, tps, source, timeout)
    starts = start_offsets(admin, tps, timeout)
    compacted = compacted_topics(admin, live_topics, timeout)
    states = group_states(admin, list(groups), timeout) if describe else {}
    by_topic: dict[str, list[int]] = {}
    for t, p in tps:
        by_topic.setdefault(t, []).append(p)
    out: list[GroupLag] = []
    for group in groups:
        rows: list[PartitionLag] = []
        for topic in sorted(wanted[group]):
            if topic not in existing:
                # Kafka drops a deleted topic's offsets with it, but a commit may outlive it for a while.
                gone = [(tp, o) for tp, o in sorted(committed[group].items()) if tp[0] == topic]
                rows += [PartitionLag(t, p, o, o, 0, 0, (TOPIC_DELETED,)) for (t, p), o in gone]
                if not gone:
                    rows.append(PartitionLag(topic, -1, None, 0, 0, 0, (TOPIC_MISSING,)))
                continue
            for p in by_topic.get(topic, []):
                c = committed[group].get((topic, p))
                start, end = starts.get((topic, p), 0), ends[(topic, p)]
                labels = partition_labels(c, start, end, compacted=topic in compacted)
                rows.append(PartitionLag(topic, p, c, end, offset_lag(c, end, start), start, labels))
        state = states.get(group, "")
        note = ""
        if not committed[group] and state in ("", "empty", "dead", "unknown"):
            note = NEVER_COMMITTED if groups[group] else UNKNOWN_GROUP
        out.append(GroupLag(group, tuple(rows), state, note))
    return out
