"""A Redis Cluster of N primaries on loopback, for the store's contract tests (and trying the layout out).

Each primary is a real ``redis-server --cluster-enabled yes`` on a free port with a data folder of its own;
the slots are split evenly (CLUSTER ADDSLOTS), the nodes introduced (CLUSTER MEET) and the cluster is ready
when every node reports ``cluster_state:ok`` and knows every other. Equivalent to
``redis-cli --cluster create ... --cluster-replicas 0`` without needing redis-cli. No replicas: the
contract is about which keys a command may touch together, not about failover (deploy/README.md)::

    with RedisClusterStack(tmp_dir) as cluster:
        store = RedisStore.from_url(cluster.url, prefix="ss:", cluster=True)

Its servers die with the thread that started them, as the embedded stack's do.
"""

from __future__ import annotations

import functools
import random
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from pipeline.dev.binaries import redis_argv, resolve_redis_bin
from pipeline.dev.proc import HOST, READY_TIMEOUT_S, _Child, _redis_answers, _start_server, _stop_child
from pipeline.errors import DevStackError

__all__ = ["SLOTS", "RedisClusterStack"]

SLOTS = 16384
#: A cluster node also listens on its port + 10000 (the cluster bus), so its port is at most 55535.
BUS_OFFSET, MAX_PORT = 10000, 55535
_PORT_ATTEMPTS = 5


def cluster_argv(binary: str, port: int, *, data_dir: Path, log_file: Path) -> list[str]:
    """The embedded Redis's command line (AOF, loopback) with cluster mode on."""
    return [*redis_argv(binary, port, data_dir, log_file), "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]  # fmt: skip


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free loopback port whose cluster bus port (+10000) is free too; Redis refuses ports over 55535."""
    for _ in range(200):
        port = random.randint(20000, MAX_PORT)
        if _free(port) and _free(port + BUS_OFFSET):
            return port
    raise DevStackError("no free port pair (p, p + 10000) for a Redis Cluster node")


class RedisClusterStack:
    """``primaries`` cluster-mode Redis servers joined into one cluster (module docstring)."""

    def __init__(self, base: Path, primaries: int = 3, *, redis_bin: str | None = None) -> None:
        if primaries < 1:
            raise ValueError("a cluster needs at least one primary")
        self._base = Path(base).absolute()
        self._primaries = primaries
        self._redis_bin = redis_bin
        self._children: list[_Child] = []

    @property
    def addresses(self) -> list[str]:
        return [c.record.address for c in self._children]

    @property
    def url(self) -> str:
        """``redis://`` of the first primary: a cluster client discovers the others from it."""
        return f"redis://{self.addresses[0]}/0"

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children]

    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        binary = resolve_redis_bin(self._redis_bin)
        try:
            for n in range(self._primaries):
                data = self._base / f"redis-{n}"
                data.mkdir(parents=True, exist_ok=True)
                self._children.append(self._start_one(binary, data, self._base / f"redis-{n}.log", timeout))
            self._join(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _start_one(binary: str, data: Path, log: Path, timeout: float) -> _Child:
        argv = functools.partial(cluster_argv, binary, data_dir=data, log_file=log)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                return _start_server(
                    "redis", binary, argv, _redis_answers, log, detach=False, timeout=timeout,
                    port=cluster_port(),
                )  # fmt: skip
            except DevStackError:
                if attempt == _PORT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _join(self, timeout: float) -> None:
        clients = [redis.Redis(host=HOST, port=int(a.rsplit(":", 1)[1])) for a in self.addresses]
        try:
            per = SLOTS // len(clients)
            for i, client in enumerate(clients):
                last = SLOTS if i == len(clients) - 1 else (i + 1) * per
                client.execute_command("CLUSTER ADDSLOTS", *range(i * per, last))  # type: ignore[no-untyped-call]
            first_port = int(self.addresses[0].rsplit(":", 1)[1])
            for client in clients[1:]:
                client.execute_command("CLUSTER MEET", HOST, first_port)  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + timeout
            while not all(self._ready(c) for c in clients):
                if time.monotonic() > deadline:
                    raise DevStackError(f"Redis Cluster on {self.addresses} not ok after {timeout:g}s")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def _ready(self, client: redis.Redis) -> bool:
        info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]  # a dict of str
        return (
            info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == self._primaries
        )

    def stop(self) -> None:
        while self._children:
            _stop_child(self._children.pop().proc)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
