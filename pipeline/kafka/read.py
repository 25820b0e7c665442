"""Reading topics to their end: every record there was when the read started, by assignment (no group join).

The end of a partition is the high watermark a *fetch* response reports
(``get_watermark_offsets(cached=True)`` once a fetch for the partition has come back), not ListOffsets
alone: when producers batch, the embedded broker's ListOffsets(latest) reports the last batch's base
offset + 1 (ENVIRONMENT.md, tansu defect 1), which would cut a read short. On Apache Kafka the two agree::

    for record in read_to_end(settings, settings.topics.dlq, timeout_s=20):
        print(record.partition, record.offset, record.header_map().get("scamshare-reason"))

Records written while the read runs are left out, so a topic written faster than it is read still ends.
A read that does not reach every end in time raises :class:`EndNotReachedError`, naming the partitions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka import KafkaError as ClientError

from pipeline.config import Settings
from pipeline.errors import KafkaError
from pipeline.kafka.clients import build_consumer
from pipeline.wire.headers import header_map

logger = logging.getLogger(__name__)

#: (topic, partition)
Partition = tuple[str, int]
#: Where a reader's configuration comes from: the settings, or a librdkafka consumer configuration.
ReaderSource = Settings | Mapping[str, Any]

#: Consumer errors that no waiting cures: the read stops with a KafkaError instead of timing out.
_FATAL_CODES = frozenset(
    {
        ClientError.UNKNOWN_TOPIC_OR_PART,
        ClientError.TOPIC_AUTHORIZATION_FAILED,
        ClientError._UNKNOWN_TOPIC,
        ClientError._UNKNOWN_PARTITION,
    }
)


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from Kafka (a plain value: it outlives the consumer that read it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    #: Broker or producer timestamp in ms since the epoch; None when the message has none.
    timestamp_ms: int | None = None
    #: confluent_kafka's TIMESTAMP_CREATE_TIME or TIMESTAMP_LOG_APPEND_TIME (0: none)
    timestamp_type: int = TIMESTAMP_NOT_AVAILABLE

    def header_map(self) -> dict[str, bytes]:
        """Headers as a dict: the last value of a repeated name wins, headers without a value are left out."""
        return header_map(self.headers)

    @classmethod
    def from_message(cls, msg: Message[Any, Any]) -> Record:
        raw = msg.headers() or []
        items = raw.items() if isinstance(raw, dict) else raw
        headers = tuple((str(k), v.encode() if isinstance(v, str) else v) for k, v in items)
        ts_type, ts = msg.timestamp()
        return cls(
            topic=msg.topic() or "",
            partition=int(msg.partition() or 0),
            offset=int(msg.offset() or 0),
            key=msg.key(),
            value=msg.value(),
            headers=headers,
            timestamp_ms=None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts,
            timestamp_type=ts_type,
        )


class EndNotReachedError(KafkaError):
    """A read did not reach the end of every partition in time (``missing``: topic → partitions)."""

    def __init__(
        self, missing: Mapping[str, Sequence[int]], timeout_s: float, what: str = "reach the end of"
    ) -> None:
        self.missing = {topic: sorted(parts) for topic, parts in sorted(missing.items())}
        where = "; ".join(
            f"{topic} partition(s) {', '.join(map(str, parts))}" for topic, parts in self.missing.items()
        )
        super().__init__(
            f"did not {what} {where} within {timeout_s:g}s: is the broker reachable, or give it more time"
        )


def reader(source: ReaderSource, group: str | None = None) -> Consumer:
    """A consumer for reading by assignment: partition-EOF events on, nothing committed automatically.

    ``group`` is the group id (librdkafka wants one even without a group join); only an explicit commit
    ever writes to it.
    """
    if isinstance(source, Settings):
        return build_consumer(source, group or f"{source.app_id}.reader", **{"enable.partition.eof": True})
    conf = {
        "group.id": "scamshare.reader",
        **source,
        "enable.partition.eof": True,
        "enable.auto.commit": False,
    }
    if group is not None:
        conf["group.id"] = group
    return Consumer(conf)


def topic_partitions(consumer: Consumer, topics: Iterable[str], timeout_s: float = 10.0) -> list[Partition]:
    """Every partition of ``topics``; KafkaError naming a topic that does not exist.

    Asks for the metadata of all topics: a request naming a topic auto-creates it on the embedded broker
    (ENVIRONMENT.md, tansu defect 8), with the broker's default partition count.
    """
    meta = consumer.list_topics(timeout=timeout_s)
    out: list[Partition] = []
    for topic in topics:
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise KafkaError(f"topic {topic} does not exist: run `scamshare topics create`")
        out.extend((topic, p) for p in sorted(info.partitions))
    return out


def _check(err: ClientError, topic: str | None) -> None:
    if err.fatal() or err.code() in _FATAL_CODES:
        raise KafkaError(f"reading {topic}: {err.str()}")
    logger.warning("read topic=%s error=%s", topic, err.str())


def _by_topic(partitions: Iterable[Partition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, partition in partitions:
        out.setdefault(topic, []).append(partition)
    return out


#: what a broker answers ListOffsets for a partition whose leader it does not know yet (a topic created a
#: moment ago, a leader moving): asked again, it answers
_LEADER_MOVING: Final = frozenset({ClientError.NOT_LEADER_FOR_PARTITION, ClientError.LEADER_NOT_AVAILABLE})


def listed_offsets(
    consumer: Consumer, tp: TopicPartition, timeout_s: float, deadline: float, *, pause_s: float = 0.1
) -> tuple[int, int]:
    """``get_watermark_offsets(tp, cached=False)``: (low, high) by ListOffsets, asked again while the answer
    is that the leader is moving and ``deadline`` (``time.monotonic()``) has not passed; anything else raises.
    """
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, ClientError) or err.code() not in _LEADER_MOVING:
                raise
            if time.monotonic() + pause_s >= deadline:
                raise
            logger.info("offsets topic=%s partition=%d: %s; asking again", tp.topic, tp.partition, err.str())
            time.sleep(pause_s)
        else:
            return low, high


def end_offsets(
    consumer: Consumer, partitions: Sequence[Partition], timeout_s: float = 10.0, *, complete: bool = True
) -> dict[Partition, int]:
    """The high watermark of each partition as a fetch response reports it (the consumer is unassigned after).

    ListOffsets comes first: its answer is never past the log end, so a fetch from one record before it
    returns at most a batch, and its response carries the true high watermark. ``consumer`` must have
    ``enable.partition.eof`` on (see :func:`reader`) so that an empty partition answers too.
    ``complete=False``: partitions without an answer in time are left out instead of raising (the lag
    view falls back to ListOffsets for them).
    """
    deadline = time.monotonic() + timeout_s
    starts: dict[Partition, int] = {}
    for topic, partition in partitions:
        low, high = listed_offsets(consumer, TopicPartition(topic, partition), timeout_s, deadline)
        starts[(topic, partition)] = max(low, high - 1, 0)
    consumer.assign([TopicPartition(t, p, starts[(t, p)]) for t, p in partitions])
    ends: dict[Partition, int] = {}
    try:
        while len(ends) < len(starts) and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.1):
                key = (msg.topic() or "", int(msg.partition() or 0))
                err = msg.error()
                if err is not None and err.code() != ClientError._PARTITION_EOF:
                    if complete:
                        _check(err, msg.topic())
                    continue
                if key not in starts or key in ends:
                    continue
                high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)[1]
                if high >= 0:
                    ends[key] = high
                    consumer.pause([TopicPartition(*key)])
    finally:
        # librdkafka keeps a partition paused across unassign and a later assign.
        consumer.resume([TopicPartition(t, p) for t, p in starts])
        consumer.unassign()
    if complete and len(ends) < len(starts):
        missing = _by_topic(tp for tp in starts if tp not in ends)
        raise EndNotReachedError(missing, timeout_s, what="get a fetch answer (high watermark) for")
    return ends


def iter_to_end(
    source: ReaderSource | Consumer,
    topics: str | Sequence[str],
    *,
    timeout_s: float = 30.0,
    group: str | None = None,
    ends: Mapping[Partition, int] | None = None,
) -> Iterator[Record]:
    """Yield every record of ``topics`` from the beginning up to the end each partition had at the start.

    ``source`` is the settings, a librdkafka consumer configuration, or a consumer made by :func:`reader`
    (closed afterwards either way). ``ends`` replaces the observed ends (offsets, exclusive) and limits
    the read to its partitions. With ``group``, the offsets read are committed to that group once every
    end is reached, as a reader in that group would; otherwise nothing is committed.
    Raises :class:`EndNotReachedError` after ``timeout_s``, KafkaError for a missing topic.
    """
    names = [topics] if isinstance(topics, str) else list(topics)
    consumer = source if isinstance(source, Consumer) else reader(source, group)
    deadline = time.monotonic() + timeout_s
    try:
        if ends is None:
            ends = end_offsets(consumer, topic_partitions(consumer, names), timeout_s)
        todo = {tp: end for tp, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in todo])
        read: dict[Partition, int] = {}

        def done(key: Partition) -> None:
            del todo[key]
            consumer.pause([TopicPartition(*key)])

        while todo:
            if time.monotonic() > deadline:
                raise EndNotReachedError(_by_topic(todo), timeout_s)
            for msg in consumer.consume(500, 0.2):
                key = (msg.topic() or "", int(msg.partition() or 0))
                err = msg.error()
                if err is not None:
                    if err.code() != ClientError._PARTITION_EOF:
                        _check(err, msg.topic())
                    elif key in todo and int(msg.offset() or 0) >= todo[key]:
                        done(key)  # past the end with nothing left to read (e.g. compacted away)
                    continue
                if key not in todo:
                    continue
                offset = int(msg.offset() or 0)
                if offset >= todo[key]:
                    done(key)
                    continue
                read[key] = offset + 1
                yield Record.from_message(msg)
                if offset + 1 >= todo[key]:
                    done(key)
        if group is not None and read:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in read.items()], asynchronous=False
            )
    finally:
        consumer.close()


def read_to_end(
    source: ReaderSource | Consumer,
    topics: str | Sequence[str],
    *,
    timeout_s: float = 30.0,
    group: str | None = None,
    ends: Mapping[Partition, int] | None = None,
) -> list[Record]:
    """Every record of ``topics`` up to the end each partition had at the start (see :func:`iter_to_end`)."""
    return list(iter_to_end(source, topics, timeout_s=timeout_s, group=group, ends=ends))
