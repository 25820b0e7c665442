"""``scamshare dev up | down | status``: a detached dev stack recorded in ``<state_dir>/dev.json``.

``up`` starts an :class:`~pipeline.dev.stack.EmbeddedStack` that outlives the command and records each
process (pid, start time, binary, address, log); ``down`` stops exactly those, and only while they are
still ours (pids get reused); other commands find the addresses through :func:`with_dev_stack`.

``up(..., broker="kafka", secure=True)`` starts Apache Kafka with SASL/SCRAM-SHA-512 and ACLs (deny by
default), creates the pipeline's topics, provisions the pipeline's and the exporter's users, and writes a
credentials file (mode 0600) for ``admin`` (the super user), ``pipeline`` and ``exporter`` under
``<state_dir>/credentials/``; the state records their paths (:attr:`DevState.credentials`). The admin's
password exists nowhere else: it is random per start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.dev.kafka import STOP_GRACE_S as KAFKA_STOP_GRACE_S
from pipeline.dev.kafka_jars import terminate
from pipeline.dev.proc import (
    READY_TIMEOUT_S,
    STATE_FILE,
    STATE_VERSION,
    ProcessRecord,
    _stop_record,
    process_alive,
)
from pipeline.dev.stack import EmbeddedStack, Engine
from pipeline.identity.credentials import scram_options, write_credentials
from pipeline.identity.kafka_admin import provision_service_users
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, pipeline_topics

__all__ = [
    "DevState",
    "DevStatus",
    "EmbeddedStack",
    "Engine",
    "down",
    "read_state",
    "status",
    "up",
    "with_dev_stack",
    "write_state",
]
from pipeline.errors import ConfigError, DevStackError, NotConfiguredError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DevState:
    """What ``scamshare dev up`` started, as written to ``<state_dir>/dev.json``."""

    bootstrap: str
    redis_url: str
    brokers: tuple[ProcessRecord, ...]
    redis: ProcessRecord
    started_at: str
    #: "tansu" (embedded, in memory) or "kafka" (Apache Kafka, KRaft)
    engine: Engine = "tansu"
    version: int = STATE_VERSION
    #: SASL/SCRAM logins and ACLs (Apache Kafka only)
    secure: bool = False
    #: login -> its credentials file ("admin", "pipeline", "exporter"), when secure
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def broker(self) -> ProcessRecord:
        """The first broker (the only one on tansu)."""
        return self.brokers[0]

    @property
    def replication_factor(self) -> int:
        """What topics on this stack should use: every node holds a replica, at most three."""
        return min(3, len(self.brokers))

    @property
    def admin_credentials(self) -> Path | None:
        """The super user's credentials file of a secure stack (``--credentials`` of admin commands)."""
        path = self.credentials.get("admin")
        return Path(path) if path else None

    @property
    def logs(self) -> dict[str, str]:
        return {**{b.name: b.log for b in self.brokers}, "redis": self.redis.log}

    def alive(self) -> bool:
        """Every recorded process still runs (the same processes) and its port answers."""
        return all(b.answering() for b in self.brokers) and self.redis.answering()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DevState:
        """Inverse of :meth:`to_dict`. Raises KeyError, TypeError or ValueError on a malformed dict."""
        if data.get("version") == 1:  # one tansu broker, before Apache Kafka joined the dev stack
            data = {**data, "version": STATE_VERSION, "brokers": [data.pop("broker")]}
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported dev state version {data.get('version')!r}")
        fields = {k: v for k, v in data.items() if k not in ("brokers", "redis")}
        brokers = tuple(ProcessRecord(**b) for b in data["brokers"])
        return cls(brokers=brokers, redis=ProcessRecord(**data["redis"]), **fields)


@dataclass(frozen=True, slots=True)
class DevStatus:
    """Answer of :func:`status`."""

    state_file: Path
    state: DevState | None
    #: per recorded broker process (one on tansu, one per Kafka node)
    brokers_running: tuple[bool, ...]
    redis_running: bool

    @property
    def broker_running(self) -> bool:
        return bool(self.brokers_running) and all(self.brokers_running)

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
            "engine": self.state.engine if self.state else None,
            "secure": self.state.secure if self.state else None,
            "credentials": self.state.credentials if self.state else {},
            "broker": _process_status(self.state.broker if self.state else None, self.broker_running),
            "brokers": [
                _process_status(b, up) for b, up in zip(self.state.brokers, self.brokers_running, strict=True)
            ]
            if self.state
            else [],
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
    from_credentials = settings.credentials is not None and settings.credentials.bootstrap
    missing_kafka = kafka and not settings.bootstrap and not from_credentials
    missing_redis = redis and settings.redis_url is None
    if not (missing_kafka or missing_redis):
        return settings
    state = read_state(settings.dev_file)
    if state is None or not state.alive():
        raise NotConfiguredError("Kafka broker" if missing_kafka else "Redis server")
    if missing_kafka and state.secure and "sasl.username" not in settings.librdkafka():
        # Without a login the SASL listener only hangs up: say which file to use instead.
        raise ConfigError(
            f"the dev stack at {state.bootstrap} needs a login: pass --credentials {state.admin_credentials} "
            "(the super user), or an organisation's credentials file"
        )
    # Topics created on a multi-node dev cluster are replicated on it, unless a factor was configured.
    replication = state.replication_factor if missing_kafka and settings.replication_factor == 1 else None
    return settings.replace(
        bootstrap=state.bootstrap if missing_kafka else None,
        redis_url=state.redis_url if missing_redis else None,
        replication_factor=replication if replication and replication > 1 else None,
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
    broker: Engine = "tansu",
    brokers: int = 1,
    kafka_cache: Path | None = None,
    secure: bool = False,
    settings: Settings | None = None,
) -> DevState:
    """Start a detached broker (or Kafka cluster) and Redis and record them; if they run, return their state.

    ``secure`` (Kafka only): logins and ACLs, the pipeline's topics and service users made with the topic
    prefix, app id and user names of ``settings`` (module docstring). Raises DevStackError when a stack of
    another engine, size or security already runs in ``state_dir``.
    """
    state_dir = state_dir.resolve()
    path = state_dir / STATE_FILE
    with _locked(state_dir):
        current = read_state(path)
        if current is not None and current.alive():
            if (current.engine, len(current.brokers), current.secure) != (broker, brokers, secure):
                kind = f"{'secure ' if current.secure else ''}{current.engine}"
                raise DevStackError(
                    f"a {kind} dev stack with {len(current.brokers)} broker(s) already runs in "
                    f"{state_dir}: stop it with `scamshare dev down` first"
                )
            return current
        if current is not None:  # half dead: stop whichever of ours still runs
            _stop_records(current)
        stack = EmbeddedStack(
            state_dir, broker_bin=broker_bin, redis_bin=redis_bin, detach=True, ready_timeout=ready_timeout,
            broker=broker, brokers=brokers, kafka_cache=kafka_cache, secure=secure,
        ).start()  # fmt: skip
        try:
            logins = _provision(stack, state_dir, settings or Settings()) if secure else {}
        except BaseException:
            stack.stop()
            raise
        state = DevState(
            bootstrap=stack.bootstrap,
            redis_url=stack.redis_url,
            brokers=tuple(stack.broker_records()),
            redis=stack.redis,
            started_at=now().isoformat(),
            engine=stack.engine,
            secure=secure,
            credentials=logins,
        )
        try:
            write_state(path, state)
        except OSError as exc:
            stack.stop()
            raise DevStackError(f"could not write {path}: {exc}") from exc
        return state


#: Where a secure dev stack's credentials files go, under the state dir.
CREDENTIALS_DIR = "credentials"


def _provision(stack: EmbeddedStack, state_dir: Path, settings: Settings) -> dict[str, str]:
    """Create the pipeline's topics and service users as ``admin``; write the three credentials files."""
    cluster = stack.cluster
    if cluster is None or cluster.security is None:
        raise DevStackError("a secure dev stack needs Apache Kafka (--broker kafka)")
    folder = state_dir / CREDENTIALS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    replicas = min(3, len(cluster.nodes)) if settings.replication_factor == 1 else None
    admin_settings = settings.replace(
        bootstrap=cluster.bootstrap, replication_factor=replicas if replicas and replicas > 1 else None
    )
    # The login as overrides: they win over any Kafka options or password the environment configures.
    admin = build_admin(admin_settings, **cluster.security.admin_options())
    ensure_topics(admin, pipeline_topics(admin_settings))
    logins = {"admin": (cluster.security.admin_user, cluster.security.admin_password)}
    passwords = provision_service_users(admin, admin_settings)
    logins["pipeline"] = (settings.pipeline_user, passwords[settings.pipeline_user])
    logins["exporter"] = (settings.exporter_user, passwords[settings.exporter_user])
    logins["gateway"] = (settings.gateway_user, passwords[settings.gateway_user])
    files = {name: folder / f"{name}.json" for name in logins}
    for name, (user, password) in logins.items():
        write_credentials(files[name], user, cluster.bootstrap, scram_options(user, password))
    return {name: str(path) for name, path in files.items()}


def down(state_dir: Path) -> list[str]:
    """Stop the processes ``up`` recorded (only those, only if still ours); remove the state file.

    Returns a description of each process stopped (empty when nothing ran).
    """
    path = state_dir / STATE_FILE
    if not path.exists():  # nothing recorded: do not create a state dir just to lock it
        return []
    with _locked(state_dir):
        state = read_state(path)
        stopped = _stop_records(state) if state is not None else []
        path.unlink(missing_ok=True)
    return stopped


def _stop_records(state: DevState) -> list[str]:
    """Stop Redis, then the brokers (Kafka nodes together: a quorum stops faster as a whole); only ours."""
    stopped = []
    if _stop_record(state.redis):
        stopped.append(state.redis.describe())
    ours = [b for b in state.brokers if b.is_running()]
    if state.engine == "kafka":
        terminate([b.pid for b in ours], KAFKA_STOP_GRACE_S, running=process_alive)
    else:
        ours = [b for b in ours if _stop_record(b)]
    stopped += [b.describe() for b in ours]
    for line in stopped:
        logger.info("stopped %s", line)
    return stopped


def status(state_dir: Path) -> DevStatus:
    """Whether the stack ``up`` recorded still runs, process by process."""
    path = state_dir / STATE_FILE
    state = read_state(path)
    return DevStatus(
        state_file=path,
        state=state,
        brokers_running=tuple(b.answering() for b in state.brokers) if state is not None else (),
        redis_running=state is not None and state.redis.answering(),
    )
