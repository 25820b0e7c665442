"""Kafka client factories (confluent-kafka) and delivery tracking.

Constructing a client performs no network I/O: librdkafka connects lazily, on the first request.
Configuration is assembled from :meth:`Settings.librdkafka`, in this order of precedence (last wins)::

    scamshare defaults  <  settings.kafka_options and secrets  <  keyword overrides of the call

so an operator can tune any default with ``-X linger.ms=50`` and code can still pin what it must.
Keyword overrides use librdkafka names; pass them as a dict when a name has dots::

    producer = build_producer(settings, **{"linger.ms": 0})

Delivery reports arrive through callbacks served by ``poll()``/``flush()``. :func:`produce` queues one
message and waits for room when librdkafka's queue is full; :class:`DeliveryTracker` is a callback that
counts acknowledgements and keeps failures; :func:`wait_delivered` flushes and turns failures (or
messages still queued at the deadline) into a :class:`~pipeline.errors.DeliveryError`::

    tracker = DeliveryTracker()
    producer = build_producer(settings, on_delivery=tracker)   # every message reports to it
    for key, value in records:
        produce(producer, topic, key, value)                   # serves callbacks as it goes
    wait_delivered(producer, timeout=30, tracker=tracker)      # raises DeliveryError on any failure

Reading a topic to its end is :func:`pipeline.kafka.read.read_to_end`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from pipeline.config import Settings
from pipeline.errors import DeliveryError, NotConfiguredError

logger = logging.getLogger(__name__)

#: librdkafka's own log lines go through this logger (served on poll), not straight to stderr.
librdkafka_logger = logging.getLogger("pipeline.kafka.librdkafka")


def _config(settings: Settings, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    conf = {"logger": librdkafka_logger, **defaults, **settings.librdkafka(**overrides)}
    if not conf.get("bootstrap.servers"):
        raise NotConfiguredError("Kafka broker")
    return conf


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The librdkafka configuration :func:`build_producer` uses (pure; handy for tests and logging).

    Idempotent with ``acks=all`` so a retry never duplicates or reorders a record.
    """
    defaults: dict[str, Any] = {
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.compression,
        "linger.ms": settings.linger_ms,
    }
    return _config(settings, defaults, overrides)


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """The librdkafka configuration :func:`build_consumer` uses (pure).

    Offsets are committed by the caller after its output is acknowledged, never automatically.
    """
    defaults: dict[str, Any] = {
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.session_timeout_ms,
        "fetch.wait.max.ms": settings.consumer_fetch_max_wait_ms,
        # Kafka's guidance: heartbeat at most a third of the session timeout. librdkafka's fixed 3 s
        # default would exceed a short dev session timeout.
        "heartbeat.interval.ms": max(100, settings.session_timeout_ms // 3),
    }
    return _config(settings, defaults, {"group.id": group_id, **overrides})


def admin_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The librdkafka configuration :func:`build_admin` uses (pure)."""
    return _config(settings, {}, overrides)


def build_producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent producer (acks=all, compression and linger from settings). No network I/O here.

    Raises :class:`~pipeline.errors.NotConfiguredError` when no bootstrap server is configured.
    """
    return Producer(producer_config(settings, **overrides))


def build_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    """A group consumer with manual commits, starting at the earliest offset when it has none."""
    return Consumer(consumer_config(settings, group_id, **overrides))


def build_admin(settings: Settings, **overrides: Any) -> AdminClient:
    """An admin client (topics, configs, groups)."""
    return AdminClient(admin_config(settings, **overrides))


#: Headers as ``producer.produce`` takes them (:data:`pipeline.wire.headers.Headers` is one).
ProduceHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None]
#: A confluent-kafka delivery-report callback: ``(error or None, message)``.
DeliveryCallback = Callable[[KafkaError | None, "Message[Any, Any]"], None]


class ProducerLike(Protocol):
    """The part of confluent-kafka's ``Producer`` that :func:`produce` uses (a test double fits it)."""

    def produce(self, *args: Any, **kwargs: Any) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...


def produce(
    producer: ProducerLike,
    topic: str,
    key: bytes | str | None,
    value: bytes | str | None,
    *,
    headers: ProduceHeaders | None = None,
    on_delivery: DeliveryCallback | None = None,
    partition: int | None = None,
    wait_s: float = 0.05,
    serve: bool = True,
) -> None:
    """Queue one message, waiting for room while librdkafka's local queue is full.

    A full queue (``BufferError``) is served by polling for ``wait_s``: delivery reports run, acknowledged
    messages leave the queue, and the send is retried. Afterwards a ``poll(0)`` serves the reports that
    have arrived, so callbacks keep pace with the sending; a sender that flushes after every batch (which
    serves them all) passes ``serve=False`` and saves that call per message. Other errors
    (``KafkaException`` for a message refused locally, e.g. larger than ``message.max.bytes``) are the
    caller's::

        tracker = DeliveryTracker()
        for key, value in records:
            produce(producer, topic, key, value, on_delivery=tracker)
        wait_delivered(producer, 30, tracker=tracker)
    """
    options: dict[str, Any] = {"value": value, "key": key}
    if headers is not None:
        options["headers"] = dict(headers) if isinstance(headers, Mapping) else list(headers)
    if on_delivery is not None:
        options["on_delivery"] = on_delivery
    if partition is not None:
        options["partition"] = partition
    while True:
        try:
            producer.produce(topic, **options)
            break
        except BufferError:
            producer.poll(wait_s)
    if serve:
        producer.poll(0)


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """One message the broker did not acknowledge, or the client refused before it left.

    ``label`` is the sender's own name for the message (the Publisher puts its submission id there).
    """

    topic: str
    partition: int | None
    key: str | None
    error: str
    label: str | None = None

    def __str__(self) -> str:
        where = (
            self.topic if self.partition is None or self.partition < 0 else f"{self.topic}[{self.partition}]"
        )
        label = f" {self.label}" if self.label else ""
        return f"topic={where} key={self.key}{label}: {self.error}"


def describe_error(err: KafkaError) -> str:
    """``"Local: Message timed out (_MSG_TIMED_OUT)"``: librdkafka's text and the error's name."""
    return f"{err.str()} ({err.name()})"


def decode_key(key: bytes | str | None) -> str | None:
    """A message key as text for messages and logs (undecodable bytes replaced)."""
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


class DeliveryTracker:
    """Delivery accounting: counts acknowledged messages and collects failures.

    Use it as the producer-wide callback (``build_producer(settings, on_delivery=tracker)``) or per
    message (``produce(producer, topic, key, value, on_delivery=tracker)``); :meth:`record` takes a
    ``label`` for callers that wrap it. Callbacks run inside ``poll()``/``flush()`` on the calling
    thread; a lock keeps counts right if several threads poll. :attr:`delivered` and :attr:`failed` count
    every message ever reported; at most ``keep`` failures are kept between two :meth:`drain` calls.
    """

    def __init__(self, keep: int = 100) -> None:
        self.delivered = 0
        self.failed = 0
        self._keep = keep
        self._failures: list[DeliveryFailure] = []
        self._failed_since_drain = 0
        self._lock = threading.Lock()

    def __call__(self, err: KafkaError | None, msg: Message[Any, Any]) -> None:
        self.record(err, msg)

    def record(
        self, err: KafkaError | None, msg: Message[Any, Any], label: str | None = None
    ) -> DeliveryFailure | None:
        """Count one delivery report; returns the failure it describes (None when acknowledged)."""
        if err is None:
            with self._lock:
                self.delivered += 1
            return None
        return self.fail(
            msg.topic() or "", msg.key(), describe_error(err), partition=msg.partition(), label=label
        )

    def fail(
        self,
        topic: str,
        key: bytes | str | None,
        error: str,
        *,
        partition: int | None = None,
        label: str | None = None,
    ) -> DeliveryFailure:
        """Count a failure that came without a delivery report (a message refused before it left)."""
        failure = DeliveryFailure(topic, partition, decode_key(key), error, label)
        with self._lock:
            self.failed += 1
            self._failed_since_drain += 1
            if len(self._failures) < self._keep:
                self._failures.append(failure)
        logger.debug("delivery failed topic=%s partition=%s error=%s", topic, partition, error)
        return failure

    @property
    def failures(self) -> list[DeliveryFailure]:
        """The failures kept since the last :meth:`drain` (a copy)."""
        with self._lock:
            return list(self._failures)

    def drain(self) -> list[DeliveryFailure]:
        """Return the failures kept since the last drain and forget them (the counters are kept)."""
        failures, _more = self._drain()
        return failures

    def _drain(self) -> tuple[list[DeliveryFailure], int]:
        with self._lock:
            failures, self._failures = self._failures, []
            more, self._failed_since_drain = self._failed_since_drain - len(failures), 0
            return failures, more

    def raise_for_failures(self, pending: int = 0, waited_s: float | None = None) -> None:
        """Raise :class:`~pipeline.errors.DeliveryError` for the failures since the last drain (draining
        them) and for ``pending`` messages still queued after waiting ``waited_s`` seconds."""
        failures, more = self._drain()
        problems = [str(f) for f in failures]
        if more:
            problems.append(f"... and {more} more failure(s)")
        if pending:
            after = f" after {waited_s:g}s" if waited_s is not None else ""
            problems.append(f"{pending} message(s) still queued{after} (is the broker reachable?)")
        if problems:
            raise DeliveryError(problems)


def wait_delivered(
    producer: Producer, timeout: float = 30.0, *, tracker: DeliveryTracker | None = None
) -> None:
    """Flush ``producer`` and raise if anything was not acknowledged.

    Raises :class:`~pipeline.errors.DeliveryError` when ``tracker`` recorded failures since its last
    drain, or when messages are still queued after ``timeout`` seconds. Without a tracker only the
    queue is checked, so pass the tracker the producer reports to.
    """
    remaining = producer.flush(timeout)
    (tracker or DeliveryTracker()).raise_for_failures(pending=remaining, waited_s=timeout)


def await_leaders(client: Producer, topics: Sequence[str], timeout_s: float = 30.0) -> None:
    """Wait until the client knows a leader for every partition of ``topics`` (fetching their metadata).

    A producer's first message to a topic waits for its metadata, and on Apache Kafka a topic created a
    moment ago may still be electing its partitions' leaders. Callers that time what follows (the
    benchmarks, which create their topics just before) call this first, so neither is inside the measured
    window. Raises TimeoutError naming what is still missing."""
    deadline = time.monotonic() + timeout_s
    pending = list(topics)
    while pending:
        missing = []
        for name in pending:
            meta = client.list_topics(name, timeout=max(0.5, deadline - time.monotonic())).topics.get(name)
            if (
                meta is None
                or meta.error is not None
                or not meta.partitions
                or any(p.leader < 0 for p in meta.partitions.values())
            ):
                missing.append(name)
        pending = missing
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"no leader for every partition of {', '.join(pending)} after {timeout_s:g} s")
        if pending:
            time.sleep(0.05)
