"""The Apache Kafka launcher (pipeline.dev.kafka): 1 and 3 real KRaft nodes, faults, and stopping.

Each cluster size starts once per module. Skipped with a plain reason when Java >= 17 or Maven is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public names, re-exported without __all__
    AdminClient,
    ClusterMetadata,
    NewTopic,
)

from pipeline.dev.kafka import KafkaCluster, KafkaNode, render_properties, server_properties, stop_recorded
from pipeline.dev.kafka_jars import kafka_available

AVAILABLE, WHY_NOT = kafka_available()
needs_kafka = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT or "Kafka available")


# --- helpers ----------------------------------------------------------------------------------------


def _admin(cluster: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap})


def _create_topic(cluster: KafkaCluster, topic: NewTopic) -> None:
    """Create the topic and wait until the metadata shows every partition with its full ISR: the broker
    answering metadata learns of a new topic a moment after the controller (seen: 0 partitions listed)."""
    admin = _admin(cluster)  # keep a reference: a collected client cancels its requests
    for future in admin.create_topics([topic], request_timeout=30).values():
        future.result(timeout=30)
    deadline = time.monotonic() + 30
    while True:
        found = admin.list_topics(topic.topic, timeout=10).topics.get(topic.topic)
        parts = found.partitions if found is not None and found.error is None else {}
        if len(parts) == topic.num_partitions and all(
            len(p.isrs) == topic.replication_factor for p in parts.values()
        ):
            return
        assert time.monotonic() < deadline, f"{topic.topic} not in the metadata with its replicas after 30 s"
        time.sleep(0.1)


def _metadata(cluster: KafkaCluster, topic: str) -> ClusterMetadata:
    return _admin(cluster).list_topics(topic, timeout=10)


def _produce(cluster: KafkaCluster, topic: str, values: list[str]) -> None:
    """Produce with acks=all and idempotence; fail on any delivery error."""
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, "message.timeout.ms": 60_000})  # fmt: skip
    errors: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for value in values:
        producer.produce(topic, value.encode(), key=value.encode(), on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(90) == 0, "messages still in flight"
    assert errors == []


def _consume(cluster: KafkaCluster, topic: str, expected: int, timeout: float = 60) -> list[str]:
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})  # fmt: skip
    consumer.subscribe([topic])
    got: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=1):
                assert msg.error() is None, msg.error()
                got.append((msg.value() or b"").decode())
        for msg in consumer.consume(500, timeout=1):  # nothing more may arrive
            got.append((msg.value() or b"").decode())
    finally:
        consumer.close()
    return got


def _our_java_pids(state_dir: Path) -> list[int]:
    """Live (non-zombie) processes whose command line names a data dir under ``state_dir``."""
    needle = f"-Dscamshare.kafka.data={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] != "Z" and any(arg.startswith(needle) for arg in argv):
            found.append(int(entry.name))
    return found


# --- server.properties (no Java needed) -------------------------------------------------------------


def _nodes(n: int) -> list[KafkaNode]:
    return [KafkaNode(i, 9000 + i, 9100 + i, Path(f"/s/kafka-{i}"), f"dir{i}") for i in range(1, n + 1)]


def _parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_server_properties_one_node() -> None:
    nodes = _nodes(1)
    props = _parse(render_properties(server_properties(nodes[0], nodes)))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9101"
    assert "controller.quorum.voters" not in props  # --standalone forbids it
    assert props["listeners"] == "BROKER://127.0.0.1:9001,CONTROLLER://127.0.0.1:9101"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/s/kafka-1/data"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "default.replication.factor",
                "min.insync.replicas"):  # fmt: skip
        assert props[key] == "1", key
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_server_properties_three_nodes() -> None:
    nodes = _nodes(3)
    props = _parse(render_properties(server_properties(nodes[1], nodes)))
    assert props["node.id"] == "2"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103"
    assert props["advertised.listeners"].startswith("BROKER://127.0.0.1:9002,")
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["default.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["min.insync.replicas"] == "2"


def test_stop_recorded_ignores_a_pid_that_is_not_our_java() -> None:
    # This very python process: alive, but neither java nor running on that data dir.
    assert stop_recorded([{"pid": os.getpid(), "data_dir": "/nowhere/data", "start_ticks": None}]) == []


# --- one node ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with KafkaCluster(tmp_path_factory.mktemp("kafka1"), brokers=1) as cluster:
        yield cluster


@pytest.mark.integration
@needs_kafka
def test_one_node_produce_and_consume_exactly(cluster1: KafkaCluster) -> None:
    meta = _admin(cluster1).list_topics(timeout=10)
    assert sorted(meta.brokers) == [1]
    node = cluster1.node(1)
    assert node.log_file.stat().st_size > 0  # broker logs go to the file, not the terminal
    _create_topic(cluster1, NewTopic("roundtrip", num_partitions=3, replication_factor=1))
    values = [f"v{i}" for i in range(2000)]
    _produce(cluster1, "roundtrip", values)
    got = _consume(cluster1, "roundtrip", len(values))
    assert sorted(got) == sorted(values)  # each exactly once


@pytest.mark.integration
@needs_kafka
def test_one_node_recorded_pids_stopped_from_another_process(cluster1: KafkaCluster) -> None:
    records = json.loads(json.dumps(cluster1.records()))
    assert [r["node_id"] for r in records] == [1]
    script = (
        "import json, sys; from pipeline.dev.kafka import stop_recorded as s; print(s(json.load(sys.stdin)))"
    )
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(records), capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == str([records[0]["pid"]])
    cluster1.stop()  # reaps the (now dead) child
    assert _our_java_pids(cluster1.state_dir) == []


# --- three nodes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with KafkaCluster(tmp_path_factory.mktemp("kafka3"), brokers=3) as cluster:
        yield cluster


@pytest.mark.integration
@needs_kafka
def test_three_nodes_replicated_topic(cluster3: KafkaCluster) -> None:
    assert len(cluster3.bootstrap.split(",")) == 3
    _create_topic(cluster3, NewTopic("replicated", num_partitions=3, replication_factor=3,
                                      config={"min.insync.replicas": "2"}))  # fmt: skip
    meta = _metadata(cluster3, "replicated")
    assert sorted(meta.brokers) == [1, 2, 3]
    partitions = meta.topics["replicated"].partitions
    assert len(partitions) == 3
    for p in partitions.values():
        assert sorted(p.replicas) == [1, 2, 3]
        assert sorted(p.isrs) == [1, 2, 3]


@pytest.mark.integration
@needs_kafka
def test_three_nodes_survive_a_killed_leader_and_it_rejoins(cluster3: KafkaCluster) -> None:
    before = [f"a{i}" for i in range(200)]
    _produce(cluster3, "replicated", before)
    victim = _metadata(cluster3, "replicated").topics["replicated"].partitions[0].leader
    cluster3.kill_node(victim)
    after = [f"b{i}" for i in range(200)]
    _produce(cluster3, "replicated", after)  # acks=all with 2 of 3 in sync
    partitions = _metadata(cluster3, "replicated").topics["replicated"].partitions.values()
    assert all(victim not in p.isrs for p in partitions)

    cluster3.restart_node(victim)
    deadline = time.monotonic() + 60
    while True:
        partitions = _metadata(cluster3, "replicated").topics["replicated"].partitions.values()
        if all(sorted(p.isrs) == [1, 2, 3] for p in partitions):
            break
        assert time.monotonic() < deadline, f"node {victim} did not rejoin the ISR: {partitions}"
        time.sleep(0.5)
    got = _consume(cluster3, "replicated", len(before) + len(after))
    assert sorted(got) == sorted(before + after)


@pytest.mark.integration
@needs_kafka
def test_three_nodes_stop_leaves_no_java(cluster3: KafkaCluster) -> None:
    pids = [node.pid for node in cluster3.nodes if node.pid is not None]
    assert len(pids) == 3
    assert sorted(_our_java_pids(cluster3.state_dir)) == sorted(pids)
    cluster3.stop()
    assert _our_java_pids(cluster3.state_dir) == []
    assert all(node.pid is None for node in cluster3.nodes)
