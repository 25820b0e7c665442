"""Poison isolation against a real Redis: one message our code fails on does not stall its batch."""

from __future__ import annotations

import pytest
import redis

from pipeline.config import Settings
from pipeline.kafka.emit import ListEmitter
from pipeline.state.redis_store import RedisStore
from pipeline.wire.headers import HEADER_REASON, HEADER_STAGE
from pipeline.wire.message import InMessage
from pipeline.worker.poison import process_isolating
from tests.unit.worker.helpers import Step

pytestmark = [pytest.mark.integration]


def batch(settings: Settings, *values: bytes) -> list[InMessage]:
    return [InMessage(settings.topics.submissions, 0, i, None, v) for i, v in enumerate(values)]


async def test_the_failing_message_is_dead_lettered_once_and_the_rest_processed(
    settings: Settings, store: RedisStore, redis_client: redis.Redis
) -> None:
    step, dlq = Step(KeyError("bug")), ListEmitter()
    msgs = batch(settings, b"a", b"b", b"poison", b"c", b"d")
    counters = {"rejected": 1, "rejected:processing_error": 1}
    kwargs = {
        "stage": "ingest",
        "emitter": dlq,
        "store": store,
        "dlq_topic": settings.topics.dlq,
        "counters": counters,
    }
    results = await process_isolating(step.process, msgs, **kwargs)  # type: ignore[arg-type]
    assert sorted(step.processed) == [b"a", b"b", b"c", b"d"]
    assert sum(results) == 4
    [(topic, _, value, headers)] = dlq.messages
    assert (topic, value) == (settings.topics.dlq, b"poison")
    assert dict(headers)[HEADER_STAGE] == b"ingest-error"
    assert dict(headers)[HEADER_REASON].startswith(b"processing_error: KeyError")
    await process_isolating(step.process, msgs, **kwargs)  # type: ignore[arg-type]  # a replay
    assert await store.stats() == {"rejected": 1, "rejected:processing_error": 1}


async def test_infrastructure_errors_are_left_to_the_retry(settings: Settings, store: RedisStore) -> None:
    step, dlq = Step(ConnectionRefusedError("redis down")), ListEmitter()
    with pytest.raises(ConnectionRefusedError):
        await process_isolating(
            step.process, batch(settings, b"a", b"poison"), stage="ingest", emitter=dlq, store=store,
            dlq_topic=settings.topics.dlq, counters={"rejected": 1},
        )  # fmt: skip
    assert dlq.messages == []
    assert step.processed == []
