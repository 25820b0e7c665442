"""The sightings step on the in-memory store: applied once; two subscribers' false positives revoke."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.kafka.emit import ListEmitter
from pipeline.state.memory_store import MemoryStore
from pipeline.wire.headers import HEADER_REASON, HEADER_SOURCE, HEADER_STAGE
from pipeline.wire.message import InMessage
from pipeline.worker.sightings import SightingStep
from tests.unit.processors.factories import (
    NOW,
    canonical,
    exact,
    in_messages,
    phone_submission,
    sighting_message,
)
from tests.unit.worker.helpers import TOPICS, RacingStore, ingest

PHONE = canonical("phone", "+66812345678")
NOWHERE = "indicator--00000000-0000-5000-8000-000000000000"


def sid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def sighting(subscriber: str, kind: str, n: int, indicator_id: str = PHONE.indicator_id) -> InMessage:
    return sighting_message(TOPICS.sightings, subscriber, indicator_id, kind, sid(n), n)


def records(emitter: ListEmitter) -> list[dict[str, Any]]:
    return [orjson.loads(m[2]) for m in emitter.on(TOPICS.indicators)]


async def published_phone(store: MemoryStore, out: ListEmitter) -> SightingStep:
    step = ingest(store, out)
    await step.process(in_messages(TOPICS.submissions, phone_submission("0812345678", country="TH")))
    return SightingStep(step.versions, now=lambda: NOW)


async def test_false_positives_from_two_subscribers_revoke_and_sightings_count_once() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    first = [sighting("telco", "false-positive", 1), sighting("telco", "false-positive", 2)]
    result = await step.process(first)
    assert (result.applied, result.published) == (2, 0)  # one subscriber alone does not revoke
    replay = await step.process(first)  # nothing counted again
    assert (replay.applied, replay.replayed, replay.published) == (0, 2, 0)
    result = await step.process([sighting("bank", "false-positive", 3)])
    assert (result.applied, result.published) == (1, 1)
    got = records(out)
    assert [(r["version"], r["revoked"]) for r in got] == [(1, False), (2, True)]
    ext = next(o for o in got[-1]["bundle"]["objects"] if o["type"] == "indicator")["extensions"]
    assert next(iter(ext.values()))["sightings"] == {"true_positive": 0, "false_positive": 3, "blocked": 0}
    assert b"telco" not in orjson.dumps(got[-1]["bundle"])  # producers see counts, not who reported
    stats = exact(await store.stats())
    assert (stats["sightings"], stats["sightings:false_positive"], stats["revocations"]) == (3, 3, 1)
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and state.revoked and state.fp_by == {"telco", "bank"}


async def test_a_replayed_sighting_that_published_re_emits_the_current_version() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    await step.process([sighting("telco", "false-positive", 1)])
    revoking = [sighting("bank", "false-positive", 2)]
    await step.process(revoking)
    before = exact(await store.stats())
    again = ListEmitter()
    result = await SightingStep(ingest(store, again).versions, now=lambda: NOW).process(revoking)
    assert (result.applied, result.replayed, result.published) == (0, 1, 1)
    assert [(r["version"], r["revoked"]) for r in records(again)] == [(2, True)]
    assert exact(await store.stats()) == before


async def test_sightings_of_an_unknown_indicator_and_malformed_ones_are_dead_lettered_and_counted_once() -> (
    None
):
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    unknown = sighting("bank", "blocked", 9, indicator_id=NOWHERE)
    broken = InMessage(TOPICS.sightings, 0, 10, b"k", b'{"spec": "nope"')
    batch = [unknown, broken, sighting("bank", "true-positive", 11)]
    result = await step.process(batch)
    assert (result.rejected, result.unknown, result.applied) == (2, 1, 1)
    dead = {m[2]: dict(m[3]) for m in out.on(TOPICS.dlq)}
    assert set(dead) == {unknown.value, broken.value}  # the original bytes
    assert dead[unknown.value][HEADER_REASON].startswith(b"unknown_indicator: ")
    assert dead[unknown.value][HEADER_STAGE] == b"sightings"
    assert dead[broken.value][HEADER_SOURCE] == f"{TOPICS.sightings}:0:10".encode()
    await step.process(batch)  # a replay re-sends the rejects and counts nothing again
    stats = exact(await store.stats())
    assert stats["sightings_rejected"] == 2
    assert (stats["sightings"], stats["sightings:true_positive"]) == (1, 1)


async def test_a_lost_compare_and_set_is_retried_and_the_sighting_applied_once() -> None:
    store, out = RacingStore(losses=0), ListEmitter()
    step = await published_phone(store, out)
    store.losses, store.calls = 1, 0
    result = await step.process([sighting("telco", "true-positive", 1)])
    assert store.calls == 2
    assert result.applied == 1
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and state.sightings == (1, 0, 0)
