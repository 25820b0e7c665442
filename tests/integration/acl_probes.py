"""What a client sees when it tries something on a broker with ACLs: shared by the Kafka ACL tests."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError as ClientError
from confluent_kafka import KafkaException, Producer

from pipeline.config import Settings
from pipeline.kafka.clients import build_consumer

WAIT_S = 15.0


def produce_error(
    producer: Producer, topic: str, value: bytes = b'{"probe": 1}', wait_s: float = WAIT_S
) -> ClientError | None:
    """The delivery report's error (None = acknowledged); or the error ``produce`` raised at once for a topic
    the broker already refused this client (librdkafka remembers the refusal from its metadata)."""
    reports: list[ClientError | None] = []
    try:
        producer.produce(topic, value, key=b"probe", on_delivery=lambda err, _msg: reports.append(err))
    except KafkaException as exc:
        return exc.args[0]  # type: ignore[no-any-return]
    assert producer.flush(wait_s + 5) == 0, f"no delivery report for {topic}"
    return reports[0]


def consume_error(settings: Settings, topic: str, group: str, wait_s: float = WAIT_S) -> ClientError | None:
    """Subscribe in ``group`` and wait for the first record (None) or the first error (returned)."""
    consumer = build_consumer(settings, group)
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                return msg.error()
        pytest.fail(f"neither a record nor an error from {topic} in group {group} within {wait_s:g}s")
    finally:
        consumer.close()
