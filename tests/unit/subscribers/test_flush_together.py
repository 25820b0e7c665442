"""Fan-out flushes the feeds (the broker's acknowledgements) and the TAXII collections (Redis) at the same
time, waits for both, and marks nothing unless both succeeded; a failure never leaves a flush running."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from pipeline.errors import DeliveryError
from pipeline.kafka.emit import ListEmitter
from pipeline.state.collections import MemoryCollections
from pipeline.state.memory_store import MemoryStore
from pipeline.state.subscription import Subscription
from pipeline.subscribers.channels import Outgoing, all_of
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.taxii_channel import TaxiiCollectionChannel
from pipeline.wire.message import InMessage
from tests.unit.processors.factories import NOW, canonical, phone_submission
from tests.unit.worker.helpers import TOPICS, ingest, submission_messages

BANK = Subscription(id="bank", name="B", sector="bank", organisation="bank", tlp="amber")
TELCO = Subscription(id="telco", name="T", sector="telecom", organisation="telco", tlp="green")
PHONE = canonical("phone", "+66812345678").indicator_id
#: long enough that a flush waiting for the other one fails the test instead of hanging it
PATIENCE_S = 5.0


class GatedChannel:
    """A channel whose flush waits for ``gate`` (set by the other flush) and records when it finished."""

    def __init__(self, gate: asyncio.Event, opens: asyncio.Event, *, fail: bool = False) -> None:
        self.gate, self.opens, self.fail = gate, opens, fail
        self.sent: list[Outgoing] = []
        self.finished = False

    async def prepare(self, subscriptions: Sequence[Subscription]) -> None:
        return None

    def send(self, item: Outgoing) -> None:
        self.sent.append(item)

    async def flush(self) -> None:
        self.opens.set()  # the other flush may go on: it has started, and so has this one
        await asyncio.wait_for(self.gate.wait(), PATIENCE_S)
        await asyncio.sleep(0.01)  # finishes after the other one was let through
        self.finished = True
        if self.fail:
            raise DeliveryError(["feed: broker refused"])


class GatedCollections(MemoryCollections):
    """TAXII collections whose adds wait for ``gate`` (set by the feed's flush); can fail instead."""

    def __init__(self, gate: asyncio.Event, opens: asyncio.Event, *, fail: bool = False) -> None:
        super().__init__()
        self.gate, self.opens, self.fail = gate, opens, fail
        self.finished = False

    async def add(self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int) -> int:
        self.opens.set()
        await asyncio.wait_for(self.gate.wait(), PATIENCE_S)
        await asyncio.sleep(0.01)
        self.finished = True
        if self.fail:
            raise ConnectionError("redis went away")
        return await super().add(collection, objects, now_us)


async def records(store: MemoryStore) -> list[InMessage]:
    produced = ListEmitter()
    await ingest(store, produced).process(
        submission_messages(phone_submission("0812345678", country="TH", submission_id="p1"))
    )
    return [
        InMessage(TOPICS.indicators, 0, i, m[1], m[2], dict(m[3]))
        for i, m in enumerate(produced.on(TOPICS.indicators))
    ]


async def setup(
    *, feed_fails: bool = False, collections_fail: bool = False
) -> tuple[DeliverStep, MemoryStore, GatedChannel, GatedCollections, list[InMessage]]:
    store = MemoryStore(now=lambda: NOW)
    for sub in (BANK, TELCO):
        await store.put_subscription(sub)
    feed_started, collections_started = asyncio.Event(), asyncio.Event()
    # Each flush waits until the other has started: done one after the other, the first never returns.
    feed = GatedChannel(collections_started, feed_started, fail=feed_fails)
    collections = GatedCollections(feed_started, collections_started, fail=collections_fail)
    step = DeliverStep(
        store, ListEmitter(), TOPICS, {"kafka": feed}, now=lambda: NOW,
        collections=TaxiiCollectionChannel(collections),
    )  # fmt: skip
    return step, store, feed, collections, await records(store)


async def test_the_feeds_and_the_collections_flush_at_the_same_time_then_deliveries_are_marked() -> None:
    """Before: the collections were flushed only after the broker acknowledged the feeds, so each fan-out
    batch waited for both, one after the other (here the first flush times out waiting for the second)."""
    step, store, feed, collections, batch = await setup()
    assert await step.process(batch) == 2
    assert feed.finished and collections.finished
    assert sorted(item.subscription.id for item in feed.sent) == ["bank", "telco"]
    assert await collections.count("bank") > 0 and await collections.count("telco") > 0
    assert await store.load_delivered([PHONE], ["bank", "telco"]) == [{"bank": 1, "telco": 1}]


@pytest.mark.parametrize("failing", ["feed", "collections"])
async def test_when_either_flush_fails_the_other_finishes_first_and_nothing_is_marked(failing: str) -> None:
    step, store, feed, collections, batch = await setup(
        feed_fails=failing == "feed", collections_fail=failing == "collections"
    )
    with pytest.raises(DeliveryError if failing == "feed" else ConnectionError):
        await step.process(batch)
    # The batch is retried as a whole: no flush of this attempt may still be running when it is.
    assert feed.finished and collections.finished
    assert await store.load_delivered([PHONE], ["bank", "telco"]) == [{}]
    assert "delivered:bank" not in await store.stats()


async def test_all_of_waits_for_every_step_and_raises_the_first_failure() -> None:
    """Before (a bare asyncio.gather in the TAXII channel), the first failure propagated while the other
    collections' writes were still running."""
    done: list[str] = []

    async def slow(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done.append(name)

    async def fails(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done.append(name)
        raise ConnectionError(name)

    with pytest.raises(ConnectionError, match="first"):
        await all_of(fails("first", 0.0), slow("slow", 0.05), fails("second", 0.01))
    assert sorted(done) == ["first", "second", "slow"]
    await all_of()  # nothing to wait for
    await all_of(slow("alone", 0))
    assert done[-1] == "alone"


async def test_a_failed_collection_write_leaves_no_other_collection_write_running() -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    class OneFails(MemoryCollections):
        def __init__(self) -> None:
            super().__init__()
            self.finished: list[str] = []

        async def add(
            self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int
        ) -> int:
            if collection == "bank":
                started.set()
                await asyncio.wait_for(gate.wait(), PATIENCE_S)
                raise ConnectionError("redis went away")
            await asyncio.wait_for(started.wait(), PATIENCE_S)
            gate.set()
            await asyncio.sleep(0.02)
            self.finished.append(collection)
            return await super().add(collection, objects, now_us)

    store, collections = MemoryStore(now=lambda: NOW), OneFails()
    for sub in (BANK, TELCO):
        await store.put_subscription(sub)
    channel = TaxiiCollectionChannel(collections)
    step = DeliverStep(store, ListEmitter(), TOPICS, {"kafka": GatedChannel(*_open())}, now=lambda: NOW,
                       collections=channel)  # fmt: skip
    with pytest.raises(ConnectionError):
        await step.process(await records(store))
    assert collections.finished == ["telco"]


def _open() -> tuple[asyncio.Event, asyncio.Event]:
    """A gate already open and an event nobody waits for: a feed channel that does not wait."""
    gate = asyncio.Event()
    gate.set()
    return gate, asyncio.Event()
