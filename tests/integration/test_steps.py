"""The ingest and fan-out steps against a real Redis, outputs captured by the in-memory ListEmitter.

Kafka is not involved here (the faust worker tests cover it); these pin down the step semantics:
merging across formats and producers, DLQ contents, replay after a crash, TLP routing, revocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import redis

from pipeline.canon import Canonical
from pipeline.config import Settings
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.allowlist import Allowlist
from pipeline.processors.enrich import default_enrichers, load_config
from pipeline.processors.score import ScoreModel
from pipeline.state.org import Organisation
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Delivery
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.wire.headers import (
    HEADER_REASON,
    HEADER_SOURCE,
    HEADER_STAGE,
    HEADER_SUBMITTED_MS,
    HEADER_VERSION,
)
from pipeline.wire.message import InMessage
from pipeline.wire.sighting import build_sighting
from pipeline.worker.decay import DecaySweep
from pipeline.worker.ingest import IngestStep
from pipeline.worker.online import Guarded
from pipeline.worker.sightings import SightingStep
from tests.unit.processors.factories import canonical, indicator_obj, phone_submission, submission
from tests.unit.worker.helpers import submission_messages

pytestmark = [pytest.mark.integration]

NOW = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)


#: The organisations these tests speak as, registered in Redis before each test (producers and subscribers).
ORGS = ("telco-a", "bank-b", "p3", "x", "a", "b", "c", "telco", "bank", "police")


BOTH = frozenset({"producer", "subscriber"})


@pytest.fixture(autouse=True)
async def registered(store: RedisStore) -> None:
    for org in ORGS:
        await store.put_organisation(
            Organisation(
                id=org, name=org, sector="other", roles={"producer", "subscriber"}, default_tlp="green"
            )
        )


def msgs(settings: Settings, *values: bytes, start: int = 0) -> list[InMessage]:
    """Each submission on the own topic of the producer it names (``telco-a`` for what names none)."""
    return [
        InMessage(m.topic, 0, m.offset, None, m.value, {HEADER_SUBMITTED_MS: b"1795347605000"})
        for m in submission_messages(*values, start=start, topics=settings.topics)
    ]


def exact(stats: dict[str, int]) -> dict[str, int]:
    """The exactly-once counters (latency histograms are progress counters: a replay observes again)."""
    return {k: v for k, v in stats.items() if not k.startswith("latency:")}


def ingest(settings: Settings, store: RedisStore, emitter: ListEmitter) -> IngestStep:
    return IngestStep(store, emitter, settings.topics, ScoreModel(default_trust=0.55), now=lambda: NOW)


def green(record: dict[str, Any]) -> dict[str, Any]:
    """The community GREEN view of a record (every report in these tests is GREEN): its bundle's
    indicator extension, with the view's score and status."""
    view = record["views"]["1"]
    indicator = next(o for o in view["bundle"]["objects"] if o["type"] == "indicator")
    ext: dict[str, Any] = next(iter(indicator["extensions"].values()))
    return ext | {"score": view["score"], "status": view["status"], "bundle": view["bundle"]}


async def test_two_formats_from_two_producers_become_one_indicator_with_two_reporters(
    settings: Settings, store: RedisStore
) -> None:
    out = ListEmitter()
    step = ingest(settings, store, out)
    await step.process(msgs(settings, phone_submission("081-234-5678", country="TH", submission_id="a")))
    await step.process(
        msgs(settings, phone_submission("+66 81 234 5678", producer="bank-b", submission_id="b"), start=1)
    )
    records = [orjson.loads(m[2]) for m in out.on(settings.topics.indicators)]
    assert [(r["version"], green(r)["reporter_count"]) for r in records] == [(1, 1), (2, 2)]
    assert {r["indicator_id"] for r in records} == {records[0]["indicator_id"]}
    assert records[1]["value"] == "+66812345678"
    stats = await store.stats()
    assert (stats["accepted"], stats["indicators"], stats["versions"]) == (2, 1, 2)


async def test_rejects_go_to_the_dlq_with_original_bytes_and_a_reason(
    settings: Settings, store: RedisStore
) -> None:
    out = ListEmitter()
    raw = b'{"spec": "scamshare.submission/1", "truncated'
    await ingest(settings, store, out).process(msgs(settings, raw, start=41))
    [(topic, _key, value, headers)] = out.messages
    assert (topic, value) == (settings.topics.dlq, raw)
    h = dict(headers)
    assert h[HEADER_REASON].startswith(b"not_json: ")
    assert h[HEADER_STAGE] == b"validate"
    assert h[HEADER_SOURCE] == f"{settings.topics.submissions_of('telco-a')}:0:41".encode()
    assert await store.stats() == {"rejected": 1, "rejected:not_json": 1}


async def test_replaying_a_batch_counts_nothing_twice_and_re_emits_the_current_version(
    settings: Settings, store: RedisStore
) -> None:
    batch = msgs(
        settings,
        phone_submission("0812345678", country="TH", submission_id="a"),
        phone_submission("0812345678", country="TH", producer="bank-b", submission_id="b"),
        submission(indicator_obj("domain-name", {"value": "Evil-Example.COM."}), submission_id="c"),
        b"not json",
    )
    first, again = ListEmitter(), ListEmitter()
    await ingest(settings, store, first).process(batch)
    before = exact(await store.stats())
    result = await ingest(settings, store, again).process(batch)  # the crash-and-restart case
    assert exact(await store.stats()) == before
    assert (result.accepted, result.rejected, result.replayed) == (0, 0, 3)
    assert before["accepted"] == 3 and before["rejected"] == 1 and before["indicators"] == 2
    # Same versions re-emitted (fan-out ignores versions a subscriber already has), DLQ re-sent.
    assert sorted(m[2] for m in again.on(settings.topics.dlq)) == [b"not json"]

    def versions(emitter: ListEmitter) -> list[tuple[str, int]]:
        records = [orjson.loads(m[2]) for m in emitter.on(settings.topics.indicators)]
        return sorted((r["indicator_id"], r["version"]) for r in records)

    assert versions(again) == versions(first)


async def test_fan_out_honours_tlp_and_never_delivers_a_version_twice(
    settings: Settings, store: RedisStore
) -> None:
    subs = [
        Subscription(id="telco", name="T", sector="telecom", organisation="telco", tlp="green"),
        Subscription(id="bank", name="B", sector="bank", organisation="bank", tlp="amber"),
        Subscription(
            id="police", name="P", sector="law-enforcement", organisation="police", tlp="amber+strict"
        ),
    ]
    for s in subs:
        await store.put_subscription(s)
    levels = {"green.example.com": TLP.GREEN, "amber.example.com": TLP.AMBER, "red.example.com": TLP.RED,
              "strict.example.com": TLP.AMBER_STRICT}  # fmt: skip
    produced = ListEmitter()
    await ingest(settings, store, produced).process(
        msgs(
            settings,
            *[
                submission(
                    indicator_obj("domain-name", {"value": d}, tlp=t), submission_id=d, producer="police"
                )
                for d, t in levels.items()
            ],
        )
    )
    records = [
        InMessage(settings.topics.indicators, 0, i, m[1], m[2], dict(m[3]))
        for i, m in enumerate(produced.on(settings.topics.indicators))
    ]
    feeds: list[str] = []

    async def ensure(names: list[str]) -> None:
        feeds.extend(names)

    delivered = ListEmitter()
    channels = kafka_channels(delivered, settings.topic_prefix, ensure)
    step = DeliverStep(store, delivered, settings.topics, channels, now=lambda: NOW)
    assert await step.process(records) == 6  # green to 3, amber to 2, amber+strict to 1, red to none
    by_sub: dict[str, set[str]] = {}
    for m in delivered.messages:
        ind = next(o for o in orjson.loads(m[2])["objects"] if o["type"] == "domain-name")
        by_sub.setdefault(m[0].rsplit(".", 1)[1], set()).add(ind["value"])
    assert by_sub == {
        "telco": {"green.example.com"},
        "bank": {"green.example.com", "amber.example.com"},
        "police": {"green.example.com", "amber.example.com", "strict.example.com"},  # police reported it
    }
    assert all(dict(m[3])[HEADER_VERSION] == b"1" for m in delivered.messages)
    assert sorted(feeds) == sorted(s.topic(settings.topic_prefix) for s in subs)
    again = ListEmitter()
    channels = kafka_channels(again, settings.topic_prefix, ensure)
    replay = DeliverStep(store, again, settings.topics, channels, now=lambda: NOW)
    assert await replay.process(records) == 0
    assert again.messages == []  # replayed records: nothing re-delivered, nothing re-counted
    stats = await store.stats()
    assert (stats["delivered:telco"], stats["delivered:bank"], stats["delivered:police"]) == (1, 2, 3)


async def test_allowlisted_reports_are_held_counted_and_a_published_one_is_revoked(
    settings: Settings, store: RedisStore
) -> None:
    hotline = canonical("phone", "+66 2 888 8888")
    out = ListEmitter()
    step = ingest(settings, store, out)
    await step.process(msgs(settings, phone_submission("02 888 8888", country="TH", submission_id="before")))
    assert [orjson.loads(m[2])["version"] for m in out.on(settings.topics.indicators)] == [1]
    # The operator adds the bank's real hotline to the allowlist: the next report withdraws it once.
    step.allowlist = Allowlist(exact={hotline.indicator_id: "bank hotline"})
    await step.process(
        msgs(settings, phone_submission("+6628888888", producer="bank-b", submission_id="after"), start=1)
    )
    await step.process(
        msgs(settings, phone_submission("028888888", country="TH", producer="p3", submission_id="x"), start=2)
    )
    records = [orjson.loads(m[2]) for m in out.on(settings.topics.indicators)]
    assert [(r["version"], r["revoked"], r["allowlisted"]) for r in records] == [
        (1, False, False),
        (2, True, True),
    ]
    stats = exact(await store.stats())
    assert (stats["accepted"], stats["allowlisted"], stats["indicators"]) == (1, 2, 1)
    [(state, _)] = await store.load_states([hotline.indicator_id])
    assert state is not None and state.allowlisted and state.reporters == {"telco-a", "bank-b", "p3"}


async def test_a_value_allowlisted_from_its_first_report_is_never_published(
    settings: Settings, store: RedisStore
) -> None:
    out = ListEmitter()
    step = ingest(settings, store, out)
    step.allowlist = Allowlist(domains={"paypal.com": "big platform"})
    first = submission(indicator_obj("domain-name", {"value": "PayPal.com"}), submission_id="p1")
    second = submission(
        indicator_obj("domain-name", {"value": "paypal.com."}), submission_id="p2", producer="x"
    )
    await step.process(msgs(settings, first))
    await step.process(msgs(settings, second, start=1))
    assert out.on(settings.topics.indicators) == []  # nothing to publish, nothing to revoke
    stats = exact(await store.stats())
    assert stats == {"allowlisted": 2}
    [(state, _)] = await store.load_states([canonical("domain", "paypal.com").indicator_id])
    assert state is not None and state.allowlisted and (state.version, state.revoked) == (0, False)


class CountingLookup:
    """An online enricher that answers at once and counts its calls."""

    name = "counting"
    kinds = frozenset({"domain"})

    def __init__(self) -> None:
        self.calls = 0

    async def lookup(self, c: Canonical) -> Mapping[str, Any]:
        self.calls += 1
        return {"registered": "2026-11-01"}


async def test_offline_enrichment_is_on_the_record_and_online_lookups_are_cached_in_redis(
    settings: Settings, store: RedisStore, redis_client: redis.Redis
) -> None:
    out = ListEmitter()
    step = ingest(settings, store, out)
    step.enrichers = default_enrichers(load_config(), plugins=False)
    domain = canonical("domain", "kbank-verify23.com")
    cache_key = f"{settings.redis_key_prefix}e:{domain.sco_id}"
    await step.process(
        msgs(settings, submission(indicator_obj("domain-name", {"value": "KBANK-verify23.com."})))
    )
    [record] = [orjson.loads(m[2]) for m in out.on(settings.topics.indicators)]
    enrichment = green(record)["enrichment"]
    assert (enrichment["lookalike_of"], enrichment["lookalike"]) == ("kbank", "contains")
    assert redis_client.get(cache_key) is None  # offline results are recomputed, cheaper than a round trip

    lookup = CountingLookup()
    step.online = [Guarded(lookup, timeout_s=1)]
    for i, producer in enumerate(["p2", "p3"]):  # two new reporters: two new versions
        batch = submission(indicator_obj("domain-name", {"value": "kbank-verify23.com"}), producer=producer)
        await step.process(msgs(settings, batch, start=1 + i))
    assert lookup.calls == 1  # the second version was served from Redis
    assert orjson.loads(redis_client.get(cache_key) or b"{}") == {"registered": "2026-11-01"}
    assert 0 < (redis_client.ttl(cache_key) or 0) <= step.enrichment_ttl_s
    last = orjson.loads(out.on(settings.topics.indicators)[-1][2])
    assert green(last)["enrichment"]["registered"] == "2026-11-01"


async def test_false_positives_from_two_subscribers_suppress_and_sightings_count_once(
    settings: Settings, store: RedisStore
) -> None:
    produced = ListEmitter()
    await ingest(settings, store, produced).process(
        msgs(settings, phone_submission("0812345678", country="TH", submission_id="r1"))
    )
    phone = canonical("phone", "+66812345678")

    for org in ("telco", "bank"):  # each organisation's subscription received version 1
        await store.put_subscription(Subscription(id=org, name=org, sector="other", organisation=org))
    await store.mark_delivered([Delivery(phone.indicator_id, org, 1, False) for org in ("telco", "bank")])

    def sighting(subscriber: str, kind: str, sid: str, offset: int) -> InMessage:
        envelope = build_sighting(
            subscriber=subscriber, indicator_id=phone.indicator_id, kind=kind, now=NOW, sighting_id=sid
        )
        return InMessage(
            settings.topics.sightings_of(subscriber), 0, offset, phone.indicator_id.encode(),
            orjson.dumps(envelope),
        )  # fmt: skip

    step = SightingStep(ingest(settings, store, produced).versions, now=lambda: NOW)
    first = [
        sighting("telco", "false-positive", "00000000-0000-4000-8000-000000000001", 0),
        sighting("telco", "false-positive", "00000000-0000-4000-8000-000000000002", 1),
    ]
    result = await step.process(first)
    # One vote per organisation and kind; one organisation alone does not suppress.
    assert (result.applied, result.replayed, result.published) == (1, 1, 0)
    await step.process(first)  # replay: nothing counted again
    result = await step.process(
        [sighting("bank", "false-positive", "00000000-0000-4000-8000-000000000003", 2)]
    )
    assert result.published == 1
    records = [orjson.loads(m[2]) for m in produced.on(settings.topics.indicators)]
    assert [(r["version"], r["revoked"], green(r)["status"]) for r in records] == [
        (1, False, "active"), (2, False, "suppressed"),
    ]  # fmt: skip
    assert green(records[-1])["sightings"] == {"true_positive": 0, "false_positive": 2, "blocked": 0}
    bundles = [v["bundle"] for v in records[-1]["views"].values()]
    assert b"telco" not in orjson.dumps(bundles)  # producers see counts, not who reported
    stats = exact(await store.stats())
    assert (stats["sightings"], stats["sightings:false_positive"], stats["suppressions"]) == (2, 2, 1)
    nowhere = "indicator--00000000-0000-5000-8000-000000000000"
    sid = "00000000-0000-4000-8000-000000000009"
    envelope = build_sighting(
        subscriber="bank", indicator_id=nowhere, kind="blocked", now=NOW, sighting_id=sid
    )
    unknown = InMessage(settings.topics.sightings_of("bank"), 0, 9, b"k", orjson.dumps(envelope))
    dead = ListEmitter()
    assert (await SightingStep(ingest(settings, store, dead).versions).process([unknown])).rejected == 1
    assert [m[0] for m in dead.messages] == [settings.topics.dlq]


async def test_decay_sweep_publishes_band_changes_and_expires_what_decayed_away(
    settings: Settings, store: RedisStore
) -> None:
    produced = ListEmitter()
    step = ingest(settings, store, produced)
    reports = [
        phone_submission("0812345678", country="TH", producer=p, submission_id=f"d{i}")
        for i, p in enumerate("abc")
    ]
    await step.process(msgs(settings, *reports))
    await step.process(
        msgs(
            settings,
            submission(indicator_obj("domain-name", {"value": "kbank-x.com"}), submission_id="dom"),
            start=3,
        )
    )
    [phone, domain] = [orjson.loads(m[2]) for m in produced.on(settings.topics.indicators)]
    # three reporters of default trust at confidence 70: 67 (medium band); one reporter: 31 (low band)
    assert (green(phone)["score"], green(domain)["score"]) == (67, 31)
    # Sixty days later the phone (half-life 30 d) has decayed a band; a year later, two half-lives without
    # a report, it has expired. The domain (half-life 180 d) stays in its band: nothing to publish.
    later = datetime(2027, 1, 21, tzinfo=UTC)
    sweep = DecaySweep(step.versions, batch=1, now=lambda: later)
    result = await sweep.walk()
    assert (result.examined, result.walk_done, result.rescored) == (2, True, 1)
    much_later = DecaySweep(step.versions, batch=1, now=lambda: datetime(2027, 11, 1, tzinfo=UTC))
    assert (await much_later.walk()).rescored == 1
    records = [orjson.loads(m[2]) for m in produced.on(settings.topics.indicators)]
    assert [(r["kind"], r["version"], green(r)["score"], green(r)["status"]) for r in records[2:]] == [
        ("phone", 2, 17, "active"),  # 67 after two 30-day half-lives: a band lower
        ("phone", 3, 0, "expired"),  # reversible: a new report makes it active again
    ]
    assert (await much_later.walk()).rescored == 0  # expired once: nothing more to do
    assert exact(await store.stats())["decayed"] == 2
