"""Pre-written partitions for the benchmark's brand-new topics, so a run does not time the broker's first
index entries.

Every benchmark run (and every round of a sweep) works in topics created a moment before. On Apache Kafka
a new partition's segment writes its first offset- and time-index entry on the first append after it holds
more than ``index.interval.bytes`` (4 KiB): measured on the 2-core machine (Kafka 4.4, ext4), that append
took about 40 ms in the broker's request handler, one partition at a time, about every 45 ms (Kafka's
request log, ``localTimeMs``). A run's 64 new partitions all reach it in the first two seconds, so their
producers (5 requests in flight per connection) waited up to 1.8 s: the "warm-up stall" of steady runs on
Kafka. With ``index.interval.bytes`` raised out of reach none of four runs at 620/s stalled; with the
default, seven of nine did. A running exchange's partitions are not new (the cost recurs once per segment
roll, spread out), so the benchmark pays it before its clock starts instead:

to every partition of the topics a run writes, one record larger than the interval, then one small record
in a second request (the entry is written on the append after the interval is passed), then both deleted
with DeleteRecords, so every reader, the worker's group included, starts after them. The compacted
``scam.indicators`` cannot have records deleted; its appends were never among the slow ones.

The passthrough topic (written by the passthrough loop, never read) is the probe: if the broker refuses
DeleteRecords there, nothing else is written. tansu refuses it by closing the connection (README, the
embedded broker); it keeps partitions in memory, with no index files to write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_END, KafkaException, Producer, TopicPartition

from pipeline.config import Settings
from pipeline.kafka.clients import build_admin, build_producer, produce

#: Kafka's default ``index.interval.bytes`` is 4096; the filler passes it uncompressed (random bytes).
FILLER_BYTES = 5000


def partitions(admin: Any, topics: Sequence[str], timeout_s: float = 10.0) -> list[TopicPartition]:
    """Every partition of ``topics`` (which exist)."""
    listed = admin.list_topics(timeout=timeout_s).topics
    return [TopicPartition(t, p) for t in topics for p in sorted(listed[t].partitions)]


def write_past_first_index_entry(producer: Producer, tps: Sequence[TopicPartition], timeout_s: float) -> None:
    """Two appends to every partition: a record larger than the index interval, then a small one."""
    for value in (os.urandom(FILLER_BYTES), b"."):
        for tp in tps:
            produce(producer, tp.topic, None, value, partition=tp.partition)
        if producer.flush(timeout_s):
            raise RuntimeError(f"pre-written records not acknowledged within {timeout_s:g} s")


def delete_written(admin: Any, tps: Sequence[TopicPartition], timeout_s: float) -> None:
    """DeleteRecords up to each partition's high watermark; KafkaException when the broker refuses."""
    futures = admin.delete_records(
        [TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in tps], request_timeout=timeout_s
    )
    for future in futures.values():
        future.result()


def prewrite(
    settings: Settings, topics: Sequence[str], *, probe: str, timeout_s: float = 30.0
) -> dict[str, Any]:
    """Pre-write (module docstring) the partitions of ``probe``, then, if the broker deleted them, those of
    ``topics``. Returns what was done, for the benchmark's JSON: ``done``, ``partitions``, ``seconds`` and,
    when not done, the broker's ``refused`` answer (the probe's filler then stays in the passthrough topic,
    which nothing reads)."""
    started = time.perf_counter()
    admin = build_admin(settings)
    producer = build_producer(settings, **{"compression.type": "none", "linger.ms": 0})
    probe_tps = partitions(admin, [probe])
    try:
        write_past_first_index_entry(producer, probe_tps, timeout_s)
        delete_written(admin, probe_tps, timeout_s)
    except KafkaException as exc:  # tansu: a transport failure; a broker of yours may say why
        refused = str(exc.args[0] if exc.args else exc)
        return {"done": False, "partitions": 0, "seconds": round(time.perf_counter() - started, 3),
                "refused": refused}  # fmt: skip
    rest = partitions(admin, topics)
    write_past_first_index_entry(producer, rest, timeout_s)
    delete_written(admin, rest, timeout_s)
    return {
        "done": True,
        "partitions": len(probe_tps) + len(rest),
        "seconds": round(time.perf_counter() - started, 3),
    }
