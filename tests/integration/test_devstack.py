"""The embedded stack, `dev up/down/status`, and the Kafka client factories against a real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from confluent_kafka import TopicPartition

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.dev import control as devstack
from pipeline.dev.binaries import resolve_broker_bin
from pipeline.errors import BinaryNotFoundError, DeliveryError
from pipeline.kafka.clients import (
    DeliveryTracker,
    build_admin,
    build_consumer,
    build_producer,
    wait_delivered,
)
from pipeline.kafka.topics import TopicSpec, ensure_topics
from tests.conftest import StackAddresses

# --- the session stack and the client factories -----------------------------------------------------


@pytest.mark.integration
def test_stack_answers_kafka_and_redis(stack: StackAddresses, settings: Settings) -> None:
    topic = settings.topics.submissions
    ensure_topics(build_admin(settings), [TopicSpec(topic, 1, 1)])
    tracker = DeliveryTracker()
    producer = build_producer(settings, on_delivery=tracker)
    producer.produce(topic, value=b'{"hello": "world"}', key=b"indicator--1")
    wait_delivered(producer, timeout=10, tracker=tracker)
    assert tracker.delivered == 1

    consumer = build_consumer(settings, group_id=f"{settings.app_id}.test")
    try:
        consumer.subscribe([topic])
        message = None
        for _ in range(60):  # the group join takes about half the session timeout
            message = consumer.poll(0.5)
            if message is not None:
                break
        assert message is not None, "no message within 30 s"
        assert message.error() is None
        assert (message.key(), message.value()) == (b"indicator--1", b'{"hello": "world"}')
        consumer.commit(message=message, asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, message.partition())], timeout=10)
        assert committed[0].offset == message.offset() + 1
    finally:
        consumer.close()

    client = redis.Redis.from_url(stack.redis_url)
    try:
        assert client.ping() is True
    finally:
        client.close()


@pytest.mark.integration
def test_wait_delivered_raises_on_failed_delivery(settings: Settings) -> None:
    tracker = DeliveryTracker()
    # The topic does not exist and may not be auto-created: the broker never acknowledges.
    producer = build_producer(
        settings, on_delivery=tracker, **{"allow.auto.create.topics": False, "message.timeout.ms": 1000}
    )
    missing = settings.topics.feed("nobody")
    producer.produce(missing, value=b"v", key=b"k")
    with pytest.raises(DeliveryError, match=missing) as caught:
        wait_delivered(producer, timeout=10, tracker=tracker)
    assert tracker.failed == 1
    assert len(caught.value.failures) == 1


# --- EmbeddedStack ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_embedded_stack_stops_what_it_started(tmp_path: Path) -> None:
    with devstack.EmbeddedStack(tmp_path) as own:
        pids = own.pids()
        assert len(pids) == 2
        assert all(devstack.process_alive(pid) for pid in pids)
        assert own.broker.is_running()
        assert own.redis.answering()
        assert own.redis_url.startswith("redis://127.0.0.1:")
        assert (tmp_path / "logs" / "broker.log").exists()
    assert not any(devstack.process_alive(pid) for pid in pids)
    assert own.pids() == []


@pytest.mark.integration
def test_embedded_stack_dies_with_its_owner(tmp_path: Path) -> None:
    """A process holding a stack is SIGKILLed: the kernel takes its servers down too (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    pid_file = tmp_path / "pids"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom pipeline.dev.stack import EmbeddedStack\n"
        f"s = EmbeddedStack(Path({str(tmp_path)!r})).start()\n"
        f"Path({str(pid_file)!r}).write_text(' '.join(map(str, s.pids())))\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(300):
            if pid_file.exists() and pid_file.read_text():
                break
            assert owner.poll() is None, "the owner process died before starting its stack"
            time.sleep(0.05)
        servers = [int(p) for p in pid_file.read_text().split()]
        assert all(devstack.process_alive(pid) for pid in servers)
    finally:
        owner.kill()
        owner.wait()
    assert _wait_gone(servers), f"servers {servers} outlived their SIGKILLed owner"


def _wait_gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(devstack.process_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


# --- dev up / down / status -------------------------------------------------------------------------

#: `up` starts servers meant to outlive their Popen objects; Python warns when those are collected.
detached = pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning")


@pytest.fixture
def dev_dir(tmp_path: Path) -> Iterator[Path]:
    """A state dir for `dev up`; whatever a test leaves running there is stopped afterwards."""
    state_dir = tmp_path / "dev"
    yield state_dir
    devstack.down(state_dir)


@pytest.mark.integration
@detached
def test_up_is_idempotent_and_down_stops_everything(dev_dir: Path) -> None:
    first = devstack.up(dev_dir)
    again = devstack.up(dev_dir)
    assert again == first
    assert first.alive()
    assert devstack.read_state(dev_dir / "dev.json") == first
    assert devstack.status(dev_dir).running

    stopped = devstack.down(dev_dir)

    assert stopped == [first.redis.describe(), first.broker.describe()]
    assert not devstack.process_alive(first.broker.pid)
    assert not devstack.process_alive(first.redis.pid)
    assert not (dev_dir / "dev.json").exists()
    assert not devstack.status(dev_dir).running
    assert devstack.down(dev_dir) == []


@pytest.mark.integration
@detached
def test_down_leaves_a_process_that_is_not_ours(dev_dir: Path) -> None:
    state = devstack.up(dev_dir)
    stranger = subprocess.Popen(["sleep", "30"])  # stands in for a process that reused the broker's pid
    try:
        forged = replace(state, brokers=(replace(state.broker, pid=stranger.pid),))
        devstack.write_state(dev_dir / "dev.json", forged)
        assert not forged.alive()

        stopped = devstack.down(dev_dir)

        assert stopped == [state.redis.describe()]
        assert stranger.poll() is None, "down() killed a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()
        # The real broker was not recorded any more: stop it as its owner would.
        devstack.write_state(dev_dir / "dev.json", state)
        devstack.down(dev_dir)
    assert not devstack.process_alive(state.broker.pid)


@pytest.mark.integration
@detached
def test_up_replaces_a_half_dead_stack(dev_dir: Path) -> None:
    first = devstack.up(dev_dir)
    os.kill(first.redis.pid, signal.SIGKILL)
    assert _wait_gone([first.redis.pid])
    assert not first.alive()

    second = devstack.up(dev_dir)

    assert second.alive()
    assert second.redis.pid != first.redis.pid
    assert second.broker.pid != first.broker.pid
    assert _wait_gone([first.broker.pid]), "the old broker was left running"


def test_read_state_is_none_when_missing_or_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    assert devstack.read_state(path) is None
    path.write_text("{not json")
    assert devstack.read_state(path) is None
    path.write_text(json.dumps({"version": 1, "bootstrap": "x"}))
    assert devstack.read_state(path) is None


# --- the CLI ----------------------------------------------------------------------------------------


@pytest.mark.integration
@detached
def test_cli_dev_up_status_down(dev_dir: Path) -> None:
    runner = CliRunner()
    env = {"SCAMSHARE_STATE_DIR": str(dev_dir)}

    up = runner.invoke(cli, ["dev", "up", "--json"], env=env)
    assert up.exit_code == 0, up.output
    started = json.loads(up.output)
    assert started["already_running"] is False
    assert started["bootstrap"].startswith("127.0.0.1:")
    assert started["redis_url"].startswith("redis://127.0.0.1:")

    again = runner.invoke(cli, ["dev", "up", "--json"], env=env)
    assert json.loads(again.output)["already_running"] is True

    status = runner.invoke(cli, ["dev", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["running"] is True
    assert report["broker"]["pid"] == started["broker"]["pid"]

    down = runner.invoke(cli, ["dev", "down"], env=env)
    assert down.exit_code == 0, down.output
    assert f"pid {started['broker']['pid']}" in down.output
    assert f"pid {started['redis']['pid']}" in down.output
    assert not devstack.process_alive(started["broker"]["pid"])
    assert not devstack.process_alive(started["redis"]["pid"])

    after = runner.invoke(cli, ["dev", "status"], env=env)
    assert after.exit_code == 1
    assert "not running" in after.output


def test_cli_dev_up_with_a_bad_broker_binary_says_so(dev_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["dev", "up", "--broker-bin", str(dev_dir / "no-such-tansu")],
        env={"SCAMSHARE_STATE_DIR": str(dev_dir)},
    )
    assert result.exit_code == 1
    assert "not an executable file" in result.output
    assert not (dev_dir / "dev.json").exists()


def test_resolve_broker_bin_rejects_a_bad_explicit_path(tmp_path: Path) -> None:
    with pytest.raises(BinaryNotFoundError, match="SCAMSHARE_BROKER_BIN"):
        resolve_broker_bin(str(tmp_path / "missing"))
