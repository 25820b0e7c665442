"""The exporter serves /metrics from a real broker and Redis; the canary round-trips through a real worker."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.config import Settings
from pipeline.dev.proc import free_port
from pipeline.kafka.clients import build_admin, build_consumer, build_producer
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.ops.canary import CANARY_ID, Canary
from pipeline.ops.metrics import Exporter, redis_stats_reader
from pipeline.ops.sampler import LagSampler
from pipeline.ops.timelag import LagHistory
from pipeline.state.redis_store import RedisStore
from tests.integration.helpers import running_worker, stop_worker, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return parse(text)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


@pytest.fixture
def topics(settings: Settings) -> None:
    ensure_topics(build_admin(settings), pipeline_topics(settings))


def commit_group(settings: Settings, group: str, topic: str, offset: int) -> None:
    consumer = build_consumer(settings, group)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def stats_keys(settings: Settings) -> list[str]:
    url = settings.redis_url_value()
    assert url is not None
    return RedisStore.from_url(url, prefix=settings.redis_key_prefix).stats_keys()


def test_exporter_serves_lag_status_and_counters(
    settings: Settings, topics: None, redis_client: redis.Redis
) -> None:
    producer = build_producer(settings, **{"linger.ms": 0})
    for i in range(5):
        producer.produce(settings.topics.submissions, b"x", f"k{i}".encode(), partition=0)
        producer.flush(10)
    commit_group(settings, settings.app_id, settings.topics.submissions, 2)
    # The counters live in the plain hash and one hash per shard: the exporter shows their sums.
    plain, shard, *_ = stats_keys(settings)
    redis_client.hset(plain, mapping={"accepted": 4, "rejected": 2})
    redis_client.hset(shard, mapping={"accepted": 3, "rejected:not_json": 2})
    history = LagHistory(redis_client, prefix=settings.redis_key_prefix)
    sampler = LagSampler(settings, build_admin(settings), history, source="fetch")
    exporter = Exporter(sampler, stats=redis_stats_reader(redis_client, stats_keys(settings)), interval_s=0.5)
    port = exporter.start(0)
    try:
        deadline = time.monotonic() + 20
        while exporter.snapshot is None and time.monotonic() < deadline:
            time.sleep(0.05)
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        exporter.stop()
    labels = {"group": settings.app_id, "topic": settings.topics.submissions, "partition": "0"}
    lags = [v for lab, v in samples["scamshare_consumer_group_lag_messages"] if lab == labels]
    assert lags == [3.0]
    statuses = {
        lab["status"]: v
        for lab, v in samples["scamshare_consumer_group_status"]
        if lab["group"] == settings.app_id
    }
    assert sum(statuses.values()) == 1
    assert [v for lab, v in samples["scamshare_received_total"]] == [9.0]
    assert [(lab, v) for lab, v in samples["scamshare_rejected_total"]] == [({"reason": "not_json"}, 2.0)]
    assert samples["scamshare_lag_sample_errors_total"][0][1] == 0
    assert "scamshare_processing_latency_seconds_bucket" in samples


def test_cli_exporter_serves_metrics_until_sigterm(
    settings: Settings, topics: None, redis_client: redis.Redis
) -> None:
    port = free_port()
    redis_url = settings.redis_url_value()
    assert settings.bootstrap and redis_url
    # The command object itself, as `scamshare exporter` runs it (independent of its registration).
    launcher = (
        "import sys; from pipeline.cli.context import CliContext; "
        "from pipeline.cli.exporter import exporter; from pipeline.config import Settings; "
        "exporter.main(sys.argv[1:], obj=CliContext(Settings()))"
    )
    argv = [sys.executable, "-c", launcher, "--port", str(port), "--interval", "0.5", "--end-offsets",
            "fetch", "--bootstrap", settings.bootstrap, "--redis-url", redis_url]  # fmt: skip
    log = settings.state_dir / "exporter.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=worker_env(settings), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        while time.monotonic() < deadline and "scamshare_consumer_group_status" not in samples:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                time.sleep(0.2)
                continue
            time.sleep(0.2)
        assert samples["scamshare_redis_up"][0][1] == 1
        groups = {lab["group"] for lab, _v in samples["scamshare_consumer_group_status"]}
        assert settings.app_id in groups  # the processors' group is expected even before it commits
    finally:
        stop_worker(proc)
    assert proc.returncode == 0, log.read_text(errors="replace")


@pytest.fixture
def worker(settings: Settings, topics: None) -> Iterator[subprocess.Popen[bytes]]:
    with running_worker(settings) as proc:
        yield proc


def test_canary_makes_round_trips_through_a_real_worker(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: redis.Redis
) -> None:
    registry = CollectorRegistry()
    canary = Canary(settings, registry, interval_s=0.5, lost_after_s=60)
    canary.setup()
    try:
        deadline = time.monotonic() + 60
        while (registry.get_sample_value("scamshare_canary_received_total") or 0) < 2:
            assert time.monotonic() < deadline, "no canary came back"
            assert worker.poll() is None, (worker.stdout.read() if worker.stdout else b"").decode()
            canary.send_one()
            canary.poll(0.5)
    finally:
        canary.stop()
    samples = parse(generate_latest(registry).decode())
    received = samples["scamshare_canary_received_total"][0][1]
    assert received >= 2
    assert samples["scamshare_canary_sent_total"][0][1] >= received
    assert samples["scamshare_canary_lost_total"][0][1] == 0
    assert samples["scamshare_canary_roundtrip_seconds_count"][0][1] == received
    # only the canary subscription exists here; it was registered under the canary's own organisation
    subs = redis_client.hgetall(
        RedisStore.from_url(settings.redis_url_value() or "", prefix=settings.redis_key_prefix).subs_key
    )
    assert set(subs) == {CANARY_ID.encode()}
