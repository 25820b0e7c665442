"""The whole path through a real `scamshare worker` process, a real broker and a real Redis.

Two phases, so versions are deterministic: first one report each of a phone number (national format),
a domain and a wallet plus one malformed message; then the same phone number from a second producer in
international format. Exact counts are asserted on Redis counters, the DLQ and every subscriber's feed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from pipeline.config import Settings
from pipeline.dev.demo import read_feed
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.processors.merge import merge
from pipeline.processors.output import build_record
from pipeline.processors.score import ScoreModel
from pipeline.producers.publisher import Publisher
from pipeline.state.counters import undeclared
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from pipeline.subscribers.sightings import report_sighting
from pipeline.wire.headers import HEADER_REASON
from tests.integration.helpers import canon, enrol, read_records, running_worker, wait_processed
from tests.unit.processors.factories import T0, report

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SUBS = [
    Subscription(id="telco", name="Telco", sector="telecom", organisation="telco-a", types={"phone"}),
    Subscription(id="bank", name="Bank", sector="bank", organisation="bank-b", types={"phone", "wallet"}),
    Subscription(
        id="platform", name="Platform", sector="platform", organisation="platform-c", types={"domain"}
    ),
]
BTC = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    enrol(settings, "telco-a", "platform-c", "bank-b")  # before the worker: it subscribes from the start
    with running_worker(settings) as proc:
        yield proc


async def test_reports_are_validated_merged_scored_and_fanned_out(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: object
) -> None:
    url = settings.redis_url_value()
    assert url is not None
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    for sub in SUBS:
        await store.put_subscription(sub)
    producer = build_producer(settings)
    raw = b'{"spec": "scamshare.submission/1", "producer": "bank-b", "bundle": '
    with Publisher(settings, producer_id="telco-a", producer=producer) as pub:
        pub.publish(canon("phone", "081-234-5678", "TH"), confidence=80, country_hint="TH")
    with Publisher(settings, producer_id="platform-c", producer=producer) as pub:
        pub.publish(canon("domain", "Login-Verify.Example.COM."))
    with Publisher(settings, producer_id="bank-b", producer=producer) as pub:
        pub.publish(canon("wallet", BTC))
        pub.publish_raw(b"garbage-key", raw)
    stats = await wait_processed(settings, store, 4, worker)
    assert (stats["accepted"], stats["rejected"], stats["indicators"], stats["versions"]) == (3, 1, 3, 3)

    with Publisher(settings, producer_id="bank-b", producer=producer) as pub:
        pub.publish(canon("phone", "+66 81 234 5678"), confidence=90)
    stats = await wait_processed(settings, store, 5, worker)
    # Same number, two producers, two formats: one indicator, two reporters, a second version.
    assert (stats["accepted"], stats["indicators"], stats["versions"]) == (4, 3, 4)
    phone_id = canon("phone", "+66812345678").indicator_id
    [(state, delivered)] = await store.load_states([phone_id])
    assert state is not None
    assert state.reporters == {"telco-a", "bank-b"}
    assert (state.reports, state.version) == (2, 2)
    assert delivered == {"telco": 2, "bank": 2}

    dlq = read_records(settings, settings.topics.dlq)
    assert [r.value for r in dlq] == [raw]  # the original bytes, once
    assert dlq[0].headers[HEADER_REASON].startswith(b"not_json")

    feeds = {sub.id: read_feed(settings, sub)[0] for sub in SUBS}
    assert feeds == {"telco": 2, "bank": 3, "platform": 1}
    assert {s: stats.get(f"delivered:{s}", 0) for s in feeds} == feeds

    # Both subscribers that got the number report it as a false positive: it is suppressed (reversibly),
    # and the suppressed version reaches both feeds.
    now = datetime.now(UTC)
    for subscriber, org in (("telco", "telco-a"), ("bank", "bank-b")):
        report_sighting(
            settings, subscriber=subscriber, indicator_id=phone_id, kind="false-positive", now=now, org=org
        )
    deadline = time.monotonic() + 60
    while (await store.stats()).get("suppressions", 0) < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    stats = await wait_processed(settings, store, 5, worker)
    assert (stats["sightings"], stats["sightings:false_positive"], stats["suppressions"]) == (2, 2, 1)
    assert undeclared(stats) == []  # every counter a real worker wrote is declared, hence exported
    [(state, delivered)] = await store.load_states([phone_id])
    # A version per sighting batch that changed some audience's view (the first false positive may lower
    # a band, the second suppresses); a subscription gets those in which its own view changed, the last
    # of which says suppressed.
    assert state is not None and not state.revoked and state.version in {3, 4}
    assert set(delivered) == {"telco", "bank"} and delivered["telco"] == delivered["bank"]
    feeds = {sub.id: read_feed(settings, sub)[0] for sub in SUBS}
    assert feeds["telco"] - 2 == feeds["bank"] - 3 >= 1 and feeds["platform"] == 1
    for sub_id in ("telco", "bank"):
        last = [
            r for r in read_records(settings, settings.topics.feed(sub_id)) if r.key == phone_id.encode()
        ][-1]
        assert last.headers["scamshare-status"] == b"suppressed"

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) is not None
    await store.close()


def test_the_latest_version_on_a_feed_is_a_stix_bundle_with_counts_not_names(settings: Settings) -> None:
    """What a subscriber receives names no reporter (producers see counts, not who reported)."""
    model = ScoreModel(default_trust=0.5)
    state = merge(None, report(producer="secret-informant"), model, T0).state
    record = build_record(state, canon("phone", "+66812345678"), model, T0)
    assert record["views"]
    for view in record["views"].values():
        assert b"secret-informant" not in orjson.dumps(view["bundle"])


async def test_an_organisation_registered_while_the_worker_runs_is_consumed_within_30_s(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: object
) -> None:
    """No restart: the worker follows the registry and subscribes to the new organisation's own topic."""
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    await wait_processed(settings, store, 0, worker)  # running, nothing to do
    enrol(settings, "late-bank")
    registered = time.monotonic()
    with Publisher(settings, producer_id="late-bank", producer=build_producer(settings)) as pub:
        pub.publish(canon("phone", "+66 81 234 5678"))
    stats = await wait_processed(settings, store, 1, worker, timeout_s=30)
    assert stats["accepted"] == 1
    assert time.monotonic() - registered < 30
    await store.close()
