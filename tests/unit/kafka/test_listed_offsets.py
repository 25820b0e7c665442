"""listed_offsets: ListOffsets asked again while a partition's leader is moving (a topic just created)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from pipeline.kafka.read import listed_offsets

TP = TopicPartition("t.feed.scamshare-canary", 1)


class Answers:
    """A stand-in for the consumer's ``get_watermark_offsets``: raises the given errors, then answers."""

    def __init__(self, *errors: int, answer: tuple[int, int] = (0, 7)) -> None:
        self.errors = list(errors)
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def get_watermark_offsets(self, tp: TopicPartition, **kwargs: Any) -> tuple[int, int]:
        self.calls.append({"tp": tp, **kwargs})
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return self.answer


def test_a_moving_leader_is_asked_again_until_it_answers() -> None:
    # What Apache Kafka answered the canary once, for a feed topic created a moment before.
    consumer = Answers(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
    got = listed_offsets(consumer, TP, 10.0, time.monotonic() + 10, pause_s=0.01)  # type: ignore[arg-type]
    assert got == (0, 7)
    assert len(consumer.calls) == 3
    assert all(c["cached"] is False and c["timeout"] == 10.0 and c["tp"] is TP for c in consumer.calls)


def test_a_leader_still_moving_at_the_deadline_raises_its_error() -> None:
    consumer = Answers(*[KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException) as raised:
        listed_offsets(consumer, TP, 10.0, time.monotonic() + 0.05, pause_s=0.01)  # type: ignore[arg-type]
    assert raised.value.args[0].code() == KafkaError.NOT_LEADER_FOR_PARTITION
    assert 1 <= len(consumer.calls) < 100


@pytest.mark.parametrize(
    "code", [KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._TIMED_OUT]
)
def test_any_other_error_raises_at_once(code: int) -> None:
    consumer = Answers(code)
    with pytest.raises(KafkaException) as raised:
        listed_offsets(consumer, TP, 10.0, time.monotonic() + 10, pause_s=0.01)  # type: ignore[arg-type]
    assert raised.value.args[0].code() == code
    assert len(consumer.calls) == 1
