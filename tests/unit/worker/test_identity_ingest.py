"""Who reported is the channel's organisation: each attack of the identity issue, on the in-memory store.

Every test here failed on the code before organisations: reports were taken as the producer named inside
the message, on one shared topic, with trust looked up by that name.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.kafka.emit import ListEmitter
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, producer_identity_id
from pipeline.wire.headers import HEADER_PRODUCER, HEADER_REASON
from pipeline.wire.message import InMessage
from pipeline.worker.ingest import IngestStep
from pipeline.worker.registry import Registry
from tests.unit.processors.factories import NOW, canonical, exact, indicator_obj, phone_submission, submission
from tests.unit.worker.helpers import TOPICS

PHONE = canonical("phone", "+66812345678")
ORGS = {
    "telco-a": 0.6,
    "bank-b": 0.7,
    "police-au": 0.95,
}


async def step_with_registry(store: MemoryStore) -> tuple[IngestStep, ListEmitter, dict[str, float]]:
    """An ingest step whose registry holds telco-a, bank-b, police-au (producers) and viewer (subscriber)."""
    trust: dict[str, float] = {}
    for org_id, value in ORGS.items():
        await store.put_organisation(
            Organisation(id=org_id, name=org_id, sector="other", roles={"producer"}, trust=value)
        )
    await store.put_organisation(Organisation(id="viewer", name="v", sector="bank", roles={"subscriber"}))
    out = ListEmitter()
    registry = Registry(store, refresh_s=0, trust=trust)
    model = ScoreModel(trust=trust, default_trust=0.0)
    return IngestStep(store, out, TOPICS, model, now=lambda: NOW, registry=registry), out, trust


def on(org: str, value: bytes, offset: int = 0, headers: dict[str, bytes] | None = None) -> InMessage:
    return InMessage(TOPICS.submissions_of(org), 0, offset, None, value, headers or {})


def reasons(out: ListEmitter) -> list[str]:
    return [dict(m[3])[HEADER_REASON].decode() for m in out.on(TOPICS.dlq)]


def published(out: ListEmitter) -> list[dict[str, Any]]:
    return [orjson.loads(m[2]) for m in out.on(TOPICS.indicators)]


async def test_a_report_naming_another_org_inside_its_own_topic_is_an_identity_mismatch() -> None:
    """Before: a report claiming "producer": "police-au" was accepted with police trust."""
    store = MemoryStore(now=lambda: NOW)
    step, out, _ = await step_with_registry(store)
    forged = phone_submission("0812345678", country="TH", producer="police-au")
    result = await step.process([on("telco-a", forged)])
    assert (result.accepted, result.rejected) == (0, 1)
    [why] = reasons(out)
    assert why.startswith("identity_mismatch: envelope names producer 'police-au'")
    assert published(out) == []
    assert exact(await store.stats())["rejected:identity_mismatch"] == 1


async def test_the_header_identity_objects_and_created_by_ref_must_name_the_channel_org() -> None:
    store = MemoryStore(now=lambda: NOW)
    step, out, _ = await step_with_registry(store)
    police = producer_identity_id("police-au")
    header = on("telco-a", phone_submission("0812345678", country="TH"), 0, {HEADER_PRODUCER: b"police-au"})
    by_ref = submission(
        indicator_obj("phone-number", {"value": "+66812345678"}, created_by_ref=police), submission_id="r"
    )
    identity = {"type": "identity", "spec_version": "2.1", "id": police, "name": "Police",
                "created": "2026-11-22T10:00:00.000Z", "modified": "2026-11-22T10:00:00.000Z"}  # fmt: skip
    with_identity = submission(
        indicator_obj("phone-number", {"value": "+66812345678"}), identity, submission_id="i"
    )
    result = await step.process([header, on("telco-a", by_ref, 1), on("telco-a", with_identity, 2)])
    assert (result.accepted, result.rejected) == (0, 3)
    assert [r.split(":")[0] for r in reasons(out)] == ["identity_mismatch"] * 3
    # Its own identity is fine.
    own = submission(
        indicator_obj(
            "phone-number", {"value": "+66812345678"}, created_by_ref=producer_identity_id("telco-a")
        ),
        {**identity, "id": producer_identity_id("telco-a")},
        submission_id="own",
    )
    assert (await step.process([on("telco-a", own, 3)])).accepted == 1


async def test_reports_on_the_shared_topic_or_of_unregistered_orgs_never_count() -> None:
    store = MemoryStore(now=lambda: NOW)
    step, out, _ = await step_with_registry(store)
    shared = InMessage(TOPICS.submissions, 0, 0, None, phone_submission("0812345678", country="TH"))
    ghost = on("ghost", phone_submission("0812345678", country="TH", producer="ghost"), 1)
    viewer = on("viewer", phone_submission("0812345678", country="TH", producer="viewer"), 2)
    result = await step.process([shared, ghost, viewer])
    assert (result.accepted, result.rejected, result.published) == (0, 3, 0)
    assert [r.split(":")[0] for r in reasons(out)] == ["no_identity", "unregistered_org", "unregistered_org"]
    assert await store.load_states([PHONE.indicator_id]) == [(None, {})]


async def test_trust_comes_from_the_registry_and_invented_ids_cannot_push_a_value_into_blocking() -> None:
    """Before: three invented producer ids (trust 0.55 each) pushed a landline into the blocking band."""
    store = MemoryStore(now=lambda: NOW)
    step, out, trust = await step_with_registry(store)
    inventions = [
        on(name, phone_submission("0812345678", country="TH", producer=name, submission_id=name), i)
        for i, name in enumerate(("x1", "x2", "x3", "x4"))
    ]
    assert (await step.process(inventions)).accepted == 0
    report = on("telco-a", phone_submission("0812345678", country="TH"), 10)
    assert (await step.process([report])).accepted == 1
    assert trust == ORGS  # read from the registry, not from settings or the message
    [record] = published(out)
    assert {v["bundle"]["objects"][0]["extensions"][INDICATOR_EXTENSION_ID]["reporter_count"]
            for v in record["views"].values()} == {1}  # fmt: skip
    assert max(v["score"] for v in record["views"].values()) < 80  # one organisation stays below blocking


async def test_only_the_reporting_org_can_withdraw_its_report() -> None:
    """Before: forged withdrawals in each reporter's name revoked a real scam number."""
    store = MemoryStore(now=lambda: NOW)
    step, out, _ = await step_with_registry(store)
    phone = indicator_obj("phone-number", {"value": "+66812345678"})
    withdrawn = {**phone, "revoked": True}
    await step.process([
        on("telco-a", submission(phone, producer="telco-a", submission_id="t1"), 0),
        on("bank-b", submission(phone, producer="bank-b", submission_id="b1"), 1),
    ])  # fmt: skip
    # police-au never reported it: its withdrawal retracts nothing and publishes nothing.
    result = await step.process(
        [on("police-au", submission(withdrawn, producer="police-au", submission_id="p"), 2)]
    )
    assert (result.accepted, result.rejected, result.published) == (0, 1, 0)
    assert reasons(out)[-1].startswith("not_reporter: ")
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and state.reporters == {"telco-a", "bank-b"} and not state.revoked
    # The reporters themselves can: after both withdrew, every view is withdrawn (not final).
    await step.process([
        on("telco-a", submission(withdrawn, producer="telco-a", submission_id="t2"), 3),
        on("bank-b", submission(withdrawn, producer="bank-b", submission_id="b2"), 4),
    ])  # fmt: skip
    [(state, _)] = await store.load_states([PHONE.indicator_id])
    assert state is not None and not state.revoked and state.reporters == frozenset()
    assert {v["status"] for v in published(out)[-1]["views"].values()} == {"withdrawn"}


async def test_a_withdrawal_of_a_value_nobody_reported_cannot_revoke_it_in_advance() -> None:
    """A withdrawal as the first word about a value would revoke its deterministic id for good."""
    store = MemoryStore(now=lambda: NOW)
    step, out, _ = await step_with_registry(store)
    phone = indicator_obj("phone-number", {"value": "+66812345678"})
    first = on("bank-b", submission({**phone, "revoked": True}, producer="bank-b", submission_id="w"))
    assert (await step.process([first])).rejected == 1
    assert await store.load_states([PHONE.indicator_id]) == [(None, {})]
    later = await step.process([on("telco-a", submission(phone, producer="telco-a", submission_id="r"), 1)])
    assert (later.accepted, later.published) == (1, 1)
    assert not published(out)[-1]["revoked"]
