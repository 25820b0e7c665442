"""The pipeline's topics: what they are (:class:`TopicSpec`) and making sure they exist.

Topics are always created explicitly, with the configured partition count: a broker that auto-creates
a topic on first use gives it its own default partition count (and the embedded broker auto-creates a
topic even on a metadata request that names it, so :func:`list_topics` only ever asks for all topics).

``scam.indicators`` is compacted: it holds the current version of every indicator, keyed by its id.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError as ClientError
from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public names, re-exported without __all__
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from pipeline.config import Settings
from pipeline.errors import KafkaError

logger = logging.getLogger(__name__)

#: Extra seconds to wait on the futures beyond the request timeout librdkafka enforces itself.
_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic to create: name, partition count, replication factor and topic configs."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)

    def new_topic(self) -> NewTopic:
        """The confluent-kafka request object for this spec."""
        return NewTopic(
            self.name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            config=dict(self.config),
        )


#: Header and batch overhead a topic must accept beyond the largest value the pipeline allows.
_RECORD_OVERHEAD = 64 * 1024


def topic_config(settings: Settings, retention_ms: int, **extra: str) -> dict[str, str]:
    """The configs every pipeline topic gets: retention, min.insync.replicas, max.message.bytes."""
    isr = settings.min_insync_replicas or max(1, settings.replication_factor - 1)
    return {
        "retention.ms": str(retention_ms),
        "min.insync.replicas": str(min(isr, settings.replication_factor)),
        # Larger than the worker's limit, so an oversized submission is rejected with a reason (and
        # dead-lettered as a bounded prefix) instead of being refused by the broker.
        "max.message.bytes": str(max(settings.max_message_bytes + _RECORD_OVERHEAD, 1_048_588)),
        **extra,
    }


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    """The core topics (submissions, dlq, indicators, sightings) with settings' partitions, RF and configs.

    ``scam.indicators`` is compacted and kept for ever (it is the current version of every indicator).
    """
    t = settings.topics
    configs = {
        t.submissions: topic_config(settings, settings.retention_submissions_ms),
        t.dlq: topic_config(settings, settings.retention_dlq_ms),
        t.indicators: topic_config(settings, -1, **{"cleanup.policy": "compact"}),
        t.sightings: topic_config(settings, settings.retention_sightings_ms),
    }
    return [
        TopicSpec(name, settings.partitions, settings.replication_factor, configs[name]) for name in t.core()
    ]


def leader_topic_spec(settings: Settings) -> TopicSpec:
    """faust's leader-election topic (``<app_id>-__assignor-__leader``, one partition). The app does not
    declare topics, and a broker without auto-creation would leave it missing: no worker would ever be the
    leader, so the leader-only decay timer would never run."""
    return TopicSpec(f"{settings.app_id}-__assignor-__leader", 1, settings.replication_factor)


def input_topic_spec(settings: Settings, name: str) -> TopicSpec:
    """The spec of one organisation's own input topic (``scam.submissions.<org>``, ``scam.sightings.<org>``):
    the partitions, retention and limits of the shared topic it is named after."""
    t = settings.topics
    if name.startswith(f"{t.sightings}."):
        retention = settings.retention_sightings_ms
    elif name.startswith(f"{t.submissions}."):
        retention = settings.retention_submissions_ms
    else:
        raise ValueError(f"{name!r} is not an organisation's submissions or sightings topic")
    return TopicSpec(
        name, settings.partitions, settings.replication_factor, topic_config(settings, retention)
    )


def feed_topic_spec(settings: Settings, name: str, config: Mapping[str, str] | None = None) -> TopicSpec:
    """The spec of one subscriber's feed topic.

    ``name`` is the full topic name: ``settings.topics.feed(subscriber_id)`` or the topic a
    subscription names. ``config`` adds to (or overrides) the feed defaults.
    """
    return TopicSpec(
        name=name,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        config={**topic_config(settings, settings.retention_feeds_ms), **(config or {})},
    )


def ensure_topics(admin: AdminClient, specs: Iterable[TopicSpec], timeout: float = 15.0) -> dict[str, str]:
    """Create the topics that do not exist yet; idempotent.

    Returns ``{name: "created" | "exists"}`` in the order given. An existing topic is left as it is
    (its partition count and configs are not compared). Any other failure raises
    :class:`~pipeline.errors.KafkaError` naming the topic.
    """
    unique: dict[str, TopicSpec] = {}
    for spec in specs:
        if spec.name in unique and unique[spec.name] != spec:
            raise ValueError(f"two different specs for topic {spec.name!r}")
        unique[spec.name] = spec
    if not unique:
        return {}
    try:
        futures = admin.create_topics(
            [spec.new_topic() for spec in unique.values()], request_timeout=timeout, operation_timeout=timeout
        )
    except KafkaException as exc:
        raise KafkaError(f"could not create topics {', '.join(unique)}: {exc}") from exc
    concurrent.futures.wait(futures.values(), timeout=timeout + _GRACE_S)
    outcome: dict[str, str] = {}
    for name in unique:
        outcome[name] = _creation_result(name, futures[name])
        logger.info("topic=%s %s", name, outcome[name])
    _await_metadata(admin, {name: unique[name].partitions for name in unique}, timeout)
    return outcome


def _await_metadata(admin: AdminClient, expected: Mapping[str, int], timeout: float) -> None:
    """Wait until every topic in ``expected`` shows in the broker's metadata with its partitions.

    Apache Kafka answers CreateTopics once the controller has the topic; the broker that serves
    metadata learns of it a moment later, so a ``topics check`` or a producer straight after a
    create could see it missing. A topic that already existed counts with whatever partitions it has.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = list_topics(admin, timeout=max(1.0, deadline - time.monotonic()))
        pending = sorted(name for name in expected if seen.get(name, 0) < 1)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise KafkaError(
                f"created topics not yet in the broker's metadata after {timeout:.0f} s: {', '.join(pending)}"
            )
        time.sleep(0.1)


def _creation_result(name: str, future: concurrent.futures.Future[None]) -> str:
    if not future.done():
        raise KafkaError(f"creating topic {name}: no answer from the broker in time")
    exc = future.exception()
    if exc is None:
        return "created"
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, ClientError) and err.code() == ClientError.TOPIC_ALREADY_EXISTS:
        return "exists"
    raise KafkaError(f"could not create topic {name}: {err.str() if isinstance(err, ClientError) else exc}")


def list_topics(admin: AdminClient, prefix: str = "", timeout: float = 10.0) -> dict[str, int]:
    """``{topic: partition count}`` of the topics whose name starts with ``prefix``, sorted by name.

    Internal topics (``__consumer_offsets`` ...) are left out unless the prefix asks for them.
    """
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaError(f"could not list topics: {exc}") from exc
    found = {
        name: len(meta.partitions)
        for name, meta in metadata.topics.items()
        if name.startswith(prefix) and (prefix.startswith("__") or not name.startswith("__"))
    }
    return dict(sorted(found.items()))


def topic_configs(admin: AdminClient, name: str, timeout: float = 10.0) -> dict[str, str]:
    """The configs the broker reports for one topic (``{"cleanup.policy": "compact", ...}``).

    Apache Kafka reports every config (defaults included); the embedded broker (tansu 0.6.0) reports
    only the configs set at creation, so a key missing here means "broker default", not "unknown".
    """
    resource = ConfigResource(ResourceType.TOPIC, name)
    try:
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(
            timeout=timeout + _GRACE_S
        )
    except (KafkaException, concurrent.futures.TimeoutError) as exc:
        raise KafkaError(f"could not describe topic {name}: {exc or 'no answer in time'}") from exc
    return {key: entry.value for key, entry in entries.items() if entry.value is not None}


def topic_drift(admin: AdminClient, specs: Iterable[TopicSpec], timeout: float = 10.0) -> list[str]:
    """How existing topics differ from ``specs`` (missing topic, partitions, replication, configs); [] = none.

    A config the broker does not report (the embedded broker reports only what was set at creation) counts
    as drift: the topic was not created with it.
    """
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaError(f"could not list topics: {exc}") from exc
    drift: list[str] = []
    for spec in specs:
        meta = metadata.topics.get(spec.name)
        if meta is None or meta.error is not None:
            drift.append(f"{spec.name}: missing")
            continue
        if len(meta.partitions) != spec.partitions:
            drift.append(f"{spec.name}: partitions {len(meta.partitions)}, expected {spec.partitions}")
        replicas = {len(p.replicas) for p in meta.partitions.values()}
        if replicas != {spec.replication_factor}:
            got = ",".join(str(r) for r in sorted(replicas))
            drift.append(f"{spec.name}: replication factor {got}, expected {spec.replication_factor}")
        actual = topic_configs(admin, spec.name, timeout)
        for key, want in sorted(spec.config.items()):
            if actual.get(key) != want:
                drift.append(f"{spec.name}: {key}={actual.get(key, '(broker default)')}, expected {want}")
    return drift


def delete_topics(admin: AdminClient, names: Iterable[str], timeout: float = 30.0) -> list[str]:
    """Delete ``names``; returns those deleted (a topic already gone is not an error). KafkaError else."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    deleted, failed = [], []
    for name, future in admin.delete_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout)
            deleted.append(name)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == ClientError.UNKNOWN_TOPIC_OR_PART:
                continue
            failed.append(f"{name}: {exc}")
    if failed:
        raise KafkaError("could not delete topics: " + "; ".join(failed))
    return sorted(deleted)
