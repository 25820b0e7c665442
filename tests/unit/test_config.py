"""Settings from the environment, secret redaction, the librdkafka mapping and -X pass-through.

The client-factory configurations (pipeline.kafka.clients) are checked here too: they are the librdkafka
mapping as each client sees it. Nothing here opens a connection.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from pydantic import ValidationError

from pipeline.cli import cli
from pipeline.cli.context import CliContext, connected_settings, parse_kafka_option
from pipeline.config import Settings, redact_options, redact_url
from pipeline.dev.proc import free_port
from pipeline.errors import DeliveryError, NotConfiguredError
from pipeline.kafka.clients import (
    DeliveryTracker,
    admin_config,
    build_admin,
    build_consumer,
    build_producer,
    consumer_config,
    producer_config,
    wait_delivered,
)

SECRET = "hunter2-do-not-print"


# --- settings from the environment ------------------------------------------------------------------


def test_defaults_without_environment() -> None:
    settings = Settings()
    assert settings.bootstrap is None
    assert settings.redis_url is None
    assert settings.topics.core() == ("scam.submissions", "scam.dlq", "scam.indicators", "scam.sightings")
    assert settings.topics.feed("bank-au-1") == "scam.feed.bank-au-1"
    assert settings.dev_file == settings.state_dir / "dev.json"


def test_settings_read_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAMSHARE_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("SCAMSHARE_TOPIC_PREFIX", "prod.scam.")
    monkeypatch.setenv("SCAMSHARE_PARTITIONS", "12")
    monkeypatch.setenv("SCAMSHARE_COMPRESSION", "zstd")
    monkeypatch.setenv("SCAMSHARE_KAFKA_OPTIONS", '{"security.protocol": "SASL_SSL"}')
    monkeypatch.setenv("SCAMSHARE_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("SCAMSHARE_REDIS_URL", f"redis://app:{SECRET}@redis.internal:6379/2")

    settings = Settings()

    assert settings.bootstrap == "k1:9092,k2:9092"
    assert settings.topics.indicators == "prod.scam.indicators"
    assert settings.partitions == 12
    assert settings.compression == "zstd"
    assert settings.kafka_options == {"security.protocol": "SASL_SSL"}
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == SECRET
    assert settings.redis_url_value() == f"redis://app:{SECRET}@redis.internal:6379/2"
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCAMSHARE_TOPIC_PREFIX", "has space."),
        ("SCAMSHARE_PARTITIONS", "0"),
        ("SCAMSHARE_COMPRESSION", "brotli"),
        ("SCAMSHARE_SESSION_TIMEOUT_MS", "10"),
    ],
)
def test_invalid_environment_is_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


# --- redaction --------------------------------------------------------------------------------------


def test_redacted_masks_every_secret_and_is_json() -> None:
    settings = Settings(
        bootstrap="k:9092",
        sasl_password=SECRET,
        ssl_key_password=SECRET,
        redis_url=f"redis://app:{SECRET}@r:6379/0",
        kafka_options={"sasl.username": "svc", "sasl.password": SECRET, "ssl.key.pem": SECRET},
    )
    data = settings.redacted()
    text = json.dumps(data)
    assert SECRET not in text
    assert data["sasl_password"] == data["ssl_key_password"] == "**********"
    assert data["redis_url"] == "redis://app:**********@r:6379/0"
    assert data["kafka_options"]["sasl.username"] == "svc"
    assert data["kafka_options"]["sasl.password"] == "**********"
    assert data["bootstrap"] == "k:9092"


def test_redaction_helpers_leave_harmless_values() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url(None) is None
    assert redact_options({"linger.ms": "5"}) == {"linger.ms": "5"}


def test_config_command_prints_redacted_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAMSHARE_SASL_PASSWORD", SECRET)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert json.loads(result.output)["sasl_password"] == "**********"


# --- librdkafka mapping -----------------------------------------------------------------------------


def test_librdkafka_maps_bootstrap_options_secrets_and_overrides() -> None:
    settings = Settings(
        bootstrap="k:9092",
        kafka_options={"security.protocol": "SASL_SSL", "linger.ms": "50"},
        sasl_password=SECRET,
        ssl_key_password="kp",
    )
    conf = settings.librdkafka(**{"linger.ms": 0})
    assert conf == {
        "bootstrap.servers": "k:9092",
        "security.protocol": "SASL_SSL",
        "sasl.password": SECRET,
        "ssl.key.password": "kp",
        "linger.ms": 0,
    }
    assert "bootstrap.servers" not in Settings().librdkafka()


def test_producer_config_is_idempotent_with_settings_defaults() -> None:
    conf = producer_config(Settings(bootstrap="k:9092", compression="zstd", linger_ms=7))
    assert conf["enable.idempotence"] is True
    assert conf["acks"] == "all"
    assert conf["compression.type"] == "zstd"
    assert conf["linger.ms"] == 7
    assert conf["bootstrap.servers"] == "k:9092"


def test_pass_through_options_beat_defaults_and_call_overrides_beat_both() -> None:
    settings = Settings(bootstrap="k:9092", kafka_options={"linger.ms": "50", "acks": "1"})
    assert producer_config(settings)["linger.ms"] == "50"
    assert producer_config(settings, **{"linger.ms": 0})["linger.ms"] == 0


def test_consumer_config_commits_manually_from_earliest() -> None:
    conf = consumer_config(Settings(bootstrap="k:9092", session_timeout_ms=6000), "grp")
    assert conf["group.id"] == "grp"
    assert conf["enable.auto.commit"] is False
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["session.timeout.ms"] == 6000
    assert conf["heartbeat.interval.ms"] < conf["session.timeout.ms"]


def test_admin_config_carries_connection_options_only() -> None:
    conf = admin_config(Settings(bootstrap="k:9092", kafka_options={"security.protocol": "SSL"}))
    assert conf["security.protocol"] == "SSL"
    assert "enable.idempotence" not in conf


@pytest.mark.parametrize("factory", [build_producer, build_admin, lambda s: build_consumer(s, "g")])
def test_factories_refuse_without_bootstrap(factory: object) -> None:
    with pytest.raises(NotConfiguredError, match="scamshare dev up"):
        factory(Settings())  # type: ignore[operator]


def test_factories_construct_without_a_reachable_broker() -> None:
    # Nothing listens on this port: construction must not need the broker.
    settings = Settings(bootstrap=f"127.0.0.1:{free_port()}")
    consumer = build_consumer(settings, "g")
    consumer.close()
    assert build_producer(settings) is not None
    assert build_admin(settings) is not None


def test_wait_delivered_raises_when_messages_stay_queued() -> None:
    settings = Settings(bootstrap=f"127.0.0.1:{free_port()}")
    tracker = DeliveryTracker()
    producer: Producer = build_producer(settings, on_delivery=tracker, **{"message.timeout.ms": 60_000})
    producer.produce("t", b"v", b"k")
    try:
        with pytest.raises(DeliveryError, match="still queued") as caught:
            wait_delivered(producer, timeout=0, tracker=tracker)
        assert tracker.delivered == 0
        assert caught.value.failures
    finally:
        producer.purge()
        producer.flush(0)


# --- -X pass-through --------------------------------------------------------------------------------


def _parse(*values: str) -> dict[str, str]:
    ctx = click.Context(click.Command("x"))
    return parse_kafka_option(ctx, click.Option(["-X"]), values)


def test_kafka_option_parses_key_value_pairs() -> None:
    assert _parse("security.protocol=SASL_SSL", "sasl.jaas.config=a=b c", "empty=") == {
        "security.protocol": "SASL_SSL",
        "sasl.jaas.config": "a=b c",
        "empty": "",
    }


@pytest.mark.parametrize("bad", ["no-equals", "=value"])
def test_kafka_option_rejects_malformed_items(bad: str) -> None:
    with pytest.raises(click.BadParameter, match="KEY=VALUE"):
        _parse(bad)


def test_flags_override_environment_and_merge_kafka_options() -> None:
    obj = CliContext(settings=Settings(bootstrap="env:9092", kafka_options={"a": "1", "b": "1"}))
    settings = connected_settings(obj, "flag:9092", "redis://r:6379/0", {"b": "2", "c": "3"})
    assert settings.bootstrap == "flag:9092"
    assert settings.redis_url_value() == "redis://r:6379/0"
    assert settings.kafka_options == {"a": "1", "b": "2", "c": "3"}
    assert settings.librdkafka()["b"] == "2"


def test_missing_addresses_without_dev_stack_say_what_to_do(tmp_path: object) -> None:
    obj = CliContext(settings=Settings(state_dir=tmp_path))  # no dev.json there
    with pytest.raises(NotConfiguredError, match="scamshare dev up"):
        connected_settings(obj, None, None, {})
