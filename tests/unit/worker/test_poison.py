"""Poison isolation on the in-memory store: one message our code fails on does not stall its batch."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from redis.exceptions import (
    AuthenticationError,
    ClusterDownError,
    MasterDownError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from pipeline.canon import Canonical
from pipeline.errors import ContentionError
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.allowlist import Allowlist
from pipeline.state.memory_store import MemoryStore
from pipeline.wire.headers import HEADER_REASON, HEADER_SOURCE, HEADER_STAGE
from pipeline.wire.message import InMessage
from pipeline.worker.poison import process_isolating
from tests.unit.processors.factories import NOW, exact, phone_submission
from tests.unit.worker.helpers import TOPICS, Step, ingest, submission_messages

COUNTERS = {"rejected": 1, "rejected:processing_error": 1}


def batch(*values: bytes) -> list[InMessage]:
    return [InMessage(TOPICS.submissions, 0, i, None, v) for i, v in enumerate(values)]


async def isolate(step: Step, msgs: list[InMessage], store: MemoryStore, dlq: ListEmitter) -> list[int]:
    return await process_isolating(
        step.process, msgs, stage="ingest", emitter=dlq, store=store, dlq_topic=TOPICS.dlq,
        counters=COUNTERS, now=lambda: NOW,
    )  # fmt: skip


async def test_the_failing_message_is_dead_lettered_once_and_the_rest_processed() -> None:
    store, step, dlq = MemoryStore(now=lambda: NOW), Step(KeyError("bug")), ListEmitter()
    msgs = batch(b"a", b"b", b"poison", b"c", b"d")
    results = await isolate(step, msgs, store, dlq)
    assert sorted(step.processed) == [b"a", b"b", b"c", b"d"]
    assert sum(results) == 4
    [(topic, _, value, headers)] = dlq.messages
    assert (topic, value) == (TOPICS.dlq, b"poison")
    assert dict(headers)[HEADER_STAGE] == b"ingest-error"
    assert dict(headers)[HEADER_REASON].startswith(b"processing_error: KeyError")
    assert dict(headers)[HEADER_SOURCE] == f"{TOPICS.submissions}:0:2".encode()
    assert dlq.flushed >= 1  # dead-lettered only once acknowledged
    await isolate(step, msgs, store, dlq)  # a replay
    assert await store.stats() == {"rejected": 1, "rejected:processing_error": 1}


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("redis down"),
        ContentionError("lost 20 times"),
        TimeoutError(),
        # Redis refusing writes, as redis-py raises it for the server's reply (before, each of these had every
        # report of the batch dead-lettered as processing_error):
        ReadOnlyError("You can't write against a read only replica."),  # a demoted primary (failover)
        OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        NoPermissionError("this user has no permissions to run the 'evalsha' command"),
        AuthenticationError("invalid username-password pair or user is disabled."),
        ClusterDownError("The cluster is down"),
        MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
        TryAgainError("Multiple keys request during rehashing of slot"),
        NoScriptError("No matching script."),  # a restarted or promoted cluster primary
        SlotNotCoveredError("Command # 1 (EVALSHA) does not have a node for slot 7"),
        ResponseError("MISCONF Redis is configured to save RDB snapshots, but it's unable to persist"),
        ResponseError("BUSY Redis is busy running a script."),
        ResponseError("NOREPLICAS Not enough good replicas to write."),
        # A write refused inside a script: a plain script error quoting the code (as Redis 7 sends it).
        ResponseError(
            "Error running script (call to f_e4aa9592f1b222ebe53514593da1e1480c62013d): @user_script:2: "
            "@user_script: 2: -OOM command not allowed when used memory > 'maxmemory'."
        ),
        ResponseError(
            "Error running script (call to f_0): @user_script:9: -READONLY You can't write against a "
            "read only replica."
        ),
    ],
    ids=lambda e: type(e).__name__ + (f"-{str(e).split()[0]}" if type(e) is ResponseError else ""),
)
async def test_infrastructure_errors_are_left_to_the_retry(error: Exception) -> None:
    store, step, dlq = MemoryStore(now=lambda: NOW), Step(error), ListEmitter()
    with pytest.raises(type(error)):
        await isolate(step, batch(b"a", b"poison"), store, dlq)
    assert dlq.messages == []
    assert step.processed == []
    assert await store.stats() == {}


async def test_a_redis_error_about_the_call_itself_is_isolated_like_any_bug() -> None:
    """A script error is the code failing on what it was given: the message is found and dead-lettered."""
    error = ResponseError("Error running script (call to f_1c2d...): @user_script:12: bad argument")
    store, step, dlq = MemoryStore(now=lambda: NOW), Step(error), ListEmitter()
    await isolate(step, batch(b"a", b"poison"), store, dlq)
    assert [value for _, _, value, _ in dlq.messages] == [b"poison"]
    assert step.processed == [b"a"]


@dataclass(frozen=True)
class BrokenAllowlist(Allowlist):
    """An allowlist with a bug on one value (a stand-in for any defect our code has on one message)."""

    def match(self, c: Canonical) -> str | None:
        if c.value == "+66899999999":
            raise ValueError("bug in the allowlist")
        return super().match(c)


async def test_a_real_ingest_step_isolates_the_report_it_fails_on() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = ingest(store, out)
    step.allowlist = BrokenAllowlist()
    values = [
        phone_submission("0811111111", country="TH", submission_id="ok-1"),
        phone_submission("0899999999", country="TH", submission_id="poison"),
        phone_submission("0822222222", country="TH", submission_id="ok-2"),
    ]
    msgs = submission_messages(*values)
    results = await process_isolating(
        step.process, msgs, stage="ingest", emitter=out, store=store, dlq_topic=TOPICS.dlq,
        counters=COUNTERS, now=lambda: NOW,
    )  # fmt: skip
    assert sum(r.accepted for r in results) == 2
    [(_, _, value, headers)] = out.on(TOPICS.dlq)
    assert value == values[1]
    assert dict(headers)[HEADER_REASON] == b"processing_error: ValueError: bug in the allowlist"
    published = sorted(orjson.loads(m[2])["value"] for m in out.on(TOPICS.indicators))
    assert published == ["+66811111111", "+66822222222"]
    stats = exact(await store.stats())
    assert (stats["accepted"], stats["rejected"], stats["rejected:processing_error"]) == (2, 1, 1)
