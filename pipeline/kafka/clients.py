"""Kafka client factories (confluent-kafka) and delivery tracking.

Constructing a client performs no network I/O: librdkafka connects lazily, on the first request.
Configuration is assembled from :meth:`Settings.librdkafka`, in this order of precedence (last wins)::

    scamshare defaults  <  settings.kafka_options and secrets  <  keyword overrides of the call

so an operator can tune any default with ``-X linger.ms=50`` and code can still pin what it must.
Keyword overrides use librdkafka names; pass them as a dict when a name has dots::

    producer = build_producer(settings, **{"linger.ms": 0})

Delivery reports arrive through callbacks served by ``poll()``/``flush()``. :class:`DeliveryTracker`
is such a callback that remembers failures, and :func:`wait_delivered` flushes and turns failures (or
messages still queued at the deadline) into a :class:`~pipeline.errors.DeliveryError`::

    tracker = DeliveryTracker()
    producer = build_producer(settings, on_delivery=tracker)   # every message reports to it
    for key, value in records:
        producer.produce(topic, value, key)
        producer.poll(0)                                       # serve callbacks as we go
    wait_delivered(producer, timeout=30, tracker=tracker)      # raises DeliveryError on any failure
"""

from __future__ import annotations

import logging
import threading
from typing import Any

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


class DeliveryTracker:
    """A delivery-report callback that counts deliveries and remembers failures.

    Use it as the producer-wide callback (``build_producer(settings, on_delivery=tracker)``) or per
    message (``producer.produce(topic, value, on_delivery=tracker)``). Callbacks run inside
    ``poll()``/``flush()`` on the calling thread; a lock keeps counts right if several threads poll.
    At most ``keep`` failure descriptions are stored; :attr:`failed` counts all of them.
    """

    def __init__(self, keep: int = 100) -> None:
        self.delivered = 0
        self.failed = 0
        self._keep = keep
        self._failures: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, err: KafkaError | None, msg: Message[Any, Any]) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
                return
            self.failed += 1
            if len(self._failures) < self._keep:
                self._failures.append(_describe_failure(err, msg))
        logger.debug("delivery failed topic=%s partition=%s error=%s", msg.topic(), msg.partition(), err)

    def drain(self) -> list[str]:
        """Return the failures recorded since the last drain and forget them (counters are kept)."""
        with self._lock:
            failures, self._failures = self._failures, []
            return failures


def _describe_failure(err: KafkaError, msg: Message[Any, Any]) -> str:
    key = msg.key()
    shown = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return f"topic={msg.topic()} key={shown!r}: {err.str()} ({err.name()})"


def wait_delivered(
    producer: Producer, timeout: float = 30.0, *, tracker: DeliveryTracker | None = None
) -> None:
    """Flush ``producer`` and raise if anything was not acknowledged.

    Raises :class:`~pipeline.errors.DeliveryError` when ``tracker`` recorded failures since its last
    drain, or when messages are still queued after ``timeout`` seconds. Without a tracker only the
    queue is checked, so pass the tracker the producer reports to.
    """
    remaining = producer.flush(timeout)
    failures = tracker.drain() if tracker is not None else []
    if remaining:
        failures.append(f"{remaining} message(s) still queued after {timeout:g}s (is the broker reachable?)")
    if failures:
        raise DeliveryError(failures)
