"""The whole path through a real `scamshare worker` process, a real broker and a real Redis.

Two phases, so versions are deterministic: first one report each of a phone number (national format),
a domain and a wallet plus one malformed message; then the same phone number from a second producer in
international format. Exact counts are asserted on Redis counters, the DLQ and every subscriber's feed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import KafkaError, TopicPartition

from pipeline.canon import Canonical, canonicalize
from pipeline.config import Settings
from pipeline.demo import read_feed
from pipeline.envelope import HEADER_REASON
from pipeline.kafka import build_admin, build_consumer, build_producer
from pipeline.lag import group_lag
from pipeline.processors.fanout import Subscription
from pipeline.processors.merge import merge
from pipeline.processors.output import build_record
from pipeline.processors.score import ScoreModel
from pipeline.producers.publisher import Publisher
from pipeline.sightings import report_sighting
from pipeline.store import RedisStore
from pipeline.topics import ensure_topics, pipeline_topics
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


def canon(kind: str, value: str, country: str | None = None) -> Canonical:
    c = canonicalize(kind, value, country=country)
    assert isinstance(c, Canonical), c
    return c


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    env |= {
        "SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix,
        "SCAMSHARE_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "SCAMSHARE_APP_ID": settings.app_id,
        "SCAMSHARE_PARTITIONS": str(settings.partitions),
    }
    redis_url = settings.redis_url_value()
    assert settings.bootstrap and redis_url
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "worker",
        "--bootstrap",
        settings.bootstrap,
        "--redis-url",
        redis_url,
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def wait_processed(
    settings: Settings, store: RedisStore, expected: int, proc: subprocess.Popen[bytes]
) -> dict[str, int]:
    admin = build_admin(settings)
    topics = [settings.topics.submissions, settings.topics.indicators]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()
        stats = await store.stats()
        done = stats.get("accepted", 0) + stats.get("rejected", 0) >= expected
        if done and group_lag(settings, admin, settings.app_id, topics, "fetch").lag == 0:
            return stats
        await asyncio.sleep(0.3)
    raise AssertionError(f"not processed in time: {stats}")


def read_dlq(settings: Settings) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = build_consumer(settings, f"{settings.app_id}.dlq-reader", **{"enable.partition.eof": True})
    topic = settings.topics.dlq
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(settings.partitions)])
        out, eof = [], set()
        deadline = time.monotonic() + 20
        while len(eof) < settings.partitions and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                continue
            out.append((msg.value() or b"", dict(msg.headers() or [])))
        return out
    finally:
        consumer.close()


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

    dlq = read_dlq(settings)
    assert [value for value, _ in dlq] == [raw]  # the original bytes, once
    assert dlq[0][1][HEADER_REASON].startswith(b"not_json")

    feeds = {sub.id: read_feed(settings, sub)[0] for sub in SUBS}
    assert feeds == {"telco": 2, "bank": 3, "platform": 1}
    assert {s: stats.get(f"delivered:{s}", 0) for s in feeds} == feeds

    # Both subscribers that got the number report it as a false positive: it is revoked, and the revoked
    # version reaches both feeds.
    now = datetime.now(UTC)
    for subscriber in ("telco", "bank"):
        report_sighting(
            settings, subscriber=subscriber, indicator_id=phone_id, kind="false-positive", now=now
        )
    deadline = time.monotonic() + 60
    while (await store.stats()).get("revocations", 0) < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    stats = await wait_processed(settings, store, 5, worker)
    assert (stats["sightings"], stats["sightings:false_positive"], stats["revocations"]) == (2, 2, 1)
    [(state, delivered)] = await store.load_states([phone_id])
    assert state is not None and state.revoked and state.version == 3
    assert delivered == {"telco": 3, "bank": 3}
    assert {sub.id: read_feed(settings, sub)[0] for sub in SUBS} == {"telco": 3, "bank": 4, "platform": 1}

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) is not None
    await store.close()


def test_the_latest_version_on_a_feed_is_a_stix_bundle_with_counts_not_names(settings: Settings) -> None:
    """What a subscriber receives names no reporter (producers see counts, not who reported)."""
    state = merge(None, report(producer="secret-informant"), ScoreModel(), T0).state
    record = build_record(state, canon("phone", "+66812345678"), ScoreModel(), T0)
    bundle = orjson.dumps(record["bundle"])
    assert b"secret-informant" not in bundle
    assert record["reporters"] == ["secret-informant"]  # internal routing field only
