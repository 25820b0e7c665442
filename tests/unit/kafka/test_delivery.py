"""The pure parts of the Kafka I/O layer: the backpressure loop and delivery accounting (no broker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError

from pipeline.errors import DeliveryError
from pipeline.kafka.clients import DeliveryFailure, DeliveryTracker, produce
from pipeline.kafka.emit import KafkaEmitter


@dataclass
class QueueFullProducer:
    """A stand-in for confluent-kafka's Producer whose local queue is full for the first ``full`` sends."""

    full: int = 0
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)

    def produce(self, topic: str, **kwargs: Any) -> None:
        if self.full > 0:
            self.full -= 1
            raise BufferError("Local: Queue full")
        self.sent.append((topic, kwargs))

    def poll(self, timeout: float = -1) -> int:
        self.polls.append(timeout)
        return 0


@dataclass
class FakeMessage:
    """The part of a confluent-kafka Message a delivery report carries."""

    _topic: str = "scam.feed.bank"
    _partition: int | None = 1
    _key: bytes | None = b"indicator--1"

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int | None:
        return self._partition

    def key(self) -> bytes | None:
        return self._key


def test_produce_waits_for_room_then_serves_callbacks() -> None:
    producer = QueueFullProducer(full=3)
    callback = DeliveryTracker()

    produce(producer, "t", b"k", b"v", headers=[("h", b"1")], on_delivery=callback, wait_s=0.01)

    assert producer.sent == [
        ("t", {"key": b"k", "value": b"v", "headers": [("h", b"1")], "on_delivery": callback})
    ]
    # One wait per full queue, then one non-blocking poll for the reports that have arrived.
    assert producer.polls == [0.01, 0.01, 0.01, 0]


def test_produce_without_serving_polls_only_while_the_queue_is_full() -> None:
    producer = QueueFullProducer(full=2)
    produce(producer, "t", b"k", b"v", wait_s=0.01, serve=False)
    produce(producer, "t", b"k2", b"v2", serve=False)
    assert [kwargs["key"] for _, kwargs in producer.sent] == [b"k", b"k2"]
    assert producer.polls == [0.01, 0.01]  # the waits for room; no poll(0) after either send


async def test_the_emitter_sends_without_a_poll_per_message_and_serves_reports_at_flush() -> None:
    @dataclass
    class FlushingProducer(QueueFullProducer):
        flushes: int = 0

        def __len__(self) -> int:
            return len(self.sent) if not self.flushes else 0

        def flush(self, timeout: float = -1) -> int:
            self.flushes += 1
            return 0

    producer = FlushingProducer(full=1)
    emitter = KafkaEmitter(producer)  # type: ignore[arg-type]
    for i in range(3):
        emitter.send("scam.indicators", f"indicator--{i}".encode(), b"{}", [("h", b"1")])
    assert producer.polls == [0.05]  # only the wait for room in the full queue
    assert emitter.sent == 3 and len(producer.sent) == 3
    await emitter.flush()
    assert producer.flushes == 1  # the flush is what serves the delivery reports


def test_produce_passes_only_what_is_given() -> None:
    producer = QueueFullProducer()
    produce(producer, "t", None, None)
    produce(producer, "t", "k", "v", partition=3)
    assert producer.sent == [
        ("t", {"key": None, "value": None}),
        ("t", {"key": "k", "value": "v", "partition": 3}),
    ]
    assert producer.polls == [0, 0]


def test_produce_leaves_other_errors_to_the_caller() -> None:
    class Refusing(QueueFullProducer):
        def produce(self, topic: str, **kwargs: Any) -> None:
            raise ValueError("refused")

    producer = Refusing()
    with pytest.raises(ValueError, match="refused"):
        produce(producer, "t", b"k", b"v")
    assert producer.polls == []


def test_tracker_counts_acknowledgements_and_failures_with_where_and_why() -> None:
    tracker = DeliveryTracker()
    ok, bad = FakeMessage(), FakeMessage(_partition=0, _key=b"indicator--2")
    tracker(None, ok)  # type: ignore[arg-type]
    tracker(None, ok)  # type: ignore[arg-type]
    failure = tracker.record(KafkaError(KafkaError._MSG_TIMED_OUT), bad, label="submission=s1")  # type: ignore[arg-type]

    assert (tracker.delivered, tracker.failed) == (2, 1)
    assert failure == tracker.failures[0]
    assert (failure.topic, failure.partition, failure.key, failure.label) == (
        "scam.feed.bank",
        0,
        "indicator--2",
        "submission=s1",
    )
    assert failure.error.endswith("(_MSG_TIMED_OUT)")
    assert str(failure).startswith("topic=scam.feed.bank[0] key=indicator--2 submission=s1: ")


def test_a_refused_message_counts_as_a_failure_without_a_partition() -> None:
    tracker = DeliveryTracker()
    failure = tracker.fail("scam.submissions", b"big", "Broker: Message size too large (MSG_SIZE_TOO_LARGE)")
    assert failure == DeliveryFailure("scam.submissions", None, "big", failure.error)
    assert (
        str(failure) == "topic=scam.submissions key=big: Broker: Message size too large (MSG_SIZE_TOO_LARGE)"
    )
    assert tracker.failed == 1


def test_raise_for_failures_drains_what_it_reports() -> None:
    tracker = DeliveryTracker(keep=2)
    for i in range(5):
        tracker.fail("t", f"k{i}".encode(), "boom", partition=0)

    with pytest.raises(DeliveryError) as caught:
        tracker.raise_for_failures()
    assert caught.value.failures == [
        "topic=t[0] key=k0: boom",
        "topic=t[0] key=k1: boom",
        "... and 3 more failure(s)",
    ]
    assert "topic=t[0] key=k0: boom" in str(caught.value)
    # Drained: nothing new to report, and the lifetime counters stay.
    tracker.raise_for_failures()
    assert (tracker.failed, tracker.failures) == (5, [])


def test_raise_for_failures_reports_messages_still_queued() -> None:
    tracker = DeliveryTracker()
    with pytest.raises(DeliveryError, match=r"2 message\(s\) still queued after 1.5s"):
        tracker.raise_for_failures(pending=2, waited_s=1.5)
    tracker.raise_for_failures(pending=0)  # nothing failed, nothing queued: no error


def test_keep_bounds_the_failures_kept_not_the_count() -> None:
    tracker = DeliveryTracker(keep=3)
    for _ in range(10):
        tracker.fail("t", None, "boom")
    assert tracker.failed == 10
    assert len(tracker.failures) == 3
    assert len(tracker.drain()) == 3
    assert tracker.drain() == []


@dataclass
class CountingProducer:
    """A stand-in for confluent-kafka's Producer: ``queued`` is its out queue, ``flushes`` its flush calls."""

    queued: int = 0
    flushes: int = 0

    def __len__(self) -> int:
        return self.queued

    def flush(self, timeout: float = -1) -> int:
        self.flushes += 1
        self.queued = 0
        return 0


async def test_an_emitter_with_nothing_outstanding_flushes_without_waiting_but_still_reports() -> None:
    producer = CountingProducer(queued=2)
    emitter = KafkaEmitter(producer)  # type: ignore[arg-type]
    await emitter.flush()
    await emitter.flush()  # the out queue is empty: no thread hop, no producer.flush
    assert producer.flushes == 1
    # A failure reported earlier (served by a poll elsewhere) still raises on the next flush.
    emitter.tracker.fail("scam.feed.bank", b"indicator--1", "Broker: Message size too large")
    with pytest.raises(DeliveryError, match="too large"):
        await emitter.flush()
    assert producer.flushes == 1
