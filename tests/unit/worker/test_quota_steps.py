"""Quotas per organisation on the in-memory stores: over-quota messages are held, counted, released later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.kafka.emit import ListEmitter
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation, Quotas
from pipeline.state.quotas import MemoryQuotas
from pipeline.worker.admission import Admission
from pipeline.worker.held import release_held
from pipeline.worker.ingest import IngestStep
from pipeline.worker.registry import Registry
from pipeline.worker.sightings import SightingStep
from tests.unit.processors.factories import SteppedClock, exact, indicator_obj, submission
from tests.unit.worker.helpers import TOPICS, submission_messages


def numbers(message: int, per_message: int) -> list[str]:
    return [f"+6681{message:03d}{n:04d}" for n in range(per_message)]


def bulk(message: int, per_message: int, producer: str = "spammer") -> bytes:
    objs = [indicator_obj("phone-number", {"value": v}) for v in numbers(message, per_message)]
    for i, o in enumerate(objs):
        o["id"] = f"indicator--6a0c5f1e-8d4b-4f4e-9a53-{message:04d}{i:08d}"
    return submission(*objs, producer=producer, submission_id=f"bulk-{message}")


async def setup(
    quotas: Mapping[str, Any], store_type: type[MemoryStore] = MemoryStore
) -> tuple[IngestStep, MemoryStore, ListEmitter, SteppedClock, Admission]:
    clock = SteppedClock()
    store, out = store_type(now=clock), ListEmitter()
    await store.put_organisation(
        Organisation(id="spammer", name="S", sector="other", roles={"producer"}, quotas=Quotas(**quotas))
    )
    admission = Admission(MemoryQuotas(now=clock), max_held=12)
    step = IngestStep(
        store, out, TOPICS, ScoreModel(default_trust=0.5), now=clock, registry=Registry(store, refresh_s=0),
        admission=admission,
    )  # fmt: skip
    return step, store, out, clock, admission


def published_ids(out: ListEmitter) -> set[str]:
    return {orjson.loads(m[2])["indicator_id"] for m in out.on(TOPICS.indicators)}


async def test_a_flood_of_new_numbers_is_held_at_the_quota_and_released_in_order_later() -> None:
    """Before: 20 messages of 1,000 random numbers were all accepted and fanned out to every phone feed."""
    step, store, out, clock, admission = await setup(
        {"new_indicators_per_hour": 50, "reports_per_second": None}
    )
    messages = submission_messages(*(bulk(m, 10) for m in range(20)))
    result = await step.process(messages)
    # 5 messages of 10 new numbers fill the hour; the other 15 wait, 12 held (the queue's size) and 3 to
    # the DLQ as over_quota with their original bytes: nothing is lost.
    assert (result.accepted, result.held, result.rejected) == (50, 12, 3)
    assert len(published_ids(out)) == 50
    dead = out.on(TOPICS.dlq)
    assert [m[2] for m in dead] == [m.value for m in messages[17:]]
    assert all(dict(m[3])["scamshare-reason"].startswith(b"over_quota: ") for m in dead)
    stats = exact(await store.stats())
    assert (stats["held"], stats["held:new_indicators_per_hour"], stats["rejected:over_quota"]) == (12, 12, 3)
    # A new message queues behind the held ones, even a small one; the queue is full, so: the DLQ.
    late = await step.process(submission_messages(bulk(99, 1), start=20))
    assert (late.accepted, late.held, late.rejected) == (0, 0, 1)
    sightings = SightingStep(step.versions, now=clock, registry=step.registry, admission=admission)
    # Within the hour nothing is released; an hour later the next 5 messages go through, oldest first.
    assert await release_held(admission, step, sightings) == 0
    clock.advance(3600)
    assert await release_held(admission, step, sightings) == 5
    assert len(published_ids(out)) == 100
    assert await admission.quotas.held_count("spammer") == 7
    clock.advance(3600)
    assert await release_held(admission, step, sightings) == 5
    clock.advance(3600)
    assert await release_held(admission, step, sightings) == 2
    assert await admission.quotas.held_orgs() == []
    stats = exact(await store.stats())
    assert stats["released"] == 12 and stats["accepted"] == 50 + 120


class ReadRecording(MemoryStore):
    """Records which ids admission asked about, each merge read, and every load_states outside them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.merging = False
        self.asked: list[list[str]] = []
        self.loaded_outside_merge: list[list[str]] = []
        self.merge_reads: list[list[str]] = []

    async def load_for_merge(self, indicator_ids: Any, submissions: Any) -> Any:
        self.merge_reads.append(list(indicator_ids))
        self.merging = True
        try:
            return await super().load_for_merge(indicator_ids, submissions)
        finally:
            self.merging = False

    async def load_states(self, indicator_ids: Any) -> Any:
        if not self.merging:
            self.loaded_outside_merge.append(list(indicator_ids))
        return await super().load_states(indicator_ids)

    async def known_indicators(self, indicator_ids: Any) -> list[bool]:
        self.asked.append(list(indicator_ids))
        return await super().known_indicators(indicator_ids)


async def test_new_indicators_are_told_from_known_ones_by_the_merge_read_alone() -> None:
    """Before: every batch of an organisation with a new-indicators quota (every one, by default) loaded
    the whole states of its indicators only to learn which were new; later it asked Redis which existed,
    a round trip of its own. Now the batch's one merge read, made before admission, tells them."""
    quotas = {"new_indicators_per_hour": 15, "reports_per_second": None}
    step, store, _, _, _ = await setup(quotas, ReadRecording)
    assert isinstance(store, ReadRecording)
    assert (await step.process(submission_messages(bulk(1, 10)))).accepted == 10
    objs = [indicator_obj("phone-number", {"value": v}) for v in numbers(1, 10)]  # the same ten, again
    again = submission(*objs, producer="spammer", submission_id="again")
    # 10 known + 5 new fit the 15 new an hour; counting the known ones as new would hold a message.
    result = await step.process(submission_messages(again, bulk(2, 5), start=1))
    assert (result.accepted, result.held, result.rejected) == (15, 0, 0)
    assert store.loaded_outside_merge == []
    assert store.asked == []  # no separate lookup
    assert [len(ids) for ids in store.merge_reads] == [10, 15]  # one read a batch, every valid report's


async def test_reports_per_second_delays_but_a_message_larger_than_the_window_is_not_stuck() -> None:
    step, _, out, clock, admission = await setup({"reports_per_second": 5, "new_indicators_per_hour": None})
    first = await step.process(submission_messages(bulk(1, 8), bulk(2, 3)))
    assert (first.accepted, first.held) == (8, 1)  # 8 > 5 fits only an empty window; the next one waits
    sightings = SightingStep(step.versions, now=clock, registry=step.registry, admission=admission)
    clock.advance(1)
    assert await release_held(admission, step, sightings) == 1
    assert len(published_ids(out)) == 11


async def test_unlimited_quotas_hold_nothing() -> None:
    step, _, _, _, _ = await setup(
        {"reports_per_second": None, "new_indicators_per_hour": None, "sightings_per_hour": None}
    )
    result = await step.process(submission_messages(*(bulk(m, 10) for m in range(5))))
    assert (result.accepted, result.held) == (50, 0)


async def test_a_burst_split_across_batches_counts_what_queued_behind_the_held_ones() -> None:
    """Before: messages queued behind held ones were counted ``held:held`` (a broken e2e in 1 run of 6)."""
    step, store, _, clock, admission = await setup({"reports_per_second": 2, "new_indicators_per_hour": None})
    messages = submission_messages(*(bulk(m, 1) for m in range(8)))
    first, second = await step.process(messages[:4]), await step.process(messages[4:])
    assert (first.accepted, first.held, second.accepted, second.held) == (2, 2, 0, 4)
    stats = exact(await store.stats())
    assert (stats["held"], stats["held:reports_per_second"], stats["held:queued"]) == (6, 2, 4)
    assert "held:held" not in stats
    sightings = SightingStep(step.versions, now=clock, registry=step.registry, admission=admission)
    for _ in range(3):
        clock.advance(1)
        assert await release_held(admission, step, sightings) == 2
    assert exact(await store.stats())["released"] == 6
