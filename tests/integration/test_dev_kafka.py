"""`scamshare dev up --broker kafka --brokers 3`, the demo on that cluster, and `dev down` leaving nothing;
`dev up --broker kafka --secure`: logins, ACLs and the credentials files that log in to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.dev import control as devstack
from pipeline.dev.kafka_jars import kafka_available
from pipeline.identity.kafka_admin import scram_users
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics

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


def test_secure_dev_kafka_writes_credentials_that_log_in(dev_dir: Path) -> None:
    runner = CliRunner()
    env = {"SCAMSHARE_STATE_DIR": str(dev_dir)}
    up = runner.invoke(cli, ["dev", "up", "--broker", "kafka", "--secure", "--json"], env=env)
    assert up.exit_code == 0, up.output
    started = json.loads(up.output)
    assert (started["engine"], started["secure"], started["authenticated"]) == ("kafka", True, True)
    files = {name: Path(path) for name, path in started["credentials"].items()}
    assert set(files) == {"admin", "pipeline", "exporter", "gateway"}
    assert all(path.parent == (dev_dir / "credentials").resolve() for path in files.values())
    assert {p.stat().st_mode & 0o777 for p in files.values()} == {0o600}
    recorded = json.loads((dev_dir / "dev.json").read_text())
    assert recorded["credentials"]["admin"] == str(files["admin"])  # the state records where the login is

    admin = Settings(credentials_file=files["admin"])
    assert admin.org_id == "admin" and admin.librdkafka()["bootstrap.servers"] == started["bootstrap"]
    assert scram_users(build_admin(admin)) == {
        "admin", admin.pipeline_user, admin.exporter_user, admin.gateway_user,
    }  # fmt: skip
    core = set(list_topics(build_admin(admin), admin.topic_prefix))
    assert core == set(admin.topics.core())  # created as admin: the pipeline's user may not create them
    pipeline = Settings(credentials_file=files["pipeline"])  # it may describe them
    assert set(list_topics(build_admin(pipeline), admin.topic_prefix)) == core

    # The CLI with the admin's file is authenticated; without a login it says which file to use.
    listed = runner.invoke(cli, ["topics", "list", "--json", "--credentials", str(files["admin"])], env=env)
    assert listed.exit_code == 0, listed.output
    assert set(json.loads(listed.output)) == core
    anonymous = runner.invoke(cli, ["topics", "list"], env=env)
    assert anonymous.exit_code == 2
    assert f"--credentials {files['admin']}" in anonymous.output

    again = runner.invoke(cli, ["dev", "up", "--broker", "kafka", "--secure"], env=env)
    assert again.exit_code == 0, again.output
    assert "already running" in again.output and "authenticated" in again.output
    assert f"--credentials {files['admin']}" in again.output.replace("\n", " ")
    plain = runner.invoke(cli, ["dev", "up", "--broker", "kafka"], env=env)  # another stack: refused
    assert plain.exit_code != 0 and "dev down" in plain.output

    pids = [b["pid"] for b in started["brokers"]] + [started["redis"]["pid"]]
    down = runner.invoke(cli, ["dev", "down"], env=env)
    assert down.exit_code == 0, down.output
    assert not any(devstack.process_alive(pid) for pid in pids)
