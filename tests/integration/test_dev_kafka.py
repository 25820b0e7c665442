"""`scamshare dev up --broker kafka --brokers 3`, the demo on that cluster, and `dev down` leaving nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from pipeline.cli import cli
from pipeline.dev import control as devstack
from pipeline.dev.kafka_jars import kafka_available

AVAILABLE, WHY = kafka_available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not AVAILABLE, reason=f"Apache Kafka half skipped: {WHY}"),
    pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning"),
]


@pytest.fixture
def dev_dir(tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    yield state_dir
    devstack.down(state_dir)  # whatever a failed assertion left running


def test_three_node_dev_cluster_runs_the_demo_and_down_stops_every_node(dev_dir: Path) -> None:
    runner = CliRunner()
    env = {"SCAMSHARE_STATE_DIR": str(dev_dir)}
    up = runner.invoke(cli, ["dev", "up", "--broker", "kafka", "--brokers", "3", "--json"], env=env)
    assert up.exit_code == 0, up.output
    started = json.loads(up.output)
    assert started["engine"] == "kafka"
    assert [b["name"] for b in started["brokers"]] == ["kafka-1", "kafka-2", "kafka-3"]
    pids = [b["pid"] for b in started["brokers"]] + [started["redis"]["pid"]]

    # Asking for another engine or size while it runs is refused, not silently ignored.
    other = runner.invoke(cli, ["dev", "up"], env=env)
    assert other.exit_code != 0
    assert "dev down" in other.output

    status = json.loads(runner.invoke(cli, ["dev", "status", "--json"], env=env).output)
    assert status["running"] is True
    assert [b["running"] for b in status["brokers"]] == [True, True, True]

    demo = runner.invoke(cli, ["demo", "--json"], env=env)
    assert demo.exit_code == 0, demo.output
    summary = json.loads(demo.stdout)
    assert (summary["received"], summary["accepted"], summary["rejected"], summary["allowlisted"]) == (
        252, 247, 3, 2,
    )  # fmt: skip
    assert summary["unique_indicators"] == 176
    assert summary["delivered"]["police-au"] == summary["versions"]  # cleared for all, no filter

    # The demo's topics are replicated on every node of the dev cluster.
    admin = AdminClient({"bootstrap.servers": started["bootstrap"], "log_level": 0})
    topics = admin.list_topics(timeout=10).topics
    indicators = next(name for name in topics if name.endswith(".indicators"))
    assert {len(p.replicas) for p in topics[indicators].partitions.values()} == {3}

    down = runner.invoke(cli, ["dev", "down"], env=env)
    assert down.exit_code == 0, down.output
    assert not any(devstack.process_alive(pid) for pid in pids)
    assert runner.invoke(cli, ["dev", "status"], env=env).exit_code == 1
