"""The embedded stack: a real Kafka-protocol broker (tansu) and a real Redis on free loopback ports.

Two ways to run it:

* :class:`EmbeddedStack`, a context manager for demos and tests. Its servers die with the process that
  started them: on Linux the kernel signals them when it dies, even by SIGKILL (``PR_SET_PDEATHSIG``:
  SIGKILL for the in-memory broker, which otherwise waits for its clients to leave; SIGTERM for Redis);
  elsewhere the context manager and an ``atexit`` hook stop them. The death signal follows the *thread*
  that started the servers, so start a stack from a thread that lives as long as it should (the main
  thread, a pytest fixture)::

      with EmbeddedStack(tmp_dir) as stack:
          settings = Settings(bootstrap=stack.bootstrap, redis_url=stack.redis_url)

* :func:`up` / :func:`down` / :func:`status`, behind ``scamshare dev``: detached servers that outlive the
  CLI, recorded in ``<state_dir>/dev.json``. :func:`down` stops only the processes :func:`up` recorded,
  after checking that each pid still is the process that was started (pids get reused).

The broker keeps everything in memory: stopping it loses every topic. POSIX only.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pipeline.config import Settings
from pipeline.dev.proc import (
    _GRACE_S,
    READY_TIMEOUT_S,
    STATE_FILE,
    STATE_VERSION,
    ProcessRecord,
    _broker_answers,
    _Child,
    _redis_answers,
    _start_server,
    _stop_child,
    _stop_record,
    broker_argv,
    free_port,
    port_open,
    process_alive,
    redis_argv,
    resolve_broker_bin,
    resolve_redis_bin,
)
from pipeline.errors import DevStackError, NotConfiguredError

__all__ = [
    "DevState",
    "DevStatus",
    "EmbeddedStack",
    "ProcessRecord",
    "down",
    "free_port",
    "port_open",
    "process_alive",
    "read_state",
    "resolve_broker_bin",
    "resolve_redis_bin",
    "status",
    "up",
    "write_state",
]

logger = logging.getLogger(__name__)


class EmbeddedStack:
    """A broker and a Redis as child processes; a context manager (start on enter, stop on exit).

    ``state_dir`` holds the logs (``logs/broker.log``, ``logs/redis.log``) and Redis' working
    directory; without it a temporary directory is used and removed on :meth:`stop`. ``detach=True``
    lets the servers outlive this process (for ``scamshare dev up``): no death signal, no atexit stop.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        broker_bin: str | None = None,
        redis_bin: str | None = None,
        detach: bool = False,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        # Absolute: redis chdirs to its --dir, so a relative --logfile would point elsewhere.
        self._state_dir = state_dir.resolve() if state_dir is not None else None
        self._broker_bin = broker_bin
        self._redis_bin = redis_bin
        self.detach = detach
        self._ready_timeout = ready_timeout
        self._children: dict[str, _Child] = {}
        self._tmp_dir: Path | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the broker."""
        return self._record("broker").address

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
        return [child.proc.pid for child in self._children.values()]

    def start(self) -> Self:
        """Start both servers and wait until each answers (a Kafka metadata request, a Redis PING)."""
        if self._children:
            return self
        broker_bin = resolve_broker_bin(self._broker_bin)
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
            self._children["broker"] = _start_server(
                "broker", broker_bin, lambda port: broker_argv(broker_bin, port), _broker_answers,
                logs / "broker.log", detach=self.detach, timeout=self._ready_timeout,
            )  # fmt: skip
            redis_log = logs / "redis.log"
            self._children["redis"] = _start_server(
                "redis", redis_bin, lambda port: redis_argv(redis_bin, port, data, redis_log), _redis_answers,
                redis_log, detach=self.detach, timeout=self._ready_timeout,
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[str]:
        """Stop what this stack started (Redis first, then the broker); returns what was stopped."""
        stopped = []
        for name in ("redis", "broker"):
            child = self._children.pop(name, None)
            if child is not None:
                _stop_child(child.proc, _GRACE_S[name])
                stopped.append(child.record.describe())
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


# --- scamshare dev up / down / status ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DevState:
    """What ``scamshare dev up`` started, as written to ``<state_dir>/dev.json``."""

    bootstrap: str
    redis_url: str
    broker: ProcessRecord
    redis: ProcessRecord
    started_at: str
    version: int = STATE_VERSION

    @property
    def broker_pid(self) -> int:
        return self.broker.pid

    @property
    def redis_pid(self) -> int:
        return self.redis.pid

    @property
    def logs(self) -> dict[str, str]:
        return {"broker": self.broker.log, "redis": self.redis.log}

    def alive(self) -> bool:
        """Both recorded processes still run (the same processes) and their ports answer."""
        return self.broker.answering() and self.redis.answering()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DevState:
        """Inverse of :meth:`to_dict`. Raises KeyError, TypeError or ValueError on a malformed dict."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported dev state version {data.get('version')!r}")
        fields = {k: v for k, v in data.items() if k not in ("broker", "redis")}
        return cls(broker=ProcessRecord(**data["broker"]), redis=ProcessRecord(**data["redis"]), **fields)


@dataclass(frozen=True, slots=True)
class DevStatus:
    """Answer of :func:`status`."""

    state_file: Path
    state: DevState | None
    broker_running: bool
    redis_running: bool

    @property
    def running(self) -> bool:
        return self.state is not None and self.broker_running and self.redis_running

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "state_file": str(self.state_file),
            "bootstrap": self.state.bootstrap if self.state else None,
            "redis_url": self.state.redis_url if self.state else None,
            "started_at": self.state.started_at if self.state else None,
            "broker": _process_status(self.state.broker if self.state else None, self.broker_running),
            "redis": _process_status(self.state.redis if self.state else None, self.redis_running),
        }


def _process_status(record: ProcessRecord | None, running: bool) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"pid": record.pid, "address": record.address, "running": running, "log": record.log}


def read_state(path: Path) -> DevState | None:
    """The state ``up`` wrote at ``path``; None when the file is missing or unreadable."""
    try:
        return DevState.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ignoring unreadable dev state file=%s error=%s", path, exc)
        return None


def with_dev_stack(settings: Settings, *, kafka: bool = True, redis: bool = True) -> Settings:
    """``settings`` with the broker and/or Redis of a running ``scamshare dev up`` filled in where unset.

    Raises NotConfiguredError (saying what to run) when one is needed, unset, and no dev stack is running.

    >>> settings = with_dev_stack(Settings(), redis=False)   # doctest: +SKIP
    """
    missing_kafka = kafka and not settings.bootstrap
    missing_redis = redis and settings.redis_url is None
    if not (missing_kafka or missing_redis):
        return settings
    state = read_state(settings.dev_file)
    if state is None or not state.alive():
        raise NotConfiguredError("Kafka broker" if missing_kafka else "Redis server")
    return settings.replace(
        bootstrap=state.bootstrap if missing_kafka else None,
        redis_url=state.redis_url if missing_redis else None,
    )


def write_state(path: Path, state: DevState) -> None:
    """Write ``state`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise up/down on one state dir (two `dev up` at once would start two stacks)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "dev.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _utc_now() -> datetime:
    return datetime.now(UTC)


def up(
    state_dir: Path,
    broker_bin: str | None = None,
    *,
    redis_bin: str | None = None,
    now: Callable[[], datetime] = _utc_now,
    ready_timeout: float = READY_TIMEOUT_S,
) -> DevState:
    """Start a detached broker and Redis and record them; if they already run, return their state."""
    state_dir = state_dir.resolve()
    path = state_dir / STATE_FILE
    with _locked(state_dir):
        current = read_state(path)
        if current is not None and current.alive():
            return current
        if current is not None:  # half dead: stop whichever of ours still runs
            for record in (current.broker, current.redis):
                _stop_record(record)
        stack = EmbeddedStack(
            state_dir, broker_bin=broker_bin, redis_bin=redis_bin, detach=True, ready_timeout=ready_timeout
        ).start()
        state = DevState(
            bootstrap=stack.bootstrap,
            redis_url=stack.redis_url,
            broker=stack.broker,
            redis=stack.redis,
            started_at=now().isoformat(),
        )
        try:
            write_state(path, state)
        except OSError as exc:
            stack.stop()
            raise DevStackError(f"could not write {path}: {exc}") from exc
        return state


def down(state_dir: Path) -> list[str]:
    """Stop the processes ``up`` recorded (only those, only if still ours); remove the state file.

    Returns a description of each process stopped (empty when nothing ran).
    """
    path = state_dir / STATE_FILE
    if not path.exists():  # nothing recorded: do not create a state dir just to lock it
        return []
    with _locked(state_dir):
        state = read_state(path)
        stopped = []
        if state is not None:
            for record in (state.redis, state.broker):
                if _stop_record(record):
                    logger.info("stopped %s", record.describe())
                    stopped.append(record.describe())
        path.unlink(missing_ok=True)
    return stopped


def status(state_dir: Path) -> DevStatus:
    """Whether the stack ``up`` recorded still runs, process by process."""
    path = state_dir / STATE_FILE
    state = read_state(path)
    return DevStatus(
        state_file=path,
        state=state,
        broker_running=state is not None and state.broker.answering(),
        redis_running=state is not None and state.redis.answering(),
    )
