"""The delivery step on the in-memory store, ListEmitter channels: routing by TLP and type, marked once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import orjson
import pytest

from pipeline.errors import DeliveryError
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.output import build_record
from pipeline.processors.record_wire import HEADER_ROUTING, final_status
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.subscribers.channels import Outgoing, kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.wire.headers import (
    HEADER_REASON,
    HEADER_REVOKED,
    HEADER_STAGE,
    HEADER_STATUS,
    HEADER_SUBSCRIBER,
    HEADER_VERSION,
)
from pipeline.wire.message import InMessage
from tests.unit.processors.factories import (
    NOW,
    SteppedClock,
    canonical,
    indicator_obj,
    phone_submission,
    submission,
)
from tests.unit.worker.helpers import TOPICS, ingest, submission_messages

NOW_MS = int(NOW.timestamp() * 1000)

TELCO = Subscription(
    id="telco", name="T", sector="telecom", organisation="telco", tlp="green", types={"phone"}
)
BANK = Subscription(id="bank", name="B", sector="bank", organisation="bank", tlp="amber")
POLICE = Subscription(
    id="police", name="P", sector="law-enforcement", organisation="police", tlp="amber+strict"
)


class Feeds:
    """The Kafka channel's topic creation, recorded."""

    def __init__(self) -> None:
        self.ensured: list[list[str]] = []

    async def __call__(self, names: list[str]) -> None:
        self.ensured.append(sorted(names))


def deliver(store: MemoryStore, out: ListEmitter, feeds: Feeds | None = None) -> DeliverStep:
    channels = kafka_channels(out, TOPICS.prefix, feeds or Feeds())
    return DeliverStep(store, out, TOPICS, channels, now=lambda: NOW)


async def publish(store: MemoryStore, *values: bytes, start: int = 0) -> list[InMessage]:
    """Ingest submissions; the scam.indicators records they produced, as the fan-out agent reads them."""
    produced = ListEmitter()
    await ingest(store, produced).process(submission_messages(*values, start=start))
    return [
        InMessage(TOPICS.indicators, 0, start + i, m[1], m[2], dict(m[3]))
        for i, m in enumerate(produced.on(TOPICS.indicators))
    ]


def delivered_values(out: ListEmitter) -> dict[str, set[str]]:
    by_sub: dict[str, set[str]] = {}
    for topic, _, value, _ in out.messages:
        if topic.startswith(f"{TOPICS.prefix}feed."):
            sco = next(
                o for o in orjson.loads(value)["objects"] if o["type"] in ("domain-name", "phone-number")
            )
            by_sub.setdefault(topic.removeprefix(f"{TOPICS.prefix}feed."), set()).add(sco["value"])
    return by_sub


async def test_versions_are_routed_by_tlp_and_type_and_never_delivered_twice() -> None:
    store = MemoryStore(now=lambda: NOW)
    for sub in (TELCO, BANK, POLICE):
        await store.put_subscription(sub)
    levels = {"green.example.com": TLP.GREEN, "amber.example.com": TLP.AMBER, "red.example.com": TLP.RED,
              "strict.example.com": TLP.AMBER_STRICT}  # fmt: skip
    records = await publish(
        store,
        *[
            submission(indicator_obj("domain-name", {"value": d}, tlp=t), submission_id=d, producer="police")
            for d, t in levels.items()
        ],
        phone_submission("0812345678", country="TH", submission_id="phone"),
    )
    out, feeds = ListEmitter(), Feeds()
    # telco takes phones only; bank is cleared for amber; police reported the amber+strict one; red: nobody
    assert await deliver(store, out, feeds).process(records) == 8
    assert delivered_values(out) == {
        "telco": {"+66812345678"},
        "bank": {"green.example.com", "amber.example.com", "+66812345678"},
        "police": {"green.example.com", "amber.example.com", "strict.example.com", "+66812345678"},
    }
    for topic, key, _, headers in out.messages:
        h = dict(headers)
        assert (h[HEADER_VERSION], h[HEADER_REVOKED]) == (b"1", b"0")
        assert topic == TOPICS.feed(h[HEADER_SUBSCRIBER].decode())
        assert key is not None and key.startswith(b"indicator--")
    assert feeds.ensured == [sorted(TOPICS.feed(s) for s in ("telco", "bank", "police"))]
    again = ListEmitter()
    assert await deliver(store, again).process(records) == 0
    assert again.messages == []  # replayed records: nothing re-delivered, nothing re-counted
    stats = await store.stats()
    assert (stats["delivered:telco"], stats["delivered:bank"], stats["delivered:police"]) == (1, 3, 4)
    assert stats["fanout_records"] == 2 * len(records)  # progress: a replay counts again
    phone = canonical("phone", "+66812345678").indicator_id
    assert await store.load_delivered([phone], ["telco", "bank", "police"]) == [
        {"telco": 1, "bank": 1, "police": 1}
    ]


async def test_a_withdrawn_version_goes_to_every_past_recipient_and_nobody_else() -> None:
    store = MemoryStore(now=lambda: NOW)
    await store.put_subscription(TELCO)
    await store.put_subscription(BANK)
    first = await publish(store, phone_submission("0812345678", country="TH", submission_id="r1"))
    assert await deliver(store, ListEmitter()).process(first) == 2
    # After v1: telco narrows its filter to domains, and a new subscriber arrives that would match.
    await store.put_subscription(TELCO.model_copy(update={"types": frozenset({"domain"})}))
    await store.put_subscription(Subscription(id="late", name="L", sector="other", organisation="late"))
    # The only reporter withdraws it: withdrawn in every view (not final: a new report brings it back).
    retraction = submission(
        indicator_obj("phone-number", {"value": "+66812345678"}, revoked=True), submission_id="r2"
    )
    revoked = await publish(store, retraction, start=1)
    records = [orjson.loads(r.value) for r in revoked]
    assert [r["revoked"] for r in records] == [False]
    assert {v["status"] for v in records[0]["views"].values()} == {"withdrawn"}
    out = ListEmitter()
    assert await deliver(store, out).process(revoked) == 2
    assert sorted(m[0] for m in out.messages) == [TOPICS.feed("bank"), TOPICS.feed("telco")]
    assert all(dict(m[3])[HEADER_REVOKED] == b"1" for m in out.messages)
    assert all(dict(m[3])[HEADER_STATUS] == b"withdrawn" for m in out.messages)
    stats = await store.stats()
    assert stats["revocations_delivered"] == 2
    assert "delivered:late" not in stats


async def test_a_record_that_is_not_a_version_goes_to_the_dlq_and_the_rest_is_delivered() -> None:
    store = MemoryStore(now=lambda: NOW)
    await store.put_subscription(BANK)
    [good] = await publish(store, phone_submission("0812345678", country="TH"))
    bad = InMessage(TOPICS.indicators, 0, 7, b"k", b'{"spec": "other/1"}')
    out = ListEmitter()
    assert await deliver(store, out).process([bad, good]) == 1
    [(topic, _, value, headers)] = out.on(TOPICS.dlq)
    assert (topic, value) == (TOPICS.dlq, bad.value)
    assert dict(headers)[HEADER_STAGE] == b"fanout"
    assert dict(headers)[HEADER_REASON].startswith(b"bad_record: ")
    assert [m[0] for m in out.messages if m[0] != TOPICS.dlq] == [TOPICS.feed("bank")]


async def test_subscription_changes_apply_once_the_refresh_interval_has_passed() -> None:
    clock = SteppedClock()
    store, out, feeds = MemoryStore(now=clock), ListEmitter(), Feeds()
    await store.put_subscription(BANK)
    step = DeliverStep(store, out, TOPICS, kafka_channels(out, TOPICS.prefix, feeds), now=clock)
    [one] = await publish(store, phone_submission("0811111111", country="TH", submission_id="a"))
    [two] = await publish(store, phone_submission("0822222222", country="TH", submission_id="b"), start=1)
    [three] = await publish(store, phone_submission("0833333333", country="TH", submission_id="c"), start=2)
    assert await step.process([one]) == 1
    await store.put_subscription(POLICE)
    assert await step.process([two]) == 1  # within the refresh interval: still the old list
    clock.advance(step.refresh_every_s)
    assert await step.process([three]) == 2
    assert delivered_values(out) == {
        "bank": {"+66811111111", "+66822222222", "+66833333333"},
        "police": {"+66833333333"},
    }
    # The channel prepared the feeds of each new list of subscriptions.
    assert feeds.ensured == [[TOPICS.feed("bank")], sorted([TOPICS.feed("bank"), TOPICS.feed("police")])]


class RecordingChannel:
    """Another kind of channel (TAXII, a webhook): records what it was given; its flush can fail."""

    def __init__(self, *, fail: bool = False) -> None:
        self.prepared: list[list[str]] = []
        self.sent: list[Outgoing] = []
        self.flushed = 0
        self.fail = fail

    async def prepare(self, subscriptions: Sequence[Subscription]) -> None:
        self.prepared.append(sorted(s.id for s in subscriptions))

    def send(self, item: Outgoing) -> None:
        self.sent.append(item)

    async def flush(self) -> None:
        self.flushed += 1
        if self.fail:
            raise DeliveryError(["webhook: 503"])


async def test_a_channel_gets_what_routing_chose_and_nothing_is_marked_before_it_flushed() -> None:
    """The seam: routing is unchanged, the channel delivers; a failed flush marks and counts nothing."""
    store = MemoryStore(now=lambda: NOW)
    for sub in (TELCO, BANK):
        await store.put_subscription(sub)
    records = await publish(store, phone_submission("0812345678", country="TH", submission_id="p1"))
    failing = RecordingChannel(fail=True)
    step = DeliverStep(store, ListEmitter(), TOPICS, {"kafka": failing}, now=lambda: NOW)
    with pytest.raises(DeliveryError):
        await step.process(records)
    assert sorted(item.subscription.id for item in failing.sent) == ["bank", "telco"]
    assert failing.prepared == [["bank", "telco"]]
    phone = canonical("phone", "+66812345678").indicator_id
    assert await store.load_delivered([phone], ["telco", "bank"]) == [{}]  # the retry will deliver
    assert "delivered:telco" not in await store.stats()

    working = RecordingChannel()
    step = DeliverStep(store, ListEmitter(), TOPICS, {"kafka": working}, now=lambda: NOW)
    assert await step.process(records) == 2
    item = working.sent[0]
    assert (item.indicator_id, item.version, item.revoked) == (phone, 1, False)
    assert orjson.loads(item.bundle)["type"] == "bundle"
    assert await store.load_delivered([phone], ["telco", "bank"]) == [{"telco": 1, "bank": 1}]


async def test_a_tombstone_is_skipped_silently_and_the_rest_is_delivered() -> None:
    """``scamshare erase`` deletes an erased key from the compacted topic: no version, no DLQ message."""
    store = MemoryStore(now=lambda: NOW)
    await store.put_subscription(BANK)
    [good] = await publish(store, phone_submission("0812345678", country="TH"))
    tombstone = InMessage(TOPICS.indicators, 0, 7, good.key, b"")
    out = ListEmitter()
    assert await deliver(store, out).process([tombstone, good, tombstone]) == 1
    assert out.on(TOPICS.dlq) == []
    assert [m[0] for m in out.messages] == [TOPICS.feed("bank")]
    assert "fanout_errors" not in await store.stats()


async def test_an_erased_record_reaches_every_past_recipient_with_the_status_erased() -> None:
    store = MemoryStore(now=lambda: NOW)
    await store.put_subscription(TELCO)
    await store.put_subscription(BANK)
    first = await publish(store, phone_submission("0812345678", country="TH", submission_id="r1"))
    assert await deliver(store, ListEmitter()).process(first) == 2
    await store.put_subscription(Subscription(id="late", name="L", sector="other", organisation="late"))
    c = canonical("phone", "+66812345678")
    [(state, _)] = await store.load_states([c.indicator_id])
    assert state is not None
    final = replace(state, revoked=True, contributions=(), audiences=(), version=state.version + 1)
    record = build_record(final, c, ScoreModel(), NOW_MS, erased=True)
    assert final_status(record) == "erased"
    assert final_status(build_record(final, c, ScoreModel(), NOW_MS)) == "revoked"  # allowlist revocation
    out = ListEmitter()
    msg = InMessage(TOPICS.indicators, 0, 1, c.indicator_id.encode(), orjson.dumps(record))
    assert await deliver(store, out).process([msg]) == 2
    assert sorted(m[0] for m in out.messages) == [TOPICS.feed("bank"), TOPICS.feed("telco")]  # not "late"
    for _, key, value, headers in out.messages:
        h = dict(headers)
        assert (h[HEADER_STATUS], h[HEADER_REVOKED], h[HEADER_VERSION]) == (b"erased", b"1", b"2")
        assert key == c.indicator_id.encode()
        [indicator] = [o for o in orjson.loads(value)["objects"] if o["type"] == "indicator"]
        assert indicator["revoked"] is True
    assert await store.load_delivered([c.indicator_id], ["telco", "bank"]) == [{"telco": 2, "bank": 2}]


async def test_a_record_without_its_routing_header_is_delivered_byte_for_byte_the_same() -> None:
    # Records written before the header existed (or by the erasure tool) are parsed instead of sliced.
    async def feeds(strip: bool) -> list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]]:
        store = MemoryStore(now=lambda: NOW)
        for sub in (TELCO, BANK, POLICE):
            await store.put_subscription(sub)
        records = await publish(
            store,
            submission(indicator_obj("domain-name", {"value": "a.example.com"}), producer="police"),
            submission(
                indicator_obj("domain-name", {"value": "a.example.com"}, tlp=TLP.AMBER),
                producer="bank", submission_id="sub-2",
            ),
            phone_submission("0812345678", country="TH", submission_id="phone"),
        )  # fmt: skip
        assert all(HEADER_ROUTING in r.headers for r in records)
        if strip:
            records = [replace(r, headers={k: v for k, v in r.headers.items() if k != HEADER_ROUTING})
                       for r in records]  # fmt: skip
        out = ListEmitter()
        assert await deliver(store, out).process(records) > 0
        # Each build names its bundle afresh (bundle--<uuid4>); everything else must be the same bytes.
        return [(t, k, re.sub(rb"bundle--[0-9a-f-]{36}", b"bundle--x", v), h) for t, k, v, h in out.messages]

    assert await feeds(strip=True) == await feeds(strip=False)
