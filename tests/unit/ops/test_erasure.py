"""The erasure flow on the in-memory store, with a recording producer and the real fan-out step."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from pipeline.kafka.emit import ListEmitter
from pipeline.ops.erasure import ErasureRequest, erase, is_erased_final, mentions_value
from pipeline.state.memory_store import MemoryStore
from pipeline.state.store import Commit
from pipeline.state.subscription import Subscription
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.wire.headers import HEADER_STATUS
from pipeline.wire.message import InMessage
from tests.unit.processors.factories import NOW, SteppedClock, canonical, phone_submission
from tests.unit.worker.helpers import TOPICS, RecordingProducer, ingest, submission_messages

TELCO = Subscription(id="telco", name="T", sector="telecom", organisation="telco", types={"phone"})
BANK = Subscription(id="bank", name="B", sector="bank", organisation="bank", tlp="amber")
PHONE = canonical("phone", "+66812345678")
IND = PHONE.indicator_id
SIGHTING = f"sighting:telco:{IND}:true_positive"


class FanOut:
    """The erasure's ``sleep``: time passes and, if running, fan-out delivers what was produced."""

    def __init__(self, store: MemoryStore, producer: RecordingProducer, clock: SteppedClock) -> None:
        self.feeds = ListEmitter()
        channels = kafka_channels(self.feeds, TOPICS.prefix, _no_topics)
        self.step = DeliverStep(store, ListEmitter(), TOPICS, channels, now=clock)
        self.producer, self.clock, self.done, self.running = producer, clock, 0, True

    async def __call__(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if not self.running:
            return
        new, self.done = self.producer.messages[self.done :], len(self.producer.messages)
        batch = [InMessage(t, 0, i, k, v or b"") for i, (t, k, v) in enumerate(new) if t == TOPICS.indicators]
        await self.step.process(batch)


async def _no_topics(names: list[str]) -> None:
    return None


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(NOW)


async def delivered_store(clock: SteppedClock) -> MemoryStore:
    """A phone number reported by telco-a, delivered (v1) to telco and bank; a sighting, an enrichment."""
    store = MemoryStore(now=clock)
    for sub in (TELCO, BANK):
        await store.put_subscription(sub)
    produced = ListEmitter()
    await ingest(store, produced).process(submission_messages(phone_submission("0812345678", country="TH")))
    records = [
        InMessage(TOPICS.indicators, 0, i, m[1], m[2]) for i, m in enumerate(produced.on(TOPICS.indicators))
    ]
    step = DeliverStep(store, ListEmitter(), TOPICS, kafka_channels(ListEmitter(), TOPICS.prefix, _no_topics))
    assert await step.process(records) == 2
    [(state, _)] = await store.load_states([IND])
    assert state is not None
    await store.commit([Commit(replace(state, rev=state.rev + 1), state.rev, [SIGHTING], False)])
    await store.cache({PHONE.sco_id: {"carrier": "x"}}, 3600)
    return store


def request(reason: str = "ticket DPO-1: a customer's own number") -> ErasureRequest:
    return ErasureRequest(PHONE, reason, "dpo")


async def test_an_erasure_withdraws_the_value_from_every_past_recipient_then_deletes_it(
    clock: SteppedClock,
) -> None:
    store = await delivered_store(clock)
    producer = RecordingProducer()
    fanout = FanOut(store, producer, clock)
    outcome = await erase(store, producer, TOPICS, request(), now=clock, sleep=fanout, timeout_s=10)
    assert (outcome.completed, outcome.known, outcome.already) == (True, True, False)
    assert (outcome.recipients, outcome.pending, outcome.unreachable, outcome.version) == (
        ("bank", "telco"), (), (), 2,
    )  # fmt: skip
    # On scam.indicators: the erased version, then a tombstone for the key.
    [(t1, k1, erased), (t2, k2, tombstone)] = producer.messages
    assert (t1, t2, k1, k2, tombstone) == (
        TOPICS.indicators,
        TOPICS.indicators,
        IND.encode(),
        IND.encode(),
        None,
    )
    assert erased is not None
    record = orjson.loads(erased)
    assert (record["revoked"], record["version"], record["views"]) == (True, 2, {})
    [indicator] = [o for o in record["final"]["objects"] if o["type"] == "indicator"]
    ext = indicator["extensions"][INDICATOR_EXTENSION_ID]
    assert (ext["status"], ext["reporter_count"], ext["report_count"], ext["score"]) == ("erased", 0, 0, 0)
    assert b"telco-a" not in erased  # nothing of who reported it
    # Every past recipient got the final bundle with the status "erased".
    statuses = {m[0]: dict(m[3])[HEADER_STATUS] for m in fanout.feeds.messages}
    assert statuses == {TOPICS.feed("telco"): b"erased", TOPICS.feed("bank"): b"erased"}
    # Nothing is left of it but the marker and the audit record (which holds no value).
    assert await store.load_states([IND]) == [(None, {})]
    assert await store.cached([PHONE.sco_id]) == [None]
    assert await store.seen_submissions([(IND, SIGHTING)]) == [None]
    assert await store.erased([IND]) == [True]
    [audit] = await store.audit_log(10)
    assert audit == {
        "action": "erase", "indicator_id": IND, "kind": "phone", "operator": "dpo",
        "at": "2026-11-22T10:00:05.000Z", "reason": "ticket DPO-1: a customer's own number", "recipients": 2,
    }  # fmt: skip
    assert b"812345678" not in orjson.dumps(audit)
    stats = await store.stats()
    assert (stats["erasures"], stats["versions"], stats["revocations"]) == (1, 2, 1)


async def test_a_timeout_names_who_has_not_got_it_and_running_again_resumes(clock: SteppedClock) -> None:
    store = await delivered_store(clock)
    producer = RecordingProducer()
    fanout = FanOut(store, producer, clock)
    fanout.running = False  # the worker is down
    first = await erase(store, producer, TOPICS, request(), now=clock, sleep=fanout, timeout_s=5, poll_s=1)
    assert (first.completed, first.pending, first.version) == (False, ("bank", "telco"), 2)
    assert [m[2] is None for m in producer.messages] == [False]  # the erased version, no tombstone yet
    [(state, delivered)] = await store.load_states([IND])
    assert state is not None and is_erased_final(state) and delivered == {"telco": 1, "bank": 1}
    assert await store.erased([IND]) == [True]  # new reports are refused already

    fanout.running = True
    again = await erase(store, producer, TOPICS, request("again"), now=clock, sleep=fanout, timeout_s=5)
    assert (again.completed, again.already, again.pending, again.recipients) == (
        True,
        True,
        (),
        ("bank", "telco"),
    )
    # Resuming published the erased version again (harmless: fan-out never delivers a version twice).
    assert [m[2] is None for m in producer.messages] == [False, False, True]
    assert len(fanout.feeds.messages) == 2
    assert await store.load_states([IND]) == [(None, {})]
    assert [a["reason"] for a in await store.audit_log(10)] == ["ticket DPO-1: a customer's own number"]
    assert (await store.stats())["erasures"] == 1


async def test_a_past_recipient_without_a_subscription_does_not_hold_the_erasure(clock: SteppedClock) -> None:
    store = await delivered_store(clock)
    await store.remove_subscription("telco")
    producer = RecordingProducer()
    fanout = FanOut(store, producer, clock)
    outcome = await erase(store, producer, TOPICS, request(), now=clock, sleep=fanout, timeout_s=5)
    assert (outcome.completed, outcome.unreachable, outcome.recipients) == (
        True,
        ("telco",),
        ("bank", "telco"),
    )
    assert [m[0] for m in fanout.feeds.messages] == [TOPICS.feed("bank")]


async def test_a_value_never_reported_is_marked_so_it_can_never_be(clock: SteppedClock) -> None:
    store, producer = MemoryStore(now=clock), RecordingProducer()
    outcome = await erase(store, producer, TOPICS, request(), now=clock, sleep=FanOut(store, producer, clock))
    assert (outcome.known, outcome.already, outcome.completed, outcome.recipients) == (False, False, True, ())
    assert producer.messages == [(TOPICS.indicators, IND.encode(), None)]  # a tombstone, in case
    assert await store.erased([IND]) == [True]
    [audit] = await store.audit_log(10)
    assert (audit["indicator_id"], audit["recipients"]) == (IND, 0)
    again = await erase(store, producer, TOPICS, request(), now=clock, sleep=FanOut(store, producer, clock))
    assert (again.known, again.already, again.completed) == (False, True, True)
    assert len(producer.messages) == 2 and len(await store.audit_log(10)) == 1
    assert again.to_json() == {
        "indicator_id": IND, "kind": "phone", "recipients": 0, "erased": True, "completed": True,
        "known": False, "already_erased": True, "version": 0, "pending": [], "unreachable": [],
    }  # fmt: skip


async def test_an_erasure_that_loses_a_race_with_the_worker_reads_again(clock: SteppedClock) -> None:
    store = await delivered_store(clock)
    producer = RecordingProducer()
    real_commit = store.commit
    lost: list[int] = []

    async def racing(commits: Any) -> list[bool]:
        if not lost:  # the worker commits first (a sighting, say): the erasure must re-read and retry
            lost.append(1)
            [(state, _)] = await store.load_states([IND])
            assert state is not None
            await real_commit([Commit(replace(state, rev=state.rev + 1), state.rev, [], False)])
        return await real_commit(commits)

    store.commit = racing  # type: ignore[method-assign]
    outcome = await erase(store, producer, TOPICS, request(), now=clock, sleep=FanOut(store, producer, clock))
    assert outcome.completed and lost == [1]
    assert await store.load_states([IND]) == [(None, {})]


@pytest.mark.parametrize(
    ("reason", "mentions"),
    [
        ("customer's own number +66 81 234 5678", True),
        ("number 081-234-5678 is a real person", True),
        ("ticket DPO-123: a customer's own number", False),
        ("", False),
    ],
)
def test_a_reason_that_repeats_the_value_is_recognised(reason: str, mentions: bool) -> None:
    assert mentions_value(reason, "081-234-5678", PHONE) is mentions


async def test_an_abandoned_erasure_still_lets_the_state_expire(clock: SteppedClock) -> None:
    store = await delivered_store(clock)
    producer = RecordingProducer()
    fanout = FanOut(store, producer, clock)
    fanout.running = False  # the worker is down, and nobody runs erase again
    first = await erase(store, producer, TOPICS, request(), now=clock, sleep=fanout, timeout_s=2, poll_s=1)
    assert first.completed is False
    [(state, _)] = await store.load_states([IND])
    assert state is not None and state.value == "+66812345678"
    clock.advance(31 * 86_400)  # past the 30-day grace
    assert await store.load_states([IND]) == [(None, {})]
    assert await store.erased([IND]) == [True]  # the marker stays: it can never be reported again


async def test_an_older_record_read_again_after_the_erasure_delivers_nothing(clock: SteppedClock) -> None:
    """A fan-out worker that re-reads scam.indicators from before the erasure (a rebalance, a restart before
    its commit) finds no delivery marks (erasure deleted them): without a guard the old active version, the
    value in it, would go to every feed again."""
    store = MemoryStore(now=clock)
    for sub in (TELCO, BANK):
        await store.put_subscription(sub)
    produced = ListEmitter()
    await ingest(store, produced).process(submission_messages(phone_submission("0812345678", country="TH")))
    old = [
        InMessage(TOPICS.indicators, 0, i, m[1], m[2]) for i, m in enumerate(produced.on(TOPICS.indicators))
    ]
    producer = RecordingProducer()
    fanout = FanOut(store, producer, clock)
    assert await fanout.step.process(old) == 2
    outcome = await erase(store, producer, TOPICS, request(), now=clock, sleep=fanout, timeout_s=10)
    assert outcome.completed
    before = len(fanout.feeds.messages)
    assert await fanout.step.process(old) == 0
    assert fanout.feeds.messages[before:] == []
