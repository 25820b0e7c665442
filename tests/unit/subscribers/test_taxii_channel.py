"""The TAXII channel on MemoryCollections, alone and behind the real fan-out step: what a collection holds,
that a replay adds nothing, that only ``taxii`` subscriptions get one, and that an erased value is gone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from stix2patterns.validator import run_validator

from pipeline.kafka.emit import ListEmitter
from pipeline.ops.erasure import ErasureRequest, erase
from pipeline.state.collections import CollectionStore, Entry, MemoryCollections, stamp
from pipeline.state.memory_store import MemoryStore
from pipeline.state.subscription import Subscription
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.subscribers import taxii_channel
from pipeline.subscribers.channels import Outgoing, kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.taxii_channel import TaxiiCollectionChannel, redacted
from pipeline.wire.message import InMessage
from tests.unit.processors.factories import NOW, SteppedClock, canonical, phone_submission
from tests.unit.worker.helpers import TOPICS, RecordingProducer, ingest, submission_messages

BANK = Subscription(id="bank", name="B", sector="bank", organisation="bank", tlp="amber")
TELCO = Subscription(id="telco", name="T", sector="telecom", organisation="telco", taxii=False)
PHONE = canonical("phone", "+66812345678")
NOW_US = int(NOW.timestamp() * 1_000_000)


class Counting(MemoryCollections):
    """MemoryCollections that records each call (and can fail its adds, like a Redis that went away)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, int, int]] = []
        self.fail_adds = 0

    async def add(self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int) -> int:
        if self.fail_adds:
            self.fail_adds -= 1
            raise ConnectionError("redis went away")
        added = await super().add(collection, objects, now_us)
        self.calls.append(("add", collection, len(objects), added))
        return added

    async def remove(self, collection: str, ids: Sequence[str], *, forever: bool = False) -> int:
        removed = await super().remove(collection, ids, forever=forever)
        self.calls.append(("remove" if not forever else "remove-forever", collection, len(ids), removed))
        return removed


class Clock:
    def __init__(self) -> None:
        self.us = NOW_US

    def __call__(self) -> int:
        self.us += 1_000
        return self.us


async def everything(store: CollectionStore, collection: str) -> list[Entry]:
    page = await store.page(collection, after_us=None, limit=1000)
    assert not page.more
    return page.entries


def by_id(entries: list[Entry]) -> dict[str, dict[str, Any]]:
    return {e.id: orjson.loads(e.raw) for e in entries}


async def publish(store: MemoryStore, *values: bytes, start: int = 0) -> list[InMessage]:
    """Ingest submissions; the scam.indicators records they produced, as the fan-out agent reads them."""
    produced = ListEmitter()
    await ingest(store, produced).process(submission_messages(*values, start=start))
    return [
        InMessage(TOPICS.indicators, 0, start + i, m[1], m[2], dict(m[3]))
        for i, m in enumerate(produced.on(TOPICS.indicators))
    ]


def step(store: MemoryStore, collections: CollectionStore, feeds: ListEmitter | None = None) -> DeliverStep:
    async def no_topics(names: list[str]) -> None:
        return None

    channels = kafka_channels(feeds or ListEmitter(), TOPICS.prefix, no_topics)
    taxii = TaxiiCollectionChannel(collections, now_us=Clock())
    return DeliverStep(store, ListEmitter(), TOPICS, channels, now=lambda: NOW, collections=taxii)


def bundle(*objects: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)})


def sdo(kind: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": f"{kind}--{n}", **extra}


# -- the channel alone ------------------------------------------------------------------------------------


async def test_every_object_of_each_bundle_is_stored_by_id_once_per_collection_per_flush() -> None:
    store = Counting()
    channel = TaxiiCollectionChannel(store, now_us=lambda: NOW_US)
    await channel.prepare([BANK])
    one = bundle(sdo("indicator", 1, created="2026-11-22T10:00:00.000Z", modified="2026-11-22T10:00:05.000Z"),
                 {"type": "phone-number", "id": "phone-number--1", "value": "+66811111111"},
                 sdo("marking-definition", 1, created="2017-01-20T00:00:00.000Z"))  # fmt: skip
    two = bundle(sdo("indicator", 2, created="2026-11-22T10:00:06.000Z"))
    channel.send(Outgoing(BANK, "indicator--1", 1, False, one))
    channel.send(Outgoing(TELCO, "indicator--2", 1, False, two))
    channel.send(Outgoing(BANK, "indicator--2", 1, False, two))
    assert store.calls == []  # nothing before the flush
    await channel.flush()
    assert sorted(store.calls) == [("add", "bank", 4, 4), ("add", "telco", 1, 1)]
    entries = await everything(store, "bank")
    assert [(e.id, e.version) for e in entries] == [
        ("indicator--1", "2026-11-22T10:00:05.000Z"),  # modified
        ("phone-number--1", stamp(NOW_US + 1)),  # no modified, no created: its date_added
        ("marking-definition--1", "2017-01-20T00:00:00.000Z"),  # created
        ("indicator--2", "2026-11-22T10:00:06.000Z"),
    ]
    assert [e.raw for e in entries[:3]] == [orjson.dumps(o) for o in orjson.loads(one)["objects"]]
    await channel.flush()  # an empty flush writes nothing
    assert len(store.calls) == 2


async def test_a_replayed_delivery_adds_nothing() -> None:
    store = Counting()
    channel = TaxiiCollectionChannel(store, now_us=Clock())
    item = Outgoing(
        BANK, "indicator--1", 1, False, bundle(sdo("indicator", 1, modified="2026-11-22T10:00:05Z"))
    )
    channel.send(item)
    await channel.flush()
    before = await everything(store, "bank")
    channel.send(item)
    await channel.flush()
    assert store.calls[-1] == ("add", "bank", 1, 0)
    assert await everything(store, "bank") == before


# -- behind the fan-out step ------------------------------------------------------------------------------


async def test_fan_out_materialises_the_feeds_of_taxii_subscriptions_only() -> None:
    store, collections, feeds = MemoryStore(now=lambda: NOW), Counting(), ListEmitter()
    for sub in (BANK, TELCO):
        await store.put_subscription(sub)
    records = await publish(store, phone_submission("0812345678", country="TH"))
    assert await step(store, collections, feeds).process(records) == 2
    # Both feed topics got the version; only bank, with ``taxii`` on, has a collection.
    assert sorted(m[0] for m in feeds.messages) == [TOPICS.feed("bank"), TOPICS.feed("telco")]
    assert await collections.count("telco") == 0
    [bank_feed] = [orjson.loads(m[2]) for m in feeds.messages if m[0] == TOPICS.feed("bank")]
    stored = by_id(await everything(collections, "bank"))
    assert stored == {o["id"]: o for o in bank_feed["objects"]}  # the same objects the feed topic got
    assert {o["type"] for o in stored.values()} == {"indicator", "phone-number", "relationship",
                                                    "marking-definition"}  # fmt: skip
    assert stored[PHONE.sco_id]["value"] == "+66812345678"


async def test_a_replay_after_a_crash_before_the_marks_adds_nothing() -> None:
    """A crash after the flush, before ``mark_delivered``: the batch is delivered again, harmlessly."""
    store, collections = MemoryStore(now=lambda: NOW), Counting()
    await store.put_subscription(BANK)
    records = await publish(store, phone_submission("0812345678", country="TH"))
    assert await step(store, collections).process(records) == 1
    before = await everything(collections, "bank")
    # The same records through a store without the marks (what the crash left): routed again, added never.
    fresh = MemoryStore(now=lambda: NOW)
    await fresh.put_subscription(BANK)
    assert await step(fresh, collections).process(records) == 1
    assert collections.calls[-1] == ("add", "bank", 4, 0)
    assert await everything(collections, "bank") == before
    # And with the marks, nothing is even routed.
    assert await step(store, collections).process(records) == 0
    assert collections.calls[-1] == ("add", "bank", 4, 0)


async def test_a_backfill_fills_the_collection_of_a_subscription_that_got_its_feed_before() -> None:
    """The gateway came after the subscription: fan-out delivered to the Kafka feed with no collection. A
    backfill (``refill_collections``) puts the current matching state in the collection, sends the feed
    nothing again, and a second backfill adds nothing."""
    store, collections, feeds = MemoryStore(now=lambda: NOW), Counting(), ListEmitter()
    await store.put_subscription(BANK)
    records = await publish(store, phone_submission("0812345678", country="TH"))

    async def no_topics(names: list[str]) -> None:
        return None

    kafka_only = kafka_channels(feeds, TOPICS.prefix, no_topics)
    before_gateway = DeliverStep(store, ListEmitter(), TOPICS, kafka_only, now=lambda: NOW)
    assert await before_gateway.process(records) == 1
    assert await collections.count("bank") == 0

    def backfill() -> DeliverStep:
        taxii = TaxiiCollectionChannel(collections, now_us=Clock())
        channels = kafka_channels(feeds, TOPICS.prefix, no_topics)
        return DeliverStep(store, ListEmitter(), TOPICS, channels, now=lambda: NOW, only=frozenset({"bank"}),
                           collections=taxii, refill_collections=True)  # fmt: skip

    assert await backfill().process(records) == 0  # the feed had it: nothing delivered again
    assert len(feeds.messages) == 1
    [bank_feed] = [orjson.loads(m[2]) for m in feeds.messages]
    assert by_id(await everything(collections, "bank")) == {o["id"]: o for o in bank_feed["objects"]}
    assert await backfill().process(records) == 0
    assert collections.calls[-1] == ("add", "bank", 4, 0)  # the same bytes again: nothing added


async def test_nothing_is_marked_delivered_until_the_collection_has_it() -> None:
    store, collections = MemoryStore(now=lambda: NOW), Counting()
    await store.put_subscription(BANK)
    records = await publish(store, phone_submission("0812345678", country="TH"))
    collections.fail_adds = 1
    with pytest.raises(ConnectionError):
        await step(store, collections).process(records)
    assert await store.load_delivered([PHONE.indicator_id], ["bank"]) == [{}]  # the retry delivers it
    assert await step(store, collections).process(records) == 1
    assert await collections.count("bank") == 4


# -- erasure ----------------------------------------------------------------------------------------------


def assert_value_gone(entries: list[Entry]) -> None:
    for entry in entries:
        assert b"812345678" not in entry.raw, entry.id
    assert PHONE.sco_id not in {e.id for e in entries}


async def erased_collection() -> tuple[MemoryStore, Counting, list[InMessage], ListEmitter]:
    """bank got v1 of a phone number in its feed and collection, then the number was erased."""
    clock = SteppedClock(NOW)
    store, collections, feeds = MemoryStore(now=clock), Counting(), ListEmitter()
    await store.put_subscription(BANK)
    first = await publish(store, phone_submission("0812345678", country="TH"))
    fanout = step(store, collections, feeds)
    assert await fanout.process(first) == 1
    assert await collections.get("bank", PHONE.sco_id) is not None
    producer = RecordingProducer()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        batch = [InMessage(t, 0, 100 + i, k, v or b"") for i, (t, k, v) in enumerate(producer.messages)]
        producer.messages.clear()
        await fanout.process(batch)

    clock.advance(3600)  # an hour later, a compliance officer erases it
    request = ErasureRequest(PHONE, "ticket DPO-1: a customer's own number", "dpo")
    outcome = await erase(store, producer, TOPICS, request, now=clock, sleep=sleep, timeout_s=10)
    assert outcome.completed
    return store, collections, first, feeds


async def test_an_erased_value_is_gone_from_the_collection_and_its_indicator_says_so() -> None:
    _, collections, _, feeds = await erased_collection()
    entries = await everything(collections, "bank")
    assert_value_gone(entries)
    stored = by_id(entries)
    # Left: the indicator, revoked and redacted (a poller learns to delete its copy), and TLP markings.
    assert {o["type"] for o in stored.values()} == {"indicator", "marking-definition"}
    indicator = stored[PHONE.indicator_id]
    ext = indicator["extensions"][INDICATOR_EXTENSION_ID]
    assert (indicator["revoked"], ext["status"], indicator["pattern"]) == (
        True,
        "erased",
        "[phone-number:value = '']",
    )
    assert "name" not in indicator
    assert run_validator(indicator["pattern"]) == []  # still a valid STIX pattern
    # The feed topic got the final bundle as it is (its retention ages it out; a collection has none).
    erased = orjson.loads(next(m[2] for m in feeds.messages if b'"erased"' in m[2]))
    assert PHONE.sco_id in {o["id"] for o in erased["objects"]}


async def test_an_older_delivery_replayed_after_the_erasure_cannot_bring_the_value_back() -> None:
    """The erasure deleted the delivery marks: an old record read again (a consumer group reset, a stale
    worker) is not routed at all (fan-out skips an erased indicator's older versions), and were it routed,
    the collection would still keep the SCO out (an id removed for good stays barred: test_collections.py)."""
    store, collections, first, _ = await erased_collection()
    before = await everything(collections, "bank")
    calls = len(collections.calls)
    assert await step(store, collections).process(first) == 0
    assert collections.calls[calls:] == []
    assert await everything(collections, "bank") == before
    assert_value_gone(before)


async def test_an_active_version_and_its_erasure_in_one_flush_leave_no_sco() -> None:
    _, collections, _, feeds = await erased_collection()
    erased = next(m for m in feeds.messages if b'"erased"' in m[2])
    active = next(m for m in feeds.messages if m is not erased)
    # A collection that gets both deliveries in one flush, in order: v1, then the erased version.
    channel = TaxiiCollectionChannel(collections, now_us=Clock())
    late = BANK.model_copy(update={"id": "late"})
    channel.send(Outgoing(late, PHONE.indicator_id, 1, False, active[2]))
    channel.send(Outgoing(late, PHONE.indicator_id, 2, True, erased[2], status="erased"))
    await channel.flush()
    # The SCO and the relationship are barred first; v1's indicator and marking, then the redacted
    # indicator (it moves) and its marking are added.
    assert collections.calls[-2:] == [("remove-forever", "late", 2, 0), ("add", "late", 4, 4)]
    entries = await everything(collections, "late")
    assert_value_gone(entries)
    assert sorted(e.id.split("--")[0] for e in entries) == [
        "indicator",
        "marking-definition",
        "marking-definition",
    ]
    indicator = await collections.get("late", PHONE.indicator_id)
    assert indicator is not None
    assert orjson.loads(indicator.raw)["revoked"] is True


@pytest.mark.parametrize("erased_first", [False, True])
async def test_one_bundle_delivered_to_several_collections_is_parsed_once_and_each_keeps_its_own_outcome(
    erased_first: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Subscribers that share a view get the same bundle bytes, and a flush parses such a bundle once. The
    # erasure of one collection's copy (the same bytes, status erased) must not leak into the other's.
    collections = Counting()
    channel = TaxiiCollectionChannel(collections, now_us=Clock())
    sco = {"type": "phone-number", "id": "phone-number--1", "value": "+66812345678"}
    pattern = "[phone-number:value = '+66812345678']"
    shared = bundle(sdo("indicator", 1, modified="2026-11-22T10:00:00Z", pattern=pattern), sco)
    telco = BANK.model_copy(update={"id": "telco"})
    third = BANK.model_copy(update={"id": "third"})
    sends = [Outgoing(BANK, "indicator--1", 1, False, bytes(shared)),
             Outgoing(telco, "indicator--1", 1, True, bytes(shared), status="erased"),
             Outgoing(third, "indicator--1", 1, False, bytes(shared))]  # fmt: skip
    parses: list[bytes] = []
    real = taxii_channel._objects

    def counting(item: Outgoing) -> list[dict[str, Any]]:
        parses.append(item.bundle)
        return real(item)

    monkeypatch.setattr(taxii_channel, "_objects", counting)
    for item in reversed(sends) if erased_first else sends:
        channel.send(item)
    await channel.flush()
    assert len(parses) == 2  # once for both active copies, once for the erasure (which it redacts)
    for kept in ("bank", "third"):
        assert sorted(by_id(await everything(collections, kept))) == ["indicator--1", "phone-number--1"]
        assert orjson.loads((await collections.get(kept, "indicator--1")).raw)["pattern"] == pattern  # type: ignore[union-attr]
    [entry] = await everything(collections, "telco")
    assert orjson.loads(entry.raw)["pattern"] == "[phone-number:value = '']"
    assert await collections.get("telco", "phone-number--1") is None


async def test_a_crash_between_the_removal_and_the_add_leaves_the_sco_gone() -> None:
    collections = Counting()
    channel = TaxiiCollectionChannel(collections, now_us=Clock())
    sco = {"type": "phone-number", "id": "phone-number--1", "value": "+66812345678"}
    pattern = "[phone-number:value = '+66812345678']"
    active = bundle(sdo("indicator", 1, modified="2026-11-22T10:00:00Z", pattern=pattern), sco)
    final = bundle(sdo("indicator", 1, modified="2026-11-22T10:05:00Z", revoked=True, pattern=pattern), sco)
    channel.send(Outgoing(BANK, "indicator--1", 1, False, active))
    await channel.flush()
    channel.send(Outgoing(BANK, "indicator--1", 2, True, final, status="erased"))
    collections.fail_adds = 1
    with pytest.raises(ConnectionError):
        await channel.flush()
    assert await collections.get("bank", "phone-number--1") is None  # gone already
    channel.send(Outgoing(BANK, "indicator--1", 2, True, final, status="erased"))  # the retried batch
    await channel.flush()
    [entry] = await everything(collections, "bank")
    assert orjson.loads(entry.raw)["pattern"] == "[phone-number:value = '']"
    assert b"812345678" not in entry.raw


async def test_every_version_of_an_indicator_carries_no_id_the_final_bundle_lacks_but_markings() -> None:
    """What lets an erasure find every object the indicator contributed without an index: the ids of
    each version are derived from the value, and the only others are shared TLP marking definitions."""
    _, _, _, feeds = await erased_collection()
    bundles = [orjson.loads(m[2]) for m in feeds.messages]
    erased = next(
        b for b in bundles if b["objects"][0]["extensions"][INDICATOR_EXTENSION_ID]["status"] == "erased"
    )
    final_ids = {o["id"] for o in erased["objects"]}
    for b in bundles:
        assert {o["id"] for o in b["objects"] if o["type"] != "marking-definition"} <= final_ids
    assert {o["type"] for o in erased["objects"]} == {"indicator", "phone-number", "relationship",
                                                       "marking-definition"}  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[phone-number:value = '+66812345678']", "[phone-number:value = '']"),
        ("[user-account:account_login = 'foo' AND user-account:account_type = 'twitter']",
         "[user-account:account_login = '' AND user-account:account_type = '']"),
        ("[url:value = 'https://a.example/it\\'s\\\\']", "[url:value = '']"),
    ],
)  # fmt: skip
def test_redaction_empties_every_literal_and_keeps_a_valid_pattern(pattern: str, expected: str) -> None:
    indicator = {"type": "indicator", "id": "indicator--1", "name": "x", "pattern": pattern, "revoked": True}
    out = redacted(indicator)
    assert out == {"type": "indicator", "id": "indicator--1", "pattern": expected, "revoked": True}
    assert run_validator(out["pattern"]) == []
