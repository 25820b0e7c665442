"""The embedded stack: a real Kafka-protocol broker (tansu, or Apache Kafka) and a real Redis on free ports.

Two ways to run it:

* :class:`EmbeddedStack`, a context manager for demos and tests. Its servers die with the process that
  started them: on Linux the kernel signals them when it dies, even by SIGKILL (``PR_SET_PDEATHSIG``:
  SIGKILL for the in-memory broker, which otherwise waits for its clients to leave; SIGTERM for Redis);
  elsewhere the context manager and an ``atexit`` hook stop them. The death signal follows the *thread*
  that started the servers, so start a stack from a thread that lives as long as it should (the main
  thread, a pytest fixture)::

      with EmbeddedStack(tmp_dir) as stack:
          settings = Settings(bootstrap=stack.bootstrap, redis_url=stack.redis_url)

* ``up`` / ``down`` / ``status`` (:mod:`pipeline.dev.control`), behind ``scamshare dev``: detached
  servers that outlive the CLI, recorded in ``<state_dir>/dev.json``.

tansu keeps everything in memory: stopping it loses every topic. POSIX only.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from pipeline.dev.binaries import broker_argv, redis_argv, resolve_broker_bin, resolve_redis_bin
from pipeline.dev.kafka import READY_TIMEOUT_S as KAFKA_READY_TIMEOUT_S
from pipeline.dev.kafka import KafkaCluster, KafkaNode
from pipeline.dev.kafka_jars import find_java
from pipeline.dev.proc import (
    _GRACE_S,
    READY_TIMEOUT_S,
    ProcessRecord,
    _broker_answers,
    _Child,
    _redis_answers,
    _start_server,
    _stop_child,
    signal_group,
)
from pipeline.errors import DevStackError

__all__ = ["EmbeddedStack", "Engine", "node_record"]

logger = logging.getLogger(__name__)

#: The broker engines of the dev stack.
Engine = Literal["tansu", "kafka"]


class EmbeddedStack:
    """A broker and a Redis as child processes; a context manager (start on enter, stop on exit).

    ``broker="tansu"`` (the default: in memory, starts in milliseconds, no Java) or ``"kafka"``: Apache
    Kafka in KRaft mode with ``brokers`` nodes (:mod:`pipeline.dev.kafka`; needs Java >= 17 and Maven).
    ``state_dir`` holds the logs (``logs/broker.log``, ``logs/redis.log``, ``kafka/kafka-<n>/server.log``)
    and Redis' working directory; without it a temporary directory is used and removed on :meth:`stop`.
    ``detach=True`` lets the servers outlive this process (for ``scamshare dev up``): no death signal, no
    atexit stop. ``secure=True`` (Kafka only) starts it with SCRAM logins and ACLs: clients then need
    :meth:`KafkaCluster.client_config` of :attr:`cluster` (the ``admin`` login) or users of their own.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        broker_bin: str | None = None,
        redis_bin: str | None = None,
        detach: bool = False,
        ready_timeout: float = READY_TIMEOUT_S,
        broker: Engine = "tansu",
        brokers: int = 1,
        kafka_cache: Path | None = None,
        secure: bool = False,
    ) -> None:
        if broker == "tansu" and brokers != 1:
            raise DevStackError("the embedded broker (tansu) runs one node; use --broker kafka for more")
        if broker == "tansu" and secure:
            raise DevStackError("the embedded broker (tansu) has no ACLs; use --broker kafka for secure")
        # Absolute: redis chdirs to its --dir, so a relative --logfile would point elsewhere.
        self._state_dir = state_dir.resolve() if state_dir is not None else None
        self._broker_bin = broker_bin
        self._redis_bin = redis_bin
        self.detach = detach
        self._ready_timeout = ready_timeout
        self._children: dict[str, _Child] = {}
        self._tmp_dir: Path | None = None
        self.engine: Engine = broker
        self._brokers = brokers
        self._kafka_cache = kafka_cache
        self._secure = secure
        self._cluster: KafkaCluster | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the broker (``host:port,...`` of every Kafka node)."""
        if self._cluster is not None:
            return self._cluster.bootstrap
        return self._record("broker").address

    @property
    def cluster(self) -> KafkaCluster | None:
        """The Apache Kafka cluster (``broker="kafka"``), for fault tests that kill and restart nodes."""
        return self._cluster

    def broker_records(self) -> list[ProcessRecord]:
        """One record per broker process (one for tansu, one per Kafka node)."""
        if self._cluster is not None:
            java = find_java(self._cluster.java)
            return [node_record(node, java) for node in self._cluster.nodes]
        return [self._record("broker")]

    @property
    def redis_url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{self._record('redis').address}/0"

    @property
    def broker(self) -> ProcessRecord:
        return self._record("broker")

    @property
    def redis(self) -> ProcessRecord:
        return self._record("redis")

    def _record(self, name: str) -> ProcessRecord:
        if name not in self._children:
            raise DevStackError("the embedded stack is not started")
        return self._children[name].record

    def pids(self) -> list[int]:
        """Pids of the running servers (empty when stopped)."""
        kafka = [n.pid for n in self._cluster.nodes if n.pid] if self._cluster is not None else []
        return [child.proc.pid for child in self._children.values()] + kafka

    def start(self) -> Self:
        """Start both servers and wait until each answers (a Kafka metadata request, a Redis PING)."""
        if self._children:
            return self
        broker_bin = resolve_broker_bin(self._broker_bin) if self.engine == "tansu" else ""
        redis_bin = resolve_redis_bin(self._redis_bin)
        if self._state_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="scamshare-stack-"))
        base = self._state_dir or self._tmp_dir
        assert base is not None
        logs, data = base / "logs", base / "redis"
        data.mkdir(parents=True, exist_ok=True)
        if not self.detach:
            atexit.register(self.stop)
        try:
            if self.engine == "kafka":
                self._cluster = KafkaCluster(
                    base / "kafka", self._brokers, cache_root=self._kafka_cache, detach=self.detach,
                    ready_timeout=max(self._ready_timeout, KAFKA_READY_TIMEOUT_S), secure=self._secure,
                ).start()  # fmt: skip
            else:
                self._children["broker"] = _start_server(
                    "broker", broker_bin, lambda port: broker_argv(broker_bin, port), _broker_answers,
                    logs / "broker.log", detach=self.detach, timeout=self._ready_timeout,
                )  # fmt: skip
            self._start_redis(redis_bin, data, logs / "redis.log")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self, binary: str, data: Path, log: Path, port: int | None = None) -> None:
        self._children["redis"] = _start_server(
            "redis", binary, lambda p: redis_argv(binary, p, data, log), _redis_answers, log,
            detach=self.detach, timeout=self._ready_timeout, port=port,
        )  # fmt: skip

    def kill_redis(self) -> None:
        """SIGKILL Redis (a fault test's crash); :meth:`restart_redis` brings it back from its AOF."""
        child = self._children["redis"]
        signal_group(child.proc.pid, signal.SIGKILL)
        child.proc.wait(10)

    def restart_redis(self) -> None:
        """Start Redis again on the same port and data folder: it reloads its append-only file."""
        record = self._record("redis")
        argv = self._children["redis"].proc.args
        assert isinstance(argv, list)
        data, log = Path(argv[argv.index("--dir") + 1]), Path(record.log)
        _stop_child(self._children.pop("redis").proc, _GRACE_S["redis"])
        port = int(record.address.rsplit(":", 1)[1])
        self._start_redis(record.binary, data, log, port=port)
        if self._record("redis").address != record.address:
            raise DevStackError(f"Redis came back on {self._record('redis').address}, not {record.address}")

    def stop(self) -> list[str]:
        """Stop what this stack started (Redis first, then the broker); returns what was stopped."""
        stopped = []
        for name in ("redis", "broker"):
            child = self._children.pop(name, None)
            if child is not None:
                _stop_child(child.proc, _GRACE_S[name])
                stopped.append(child.record.describe())
            if name == "broker" and self._cluster is not None:
                cluster, self._cluster = self._cluster, None
                stopped += [f"kafka-{n.node_id} (pid {n.pid}, {n.address})" for n in cluster.nodes]
                cluster.stop()
        atexit.unregister(self.stop)
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
        return stopped

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def node_record(node: KafkaNode, java: str) -> ProcessRecord:
    """A Kafka node as the dev state records it (its pid is ours while it still runs this java)."""
    assert node.pid is not None, "node not started"
    return ProcessRecord(
        name=f"kafka-{node.node_id}", pid=node.pid, binary=java, address=node.address,
        log=str(node.log_file), start_ticks=node.start_ticks,
    )  # fmt: skip
