"""Shared by the integration tests that drive a real worker: start/stop it, wait for it, read topics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.canon import Canonical, canonicalize
from pipeline.config import Settings
from pipeline.dev.kafka_jars import kafka_available
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import ensure_topics, input_topic_spec, list_topics
from pipeline.ops.lag import group_lag
from pipeline.producers.publisher import Publisher
from pipeline.state.org import Organisation, own_topics
from pipeline.state.redis_store import RedisStore
from tests.conftest import BROKERS, StackAddresses

#: The fields an enrolled test organisation gets unless a test says otherwise: GREEN for unmarked reports
#: (what reports defaulted to before the registry) and the old default trust.
#: quotas off unless a test is about them (tests publish bursts far beyond 200 reports a second)
UNLIMITED = {"new_indicators_per_hour": None, "reports_per_second": None, "sightings_per_hour": None}
ORG_DEFAULTS: dict[str, Any] = {
    "sector": "other", "roles": ["producer", "subscriber"], "trust": 0.55, "default_tlp": "green",
    "quotas": UNLIMITED,
}  # fmt: skip


async def enrol_async(settings: Settings, store: RedisStore, *org_ids: str, **fields: Any) -> list[str]:
    """Register organisations (as `scamshare orgs add` would) and create their own topics; returns the
    submissions topics."""
    orgs = [Organisation(id=o, name=o, **{**ORG_DEFAULTS, **fields}) for o in org_ids]
    for org in orgs:
        await store.put_organisation(org)
    specs = [input_topic_spec(settings, name) for org in orgs for name in own_topics(org, settings.topics)]
    ensure_topics(build_admin(settings), specs)
    return [settings.topics.submissions_of(o.id) for o in orgs if o.produces]


def enrol(settings: Settings, *org_ids: str, **fields: Any) -> list[str]:
    """:func:`enrol_async` from synchronous code (its own event loop, in a thread if one is running)."""
    url = settings.redis_url_value()
    assert url is not None

    async def run() -> list[str]:
        store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
        try:
            return await enrol_async(settings, store, *org_ids, **fields)
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def input_topics(settings: Settings) -> list[str]:
    """Every organisation's submissions topic that exists (what the processors' group reads)."""
    listed = list_topics(build_admin(settings), f"{settings.topics.submissions}.")
    return sorted(listed)


def module_settings(bootstrap: str, redis_url: str, state_dir: Path, **overrides: Any) -> Settings:
    """Settings with prefixes unique to one test module (the conftest's ``settings`` is per test)."""
    tid = f"m{uuid.uuid4().hex[:8]}"
    base: dict[str, Any] = {
        "bootstrap": bootstrap, "redis_url": redis_url, "topic_prefix": f"{tid}.",
        "redis_key_prefix": f"{tid}:", "app_id": tid, "partitions": 2, "state_dir": state_dir,
    }  # fmt: skip
    return Settings(**{**base, **overrides})


def worker_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker subprocess for ``settings`` (none of the caller's SCAMSHARE_* leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    return env | {
        "SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix,
        "SCAMSHARE_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "SCAMSHARE_APP_ID": settings.app_id,
        "SCAMSHARE_PARTITIONS": str(settings.partitions),
        "SCAMSHARE_STATE_DIR": str(settings.state_dir),
        # Follow the registry every second: tests register organisations while the worker runs.
        "SCAMSHARE_REGISTRY_REFRESH_S": "1",
        **(extra or {}),
    }


def start_worker(
    settings: Settings, log: Path, *, cwd: Path | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a real ``scamshare worker`` for ``settings``, its output appended to ``log``.

    Output goes to a file, never to a pipe nobody reads: a worker that logs retries would fill the pipe and
    block.
    """
    redis_url = settings.redis_url_value()
    assert settings.bootstrap and redis_url
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "worker",
        "--bootstrap",
        settings.bootstrap,
        "--redis-url",
        redis_url,
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv, env=worker_env(settings, extra_env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def worker_log(proc: subprocess.Popen[bytes]) -> str:
    """The tail of a worker's log (for assertion messages)."""
    path = getattr(proc, "scamshare_log", None)
    return path.read_text(errors="replace")[-3000:] if isinstance(path, Path) and path.exists() else ""


@contextmanager
def running_worker(
    settings: Settings, extra_env: dict[str, str] | None = None, *, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker subprocess for ``settings``; stopped (SIGTERM, then SIGKILL) on exit."""
    path = log or settings.state_dir / "worker.log"
    proc = start_worker(settings, path, extra_env=extra_env)
    proc.scamshare_log = path  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        stop_worker(proc)


async def wait_processed(
    settings: Settings, store: RedisStore, expected: int, proc: subprocess.Popen[bytes], timeout_s: float = 90
) -> dict[str, int]:
    """Until ``expected`` submissions were accepted or rejected and both agents have no lag."""
    admin = build_admin(settings)
    topics = [*input_topics(settings), settings.topics.indicators]
    deadline = time.monotonic() + timeout_s
    stats: dict[str, int] = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, worker_log(proc)
        stats = await store.stats()
        done = stats.get("accepted", 0) + stats.get("rejected", 0) >= expected
        if done and group_lag(settings, admin, settings.app_id, topics, "fetch").lag == 0:
            return stats
        await asyncio.sleep(0.2)
    raise AssertionError(f"not processed in time: {stats}")


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_records(settings: Settings, topic: str, timeout_s: float = 20.0) -> list[Record]:
    """Every message of ``topic`` (no consumer group: assigned, read to each partition's end)."""
    return [
        Record(r.key, r.value or b"", r.header_map(), r.partition, r.offset)
        for r in read_to_end(settings, topic, timeout_s=timeout_s)
    ]


@dataclass(frozen=True)
class FeedMessage:
    key: str
    version: int
    revoked: bool
    value: bytes


def read_topic(settings: Settings, topic: str, timeout_s: float = 20.0) -> list[FeedMessage]:
    """Every message of a feed topic, with its version and revocation flag."""
    return [
        FeedMessage(
            key=(r.key or b"").decode(),
            version=int(r.headers["scamshare-version"]),
            revoked=r.headers["scamshare-revoked"] == b"1",
            value=r.value,
        )
        for r in read_records(settings, topic, timeout_s)
    ]


def canon(kind: str, value: str, country: str | None = None) -> Canonical:
    c = canonicalize(kind, value, country=country)
    assert isinstance(c, Canonical), c
    return c


def feed_bundle(
    c: Canonical, *, version: int = 1, revoked: bool = False, score: int = 60, status: str | None = None
) -> dict[str, Any]:
    """A feed message's bundle as the fan-out sends it (built directly, no worker). ``status``: a reversible
    one (suppressed, withdrawn, expired) — not revoked, ``valid_until`` in the past."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from pipeline.stix.build import indicator_bundle  # noqa: PLC0415
    from pipeline.stix.tlp import TLP  # noqa: PLC0415

    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    stopped = revoked or status not in (None, "active")
    return indicator_bundle(
        c, version=version, created=t0, modified=t0 + timedelta(minutes=version), valid_from=t0,
        valid_until=t0 + timedelta(minutes=version) if stopped else t0 + timedelta(days=60),
        revoked=revoked, confidence=80, tlp=TLP.GREEN, scam_types=["investment"],
        score=0 if stopped else score, reporter_count=2, report_count=3,
        sightings={"true_positive": 0, "false_positive": 0, "blocked": 0},
        first_reported=t0, last_reported=t0, enrichment={}, status=status or "active",
    )  # fmt: skip


def produce_feed(settings: Settings, topic: str, items: list[tuple[Canonical, int, bool | str]]) -> None:
    """Create ``topic`` and write (canonical, version, revoked or status) feed messages, acknowledged."""
    import orjson  # noqa: PLC0415

    from pipeline.kafka.clients import DeliveryTracker, build_producer, produce, wait_delivered  # noqa: PLC0415
    from pipeline.kafka.topics import ensure_topics, feed_topic_spec  # noqa: PLC0415

    ensure_topics(build_admin(settings), [feed_topic_spec(settings, topic)])
    tracker = DeliveryTracker()
    producer = build_producer(settings, on_delivery=tracker)
    for c, version, revoked_or_status in items:
        status = revoked_or_status if isinstance(revoked_or_status, str) else None
        revoked = revoked_or_status is True
        stopped = revoked or status not in (None, "active")
        headers = [
            ("scamshare-version", str(version).encode()),
            ("scamshare-revoked", b"1" if stopped else b"0"),
        ]
        if status is not None:
            headers.append(("scamshare-status", status.encode()))
        bundle = feed_bundle(c, version=version, revoked=revoked, status=status)
        produce(producer, topic, c.indicator_id.encode(), orjson.dumps(bundle), headers=headers)
    wait_delivered(producer, 30, tracker=tracker)


#: The engines this session really runs (the Apache Kafka half is skipped without Java and Maven).
ENGINES = [b for b in BROKERS if b != "kafka" or kafka_available()[0]]


def on_one_engine(
    stack: StackAddresses, preferred: str, why: str = "the counts are checked on every engine"
) -> None:
    """Run a test once per session: on ``preferred`` when the session has it, else on its first engine.

    For tests whose subject is not the broker (the bench's sweep and scale-out orchestrate runs whose counts
    are checked on both engines; a worker refusing its Redis stops before it reads): running each on one
    engine keeps the suite inside its time budget.
    """
    chosen = preferred if preferred in ENGINES else (ENGINES[0] if ENGINES else stack.engine)
    if stack.engine not in (chosen, "external"):
        pytest.skip(f"runs once per session, on {chosen}; {why}")


def publish(settings: Settings, producer_id: str, *items: tuple[object, dict[str, object]]) -> None:
    """Publish ``(canonical, publish keyword arguments)`` items as ``producer_id``, every one acknowledged."""
    with Publisher(settings, producer_id=producer_id, producer=build_producer(settings)) as pub:
        for c, kw in items:
            pub.publish(c, **kw)  # type: ignore[arg-type]


def feed(settings: Settings, sub_id: str) -> list[tuple[str, int, bool]]:
    """``(indicator id, version, revoked)`` of every message on subscription ``sub_id``'s feed topic."""
    return [(m.key, m.version, m.revoked) for m in read_topic(settings, settings.topics.feed(sub_id))]
