"""The sightings step on the in-memory store: applied once; false positives suppress, reversibly."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.kafka.emit import ListEmitter
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation
from pipeline.state.store import Delivery
from pipeline.state.subscription import Subscription
from pipeline.wire.headers import HEADER_REASON, HEADER_SOURCE, HEADER_STAGE
from pipeline.wire.message import InMessage
from pipeline.wire.sighting import build_sighting
from pipeline.worker.sightings import SightingStep
from tests.unit.processors.factories import (
    NOW,
    canonical,
    exact,
    phone_submission,
    sighting_message,
)
from tests.unit.worker.helpers import TOPICS, RacingStore, ingest, submission_messages

PHONE = canonical("phone", "+66812345678")
NOWHERE = "indicator--00000000-0000-5000-8000-000000000000"


def sid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def sighting(
    subscriber: str, kind: str, n: int, indicator_id: str = PHONE.indicator_id, *, channel: str | None = None
) -> InMessage:
    """A sighting by ``subscriber`` (an organisation of the same id), on ``channel``'s topic (its own)."""
    topic = TOPICS.sightings_of(channel or subscriber)
    return sighting_message(topic, subscriber, indicator_id, kind, sid(n), n)


def records(emitter: ListEmitter) -> list[dict[str, Any]]:
    """Each record, with the community GREEN view's status and bundle (the reports here are GREEN)."""
    out = []
    for m in emitter.on(TOPICS.indicators):
        record = orjson.loads(m[2])
        green = record["views"]["1"]
        out.append(record | {"status": green["status"], "bundle": green["bundle"]})
    return out


SUBSCRIBERS = ("telco", "bank")


async def published_phone(store: MemoryStore, out: ListEmitter, *, received: bool = True) -> SightingStep:
    """The phone published once; organisations telco and bank registered, each with its own subscription
    that received version 1 (unless ``received`` is False), and police registered as a producer only."""
    for org in SUBSCRIBERS:
        await store.put_organisation(
            Organisation(id=org, name=org, sector="other", roles={"subscriber", "producer"})
        )
        await store.put_subscription(Subscription(id=org, name=org, sector="other", organisation=org))
    await store.put_organisation(Organisation(id="police", name="p", sector="other", roles={"producer"}))
    step = ingest(store, out)
    await step.process(submission_messages(phone_submission("0812345678", country="TH")))
    if received:
        await store.mark_delivered([Delivery(PHONE.indicator_id, org, 1, False) for org in SUBSCRIBERS])
    return SightingStep(step.versions, now=lambda: NOW)


async def test_false_positives_from_two_organisations_suppress_and_a_new_report_brings_it_back() -> None:
    """Before: two false-positive votes revoked a real scam number for good; a genuine report changed
    nothing. Now the quorum (2, and more organisations than support it) suppresses it, reversibly."""
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    first = [sighting("telco", "false-positive", 1), sighting("telco", "false-positive", 2)]
    result = await step.process(first)
    # One organisation, one vote per kind: the second false positive from telco changes nothing.
    assert (result.applied, result.replayed, result.published) == (1, 1, 0)
    replay = await step.process(first)  # nothing counted again
    assert (replay.applied, replay.replayed, replay.published) == (0, 2, 0)
    result = await step.process([sighting("bank", "false-positive", 3)])
    assert (result.applied, result.published) == (1, 1)
    got = records(out)
    assert [(r["version"], r["revoked"], r["status"]) for r in got] == [
        (1, False, "active"), (2, False, "suppressed"),
    ]  # fmt: skip
    assert got[-1]["views"]["1"]["score"] == 0
    ext = next(o for o in got[-1]["bundle"]["objects"] if o["type"] == "indicator")["extensions"]
    assert next(iter(ext.values()))["sightings"] == {"true_positive": 0, "false_positive": 2, "blocked": 0}
    assert b"telco" not in orjson.dumps(got[-1]["bundle"])  # producers see counts, not who reported
    stats = exact(await store.stats())
    assert (stats["sightings"], stats["sightings:false_positive"], stats["suppressions"]) == (2, 2, 1)
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and not state.revoked and state.fp_by == {"telco", "bank"}
    # New authenticated evidence: police reports it too. Two organisations now support it: back.
    reports = ingest(store, out)
    await reports.process(
        submission_messages(
            phone_submission("0812345678", country="TH", producer="police", submission_id="p")
        )
    )
    back = records(out)[-1]
    assert (back["version"], back["status"], back["revoked"]) == (3, "active", False)
    assert back["views"]["1"]["score"] > 0


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
    assert [(r["version"], r["status"]) for r in records(again)] == [(2, "suppressed")]
    assert exact(await store.stats()) == before


async def test_sightings_of_an_unknown_indicator_and_malformed_ones_are_dead_lettered_and_counted_once() -> (
    None
):
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    unknown = sighting("bank", "blocked", 9, indicator_id=NOWHERE)
    broken = InMessage(TOPICS.sightings_of("bank"), 0, 10, b"k", b'{"spec": "nope"')
    batch = [unknown, broken, sighting("bank", "true-positive", 11)]
    result = await step.process(batch)
    assert (result.rejected, result.unknown, result.applied) == (2, 1, 1)
    dead = {m[2]: dict(m[3]) for m in out.on(TOPICS.dlq)}
    assert set(dead) == {unknown.value, broken.value}  # the original bytes
    assert dead[unknown.value][HEADER_REASON].startswith(b"unknown_indicator: ")
    assert dead[unknown.value][HEADER_STAGE] == b"sightings"
    assert dead[broken.value][HEADER_SOURCE] == f"{TOPICS.sightings_of('bank')}:0:10".encode()
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


# -- identity: who sighted is the channel's organisation -------------------------------------------------


async def test_a_stix_count_is_information_not_votes() -> None:
    """One forged sighting with count=10 used to take a score from 93 to 0; now it is one vote."""
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    envelope = build_sighting(
        subscriber="telco", indicator_id=PHONE.indicator_id, kind="false-positive", count=10, now=NOW,
        sighting_id=sid(1),
    )  # fmt: skip
    msg = InMessage(TOPICS.sightings_of("telco"), 0, 1, b"k", orjson.dumps(envelope))
    result = await step.process([msg])
    assert result.applied == 1
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and state.sightings == (0, 1, 0)
    assert exact(await store.stats())["sightings_reported_count"] == 10


async def test_sightings_that_do_not_come_from_the_owner_of_a_receiving_subscription_count_nothing() -> None:
    """Forged false positives "from" subscribers that do not exist used to revoke a real scam number."""
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    forged = [
        sighting("ghost", "false-positive", 1),  # no such organisation: its topic is nobody's
        sighting("police", "false-positive", 2),  # registered, but not a subscriber
        sighting("bank", "false-positive", 3, channel="telco"),  # telco's channel, bank's subscription
        sighting("telco", "false-positive", 4, channel="bank"),  # ... and the other way round
        InMessage(TOPICS.sightings, 0, 5, b"k", sighting("telco", "false-positive", 5).value),  # shared
    ]
    result = await step.process(forged)
    assert (result.applied, result.rejected, result.published) == (0, 5, 0)
    codes = sorted(dict(m[3])[HEADER_REASON].split(b":")[0].decode() for m in out.on(TOPICS.dlq))
    assert codes == ["identity_mismatch", "identity_mismatch", "no_identity", "unregistered_org",
                     "unregistered_org"]  # fmt: skip
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and not state.revoked and state.sightings == (0, 0, 0) and not state.fp_by
    stats = exact(await store.stats())
    assert stats["sightings_rejected"] == 5 and "sightings" not in stats


async def test_a_sighting_of_an_indicator_the_subscriber_never_received_counts_nothing() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out, received=False)
    result = await step.process([sighting("telco", "false-positive", 1), sighting("bank", "blocked", 2)])
    assert (result.applied, result.rejected) == (0, 2)
    reasons = [dict(m[3])[HEADER_REASON] for m in out.on(TOPICS.dlq)]
    assert all(r.startswith(b"not_received: ") for r in reasons), reasons
    stats = exact(await store.stats())
    assert stats["sightings_rejected:not_received"] == 2


async def test_a_stix_object_naming_another_identity_is_an_identity_mismatch() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await published_phone(store, out)
    envelope = build_sighting(
        subscriber="telco", indicator_id=PHONE.indicator_id, kind="false-positive", now=NOW,
        sighting_id=sid(1), org="bank",  # the STIX object says bank sighted it
    )  # fmt: skip
    msg = InMessage(TOPICS.sightings_of("telco"), 0, 1, b"k", orjson.dumps(envelope))
    result = await step.process([msg])
    assert (result.applied, result.rejected) == (0, 1)
    [(_, _, _, headers)] = out.on(TOPICS.dlq)
    assert dict(headers)[HEADER_REASON].startswith(b"identity_mismatch: ")


async def test_sightings_over_the_hourly_quota_are_held_then_released() -> None:
    from pipeline.state.org import Quotas  # noqa: PLC0415
    from pipeline.state.quotas import MemoryQuotas  # noqa: PLC0415
    from pipeline.worker.admission import Admission  # noqa: PLC0415
    from pipeline.worker.held import release_held  # noqa: PLC0415
    from tests.unit.processors.factories import SteppedClock  # noqa: PLC0415

    clock = SteppedClock()
    store, out = MemoryStore(now=clock), ListEmitter()
    step = await published_phone(store, out)
    await store.put_organisation(
        Organisation(id="bank", name="bank", sector="other", roles={"subscriber", "producer"},
                     quotas=Quotas(sightings_per_hour=1))
    )  # fmt: skip
    admission = Admission(MemoryQuotas(now=clock))
    limited = SightingStep(step.versions, now=clock, admission=admission)
    result = await limited.process([sighting("bank", "true-positive", 1), sighting("bank", "blocked", 2)])
    assert (result.applied, result.held) == (1, 1)
    assert exact(await store.stats())["held:sightings_per_hour"] == 1
    clock.advance(3600)
    assert await release_held(admission, ingest(store, out), limited) == 1
    assert exact(await store.stats())["sightings:blocked"] == 1
