"""A real Apache Kafka (KRaft, no ZooKeeper) of 1 or 3 nodes on loopback, for the dev stack and the tests.

Jars come from Maven Central (:mod:`pipeline.dev.kafka_jars`). Each node is one JVM running
``kafka.Kafka <node_dir>/server.properties`` after ``kafka.tools.StorageTool format``; every node is both
broker and controller (``process.roles=broker,controller``), which is the cheapest way to get an N-voter
quorum on a small machine. One node is formatted ``--standalone``; three nodes share a random cluster id
and the same ``--initial-controllers`` list (a dynamic KRaft quorum of 3 voters, each with a random
directory id). ``start()`` formats afresh every time: a dev/test cluster keeps no data across starts.

Settings (:func:`server_properties`) and why:

* ``offsets.topic.replication.factor`` / ``transaction.state.log.replication.factor`` /
  ``share.coordinator.state.topic.replication.factor`` = min(N, 3): the defaults (3) cannot be met by one
  node, and the internal topic would never be created (consumer groups and transactions hang).
* ``transaction.state.log.min.isr`` / ``share.coordinator.state.topic.min.isr`` and ``min.insync.replicas``
  = 1 for one node, 2 for three: with three, an ``acks=all`` write survives the loss of one node.
* ``default.replication.factor`` = N, so a topic created without one is as durable as the cluster allows.
* ``auto.create.topics.enable=false``: production creates topics explicitly; a typo must fail here too.
* ``group.initial.rebalance.delay.ms=0``: the default 3 s wait before the first rebalance slows every test.
* ``offsets.topic.num.partitions`` / ``transaction.state.log.num.partitions`` = 10 instead of 50: a dev
  cluster needs few, and all of them (x N replicas) are created on the first group join / transaction.
* ``broker.heartbeat.interval.ms=1000`` / ``broker.session.timeout.ms=6000``: a killed node is fenced (and
  its partitions get a new leader, its replicas leave the ISR) after 6 s instead of 9 s.
* ``controlled.shutdown.enable=false``: the whole cluster stops at once, so moving leaders away first is
  pointless, and the last node of a 3-voter quorum waits for a commit that can no longer happen (seen
  here: a node still running 20 s after SIGTERM; without it, 3 nodes stop in about 5.5 s).
* ``num.network.threads=2`` / ``num.io.threads=2`` / ``log.cleaner.dedupe.buffer.size`` = 16 MiB: fewer
  threads and a smaller compaction buffer (the default 128 MiB is allocated on the heap) for a small heap;
  ``log.cleaner.backoff.ms=1000``: the cleaner looks every second (15 s default), so compaction shows soon.
* JVM: ``-Xms256m -Xmx512m`` (Kafka's own default is 1 GiB), ``-XX:+UseSerialGC`` (no GC threads competing
  on 2 cores; pauses are irrelevant here), ``-XX:TieredStopAtLevel=1`` (C1 only: less compiling at start,
  lower peak throughput, which a dev broker can afford; with both, one node was ready in 2.9-4.0 s instead
  of 3.9-5.4 s, at 204 MiB RSS instead of 220-241). Logs go through log4j2 to
  ``<state_dir>/kafka-<id>/server.log`` (log4j's shutdown hook off, so a shutdown is logged to its end);
  the JVM's own stdout/stderr are appended to the same file.

Listeners (PLAINTEXT, or with ``secure=True`` SASL/SCRAM-SHA-512 and the ``StandardAuthorizer``) are set in
:mod:`pipeline.dev.kafka_security`. A node started with ``detach=False`` dies with the thread that started
it (Linux ``PR_SET_PDEATHSIG``); the dev stack passes ``detach=True``, records :meth:`KafkaCluster.records`
as JSON and a later process stops them with :func:`stop_recorded`. POSIX only.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from pipeline.dev.kafka_jars import find_java, resolve_jars, terminate
from pipeline.dev.kafka_security import HOST, KafkaSecurity, listener_config
from pipeline.dev.proc import log_tail, process_alive, read_log, signal_group, spawn, start_ticks
from pipeline.errors import DevStackError

logger = logging.getLogger(__name__)
_librdkafka_logger = logging.getLogger(f"{__name__}.librdkafka")

READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 20.0
FORMAT_TIMEOUT_S = 120.0
JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")  # fmt: skip
_DATA_PROPERTY = "-Dscamshare.kafka.data="  # names the node's data dir on its command line
_PORT_ATTEMPTS = 3  # a port picked free can be taken before Kafka binds it
_LOG4J2 = """status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass(slots=True)
class KafkaNode:
    """One node (broker + controller): its ports, folders and, while running, its process."""

    node_id: int
    broker_port: int
    controller_port: int
    node_dir: Path
    directory_id: str
    pid: int | None = None
    start_ticks: int | None = None

    @property
    def data_dir(self) -> Path:
        return self.node_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.node_dir / "server.log"

    @property
    def config_file(self) -> Path:
        return self.node_dir / "server.properties"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.broker_port}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record; :func:`stop_recorded` accepts it in another process."""
        return {"node_id": self.node_id, "pid": self.pid, "start_ticks": self.start_ticks,
                "broker_port": self.broker_port, "controller_port": self.controller_port,
                "log_file": str(self.log_file), "data_dir": str(self.data_dir)}  # fmt: skip


def kafka_uuid() -> str:
    """A random Kafka ``Uuid`` (22 chars of URL-safe base64); never starting with ``-`` (CLI flags)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(
    node: KafkaNode, nodes: Sequence[KafkaNode], security: KafkaSecurity | None = None
) -> dict[str, str]:
    """``server.properties`` of ``node`` in a cluster of ``nodes`` (reasons in the module docstring)."""
    n = len(nodes)
    replicas, min_isr = str(min(n, 3)), "1" if n < 3 else "2"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.bootstrap.servers": ",".join(f"{HOST}:{m.controller_port}" for m in nodes),
        **listener_config(node.broker_port, node.controller_port, security),
        "log.dirs": str(node.data_dir),
        "num.partitions": "1",
        "default.replication.factor": str(n),
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "6000",
        "controlled.shutdown.enable": "false",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "log.cleaner.backoff.ms": "1000",
    }


def render_properties(props: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


class KafkaCluster:
    """``brokers`` combined nodes under ``state_dir/kafka-<id>``: ``with KafkaCluster(d, 3) as c: ...``.

    ``cache_root`` is where the jars are cached (the CLI passes ``SCAMSHARE_KAFKA_CACHE``);
    ``overrides`` are extra ``server.properties`` entries for every node, applied last. ``secure=True``:
    SASL/SCRAM and ACLs; :attr:`security` holds the admin login, :meth:`client_config` a client's options.
    """

    def __init__(
        self,
        state_dir: str | Path,
        brokers: int = 1,
        *,
        cache_root: str | Path | None = None,
        java: str | None = None,
        jvm_options: Sequence[str] = JVM_OPTIONS,
        overrides: Mapping[str, str] | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        detach: bool = False,
        secure: bool = False,
    ) -> None:
        if brokers < 1:
            raise ValueError("brokers must be >= 1")
        self.state_dir = Path(state_dir).resolve()
        self.size = brokers
        self.cache_root = cache_root
        self.java = java
        self.jvm_options = tuple(jvm_options)
        self.overrides = dict(overrides or {})
        self.ready_timeout = ready_timeout
        self.detach = detach
        self.security = KafkaSecurity.generate() if secure else None
        self.cluster_id = kafka_uuid()
        self.nodes: list[KafkaNode] = []
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._classpath = ""

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    @property
    def admin_password(self) -> str | None:  # the super user's (secure mode), else None
        return self.security.admin_password if self.security else None

    def client_config(self) -> dict[str, str]:
        """librdkafka options of a client of this cluster (logged in as ``admin`` in secure mode)."""
        login = self.security.admin_options() if self.security else {}
        return {"bootstrap.servers": self.bootstrap, **login}

    def node(self, node_id: int) -> KafkaNode:
        """The node with id ``node_id`` (1..N)."""
        return self.nodes[node_id - 1]

    def records(self) -> list[dict[str, Any]]:
        return [node.to_dict() for node in self.nodes]

    def start(self) -> Self:
        """Format and start every node in parallel; return once each serves and sees all N brokers."""
        if self._procs:
            raise DevStackError(f"Kafka in {self.state_dir} is already running")
        java = find_java(self.java)
        self._classpath = str(resolve_jars(self.cache_root)) + "/*"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "log4j2.properties").write_text(_LOG4J2)
        started = time.monotonic()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            ports = _free_ports(2 * self.size)
            self.nodes = [
                KafkaNode(i, ports[2 * i - 2], ports[2 * i - 1], self.state_dir / f"kafka-{i}", kafka_uuid())
                for i in range(1, self.size + 1)
            ]
            try:
                self._format(java)
                for node in self.nodes:
                    self._spawn(java, node)
                self.wait_ready(self.nodes)
            except DevStackError:
                self.stop(grace=5)
                taken = any("already in use" in read_log(n.log_file) for n in self.nodes)
                if attempt == _PORT_ATTEMPTS or not taken:
                    raise
                logger.warning("a Kafka port was taken while starting; retrying on other ports")
            except BaseException:
                self.stop(grace=5)
                raise
            else:
                logger.info("Kafka with %d node(s) ready in %.1fs at %s secure=%s", self.size,
                            time.monotonic() - started, self.bootstrap, bool(self.security))  # fmt: skip
                return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _format(self, java: str) -> None:
        if self.size == 1:
            quorum = ["--standalone"]
        else:
            voters = [f"{n.node_id}@{HOST}:{n.controller_port}:{n.directory_id}" for n in self.nodes]
            quorum = ["--initial-controllers", ",".join(voters)]
        if self.security is not None:
            quorum += self.security.format_args()
        jobs: list[tuple[KafkaNode, subprocess.Popen[bytes]]] = []
        for node in self.nodes:  # one JVM per node, all at once
            shutil.rmtree(node.node_dir, ignore_errors=True)
            node.data_dir.mkdir(parents=True)
            props = {**server_properties(node, self.nodes, self.security), **self.overrides}
            node.config_file.write_text(render_properties(props))
            argv = [*self._java_argv(java, node), "kafka.tools.StorageTool", "format",
                    "-t", self.cluster_id, "-c", str(node.config_file), *quorum]  # fmt: skip
            jobs.append((node, spawn(argv, node.node_dir / "format.log", death_signal=None)))
        deadline = time.monotonic() + FORMAT_TIMEOUT_S
        for _, proc in jobs:  # wait for every one, so none is left running when one fails
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for node, proc in jobs:
            if proc.returncode != 0:
                log = node.node_dir / "format.log"
                code, tail = proc.returncode, log_tail(log)
                raise DevStackError(f"Kafka node {node.node_id}: StorageTool exited {code}; {log}:\n{tail}")

    def _java_argv(self, java: str, node: KafkaNode) -> list[str]:
        return [java, *self.jvm_options, f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={node.node_dir}", f"{_DATA_PROPERTY}{node.data_dir}",
                "-cp", self._classpath]  # fmt: skip

    def _spawn(self, java: str, node: KafkaNode) -> None:
        argv = [*self._java_argv(java, node), "kafka.Kafka", str(node.config_file)]
        death = None if self.detach else signal.SIGKILL
        proc = spawn(argv, node.log_file, death_signal=death, truncate=False)
        self._procs[node.node_id] = proc
        node.pid, node.start_ticks = proc.pid, start_ticks(proc.pid)

    def wait_ready(self, nodes: Sequence[KafkaNode], timeout: float | None = None) -> None:
        """Wait until each of ``nodes`` answers on its own port and sees all N brokers and a controller."""
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        conf: dict[str, Any] = {**self.client_config(), "logger": _librdkafka_logger, "log_level": 0}
        admins = {n.node_id: AdminClient({**conf, "bootstrap.servers": n.address}) for n in nodes}
        why = dict.fromkeys(admins, "no answer")
        while admins:
            for node_id, proc in self._procs.items():
                if proc.poll() is not None:
                    log = self.node(node_id).log_file
                    raise DevStackError(
                        f"Kafka node {node_id} exited with code {proc.returncode}; {log}:\n{log_tail(log)}"
                    )
            for node_id, admin in list(admins.items()):
                try:  # a new client's first request goes to its bootstrap node: the one we ask about
                    cluster = admin.describe_cluster(request_timeout=2).result()
                except KafkaException as exc:
                    why[node_id] = str(exc)
                    continue
                finally:
                    admin.poll(0)  # serves queued librdkafka log lines
                seen = sorted(broker.id for broker in cluster.nodes)
                why[node_id] = f"sees brokers {seen} of {self.size}"
                if len(seen) >= self.size and cluster.controller is not None:
                    del admins[node_id]
            if admins and time.monotonic() >= deadline:
                late = self.node(next(iter(admins)))
                reason = f"{why[late.node_id]}; {late.log_file}:\n{log_tail(late.log_file)}"
                raise DevStackError(f"Kafka node {late.node_id} not ready after {timeout:g}s ({reason}")
            if admins:
                time.sleep(0.25)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node (a crash, for fault tests)."""
        proc = self._procs.pop(node_id, None)
        if proc is not None and proc.poll() is None:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self.node(node_id).pid = None

    def restart_node(self, node_id: int, timeout: float | None = None) -> None:
        """(Re)start one node with its ports and data (SIGKILLed first if running); wait until it serves."""
        self.kill_node(node_id)
        self._spawn(find_java(self.java), self.node(node_id))
        self.wait_ready([self.node(node_id)], timeout)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM every node at once, SIGKILL what still runs after ``grace`` seconds, reap them all."""
        procs = {proc.pid: proc for proc in self._procs.values()}
        terminate(list(procs), grace, running=lambda pid: procs[pid].poll() is None)
        self._procs.clear()
        for node in self.nodes:
            node.pid = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_recorded(records: Iterable[Mapping[str, Any]], grace: float = STOP_GRACE_S) -> list[int]:
    """Stop the nodes recorded by :meth:`KafkaCluster.records` (maybe in another process).

    A pid is signalled only if it still is a ``java`` whose command line names the recorded data dir and,
    when recorded, started at the recorded time (pids get reused). Returns the pids that were stopped.
    """
    pids = [int(r["pid"]) for r in records if r.get("pid") and _is_our_node(int(r["pid"]), r)]
    terminate(pids, grace, running=process_alive)
    return pids


def _is_our_node(pid: int, record: Mapping[str, Any]) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    ticks = record.get("start_ticks")
    return (
        process_alive(pid)
        and Path(os.fsdecode(argv[0])).name == "java"
        and os.fsencode(f"{_DATA_PROPERTY}{record['data_dir']}") in argv
        and (ticks is None or start_ticks(pid) == ticks)
    )


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nobody listens on now (all held open while picking)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
