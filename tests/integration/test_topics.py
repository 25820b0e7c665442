"""Topic specs, idempotent creation, configs and listing, against a real broker."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.dev.proc import free_port
from pipeline.errors import KafkaError
from pipeline.kafka.clients import build_admin, build_producer, produce
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    feed_topic_spec,
    list_topics,
    pipeline_topics,
    topic_configs,
    topic_drift,
)


def test_pipeline_topics_follow_settings() -> None:
    settings = Settings(topic_prefix="x.", partitions=6, replication_factor=3)
    specs = {spec.name: spec for spec in pipeline_topics(settings)}
    assert list(specs) == ["x.submissions", "x.dlq", "x.indicators", "x.sightings"]
    assert {(s.partitions, s.replication_factor) for s in specs.values()} == {(6, 3)}
    day = 86_400_000
    common = {"min.insync.replicas": "2", "max.message.bytes": str(1_000_000 + 64 * 1024)}
    assert specs["x.indicators"].config == {"cleanup.policy": "compact", "retention.ms": "-1", **common}
    assert specs["x.submissions"].config == {"retention.ms": str(7 * day), **common}
    assert specs["x.dlq"].config == {"retention.ms": str(30 * day), **common}
    assert specs["x.sightings"].config == {"retention.ms": str(30 * day), **common}
    feed = feed_topic_spec(settings, settings.topics.feed("telco-au"), {"retention.ms": "604800000"})
    assert (feed.name, feed.partitions) == ("x.feed.telco-au", 6)
    assert feed.config == {**common, "retention.ms": "604800000"}
    assert feed_topic_spec(settings, "f").config["retention.ms"] == str(30 * day)
    # One broker: min.insync.replicas cannot exceed the replication factor; an explicit value is kept.
    single = pipeline_topics(Settings(topic_prefix="x."))[0].config
    assert single["min.insync.replicas"] == "1"
    assert (
        pipeline_topics(Settings(replication_factor=5, min_insync_replicas=3))[0].config[
            "min.insync.replicas"
        ]
        == "3"
    )
    # A bigger worker limit raises the topics' limit with it, so the worker (not the broker) rejects.
    big = pipeline_topics(Settings(max_message_bytes=4_000_000))[0].config
    assert big["max.message.bytes"] == str(4_000_000 + 64 * 1024)


def test_conflicting_specs_for_one_topic_are_refused() -> None:
    admin = build_admin(Settings(bootstrap=f"127.0.0.1:{free_port()}"))  # never contacted
    with pytest.raises(ValueError, match="two different specs"):
        ensure_topics(admin, [TopicSpec("a", 1, 1), TopicSpec("a", 2, 1)])


def test_unreachable_broker_raises_naming_the_topic() -> None:
    admin = build_admin(Settings(bootstrap=f"127.0.0.1:{free_port()}"))
    with pytest.raises(KafkaError, match=r"x\.submissions"):
        ensure_topics(admin, [TopicSpec("x.submissions", 1, 1)], timeout=1)


@pytest.mark.integration
def test_ensure_topics_is_idempotent(settings: Settings) -> None:
    admin = build_admin(settings)
    specs = pipeline_topics(settings)
    names = [spec.name for spec in specs]

    assert ensure_topics(admin, specs) == dict.fromkeys(names, "created")
    assert ensure_topics(admin, specs) == dict.fromkeys(names, "exists")
    assert list_topics(admin, settings.topic_prefix) == dict.fromkeys(sorted(names), 2)


@pytest.mark.integration
def test_indicators_topic_is_compacted(settings: Settings) -> None:
    admin = build_admin(settings)
    ensure_topics(admin, pipeline_topics(settings))
    assert topic_configs(admin, settings.topics.indicators).get("cleanup.policy") == "compact"
    # Apache Kafka reports "delete" for the others; the embedded broker reports nothing it was not given.
    assert topic_configs(admin, settings.topics.submissions).get("cleanup.policy", "delete") == "delete"


@pytest.mark.integration
def test_feed_topics_and_listing_by_prefix(settings: Settings) -> None:
    admin = build_admin(settings)
    feed = feed_topic_spec(settings, settings.topics.feed("bank-nz"))
    other = TopicSpec(f"other-{settings.topic_prefix}x", 1, 1)
    assert ensure_topics(admin, [feed, other]) == {feed.name: "created", other.name: "created"}

    assert list_topics(admin, settings.topic_prefix) == {feed.name: 2}
    assert list_topics(admin, settings.topics.feed("")) == {feed.name: 2}
    everything = list_topics(admin)
    assert everything[other.name] == 1
    assert not any(name.startswith("__") for name in everything)

    # Deleting: a topic already gone is no error; what is deleted is gone from the listing.
    missing = f"{settings.topic_prefix}never-created"
    assert delete_topics(admin, [feed.name, missing, other.name]) == sorted([feed.name, other.name])
    deadline = time.monotonic() + 15
    while {feed.name, other.name} & set(list_topics(admin)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not {feed.name, other.name} & set(list_topics(admin))
    assert delete_topics(admin, []) == []


@pytest.mark.integration
def test_cli_topics_create_and_list(settings: Settings) -> None:
    runner = CliRunner()
    env = {"SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix, "SCAMSHARE_PARTITIONS": "3"}
    args = ["--bootstrap", settings.bootstrap or "", "--json"]

    created = runner.invoke(cli, ["topics", "create", *args], env=env)
    assert created.exit_code == 0, created.output
    assert json.loads(created.output) == dict.fromkeys(settings.topics.core(), "created")

    again = runner.invoke(cli, ["topics", "create", *args], env=env)
    assert json.loads(again.output) == dict.fromkeys(settings.topics.core(), "exists")

    listed = runner.invoke(cli, ["topics", "list", *args], env=env)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == dict.fromkeys(sorted(settings.topics.core()), 3)

    table = runner.invoke(cli, ["topics", "create", "--bootstrap", settings.bootstrap or ""], env=env)
    assert table.exit_code == 0, table.output
    assert "exists" in table.output

    check = runner.invoke(cli, ["topics", "create", "--check", *args], env=env)
    assert check.exit_code == 0, check.output
    assert json.loads(check.output) == {"drift": []}


@pytest.mark.integration
def test_topics_check_reports_drift(settings: Settings) -> None:
    """A topic created by hand with other partitions and retention, and a missing one, are reported."""
    admin = build_admin(settings)
    specs = pipeline_topics(settings)
    by_name = {s.name: s for s in specs}
    sub = by_name[settings.topics.submissions]
    ensure_topics(admin, [TopicSpec(sub.name, 3, 1, {**sub.config, "retention.ms": "1000"})])
    ensure_topics(admin, [s for s in specs if s.name not in (sub.name, settings.topics.sightings)])
    drift = topic_drift(admin, specs)
    assert f"{sub.name}: partitions 3, expected 2" in drift
    assert f"{sub.name}: retention.ms=1000, expected {sub.config['retention.ms']}" in drift
    assert f"{settings.topics.sightings}: missing" in drift
    assert not [d for d in drift if d.startswith((settings.topics.dlq, settings.topics.indicators))]
    runner = CliRunner()
    env = {"SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix, "SCAMSHARE_PARTITIONS": "2"}
    args = ["topics", "create", "--check", "--bootstrap", settings.bootstrap or ""]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert "drift" in result.output and "missing" in result.output


def test_cli_topics_without_any_broker_explains(tmp_path: object) -> None:
    result = CliRunner().invoke(cli, ["topics", "list"], env={"SCAMSHARE_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "scamshare dev up" in result.output


@pytest.mark.integration
def test_the_indicators_topic_keeps_the_latest_version_of_each_indicator(
    settings: Settings, broker: str
) -> None:
    """Compaction, with the pipeline's own indicators config and short segments so the cleaner runs now."""
    if broker != "kafka":
        pytest.skip("compaction is Apache Kafka's log cleaner; the embedded broker is not judged on it")
    admin = build_admin(settings)
    spec = next(s for s in pipeline_topics(settings) if s.name == settings.topics.indicators)
    fast = {"segment.ms": "100", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100"}
    ensure_topics(admin, [TopicSpec(spec.name, 1, spec.replication_factor, {**spec.config, **fast})])
    producer = build_producer(settings, **{"linger.ms": 0})
    for version in range(1, 6):
        for key in ("indicator--a", "indicator--b", "indicator--c"):
            produce(producer, spec.name, key.encode(), f"{key} v{version}".encode())
        producer.flush(10)
        time.sleep(0.2)  # each version in a segment of its own
    deadline = time.monotonic() + 60
    latest: dict[bytes | None, list[bytes | None]] = {}
    while time.monotonic() < deadline:
        produce(producer, spec.name, b"indicator--roll", b"x")  # rolls the active segment: cleanable
        producer.flush(10)
        latest = {}
        for record in read_to_end(settings, spec.name, timeout_s=20):
            latest.setdefault(record.key, []).append(record.value)
        if all(len(latest.get(k.encode(), [])) == 1 for k in ("indicator--a", "indicator--b")):
            break
        time.sleep(1)
    for key in ("indicator--a", "indicator--b", "indicator--c"):
        assert latest[key.encode()][-1] == f"{key} v5".encode()
    assert latest[b"indicator--a"] == [b"indicator--a v5"], latest  # older versions compacted away
