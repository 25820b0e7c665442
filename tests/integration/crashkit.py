"""A kit for fault tests: publish a mixed stream, wait until a worker settled, and check that nothing was lost
or counted twice (used by the crash test on the session's broker and the 3-broker fault tests)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import redis

from pipeline.config import Settings
from pipeline.dev.bench import BENCH_SUBSCRIBERS
from pipeline.dev.synthetic import PRODUCERS, build_messages, synthetic_reports
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import ensure_topics, feed_topic_spec, pipeline_topics
from pipeline.ops.lag import group_lag
from pipeline.producers.publisher import Publisher, Submission
from pipeline.state.redis_fields import state_from_fields
from pipeline.state.redis_store import RedisStore, glob_escape
from pipeline.wire.headers import HEADER_PRODUCER, HEADER_REASON, HEADER_SOURCE, HEADER_VERSION
from tests.integration.helpers import enrol_async, input_topics

MALFORMED = 60


def malformed_messages(valid: list[Submission], rng: random.Random) -> list[bytes]:
    """A buggy producer's output: not JSON, broken envelopes, invalid values, unknown observable types."""
    out: list[bytes] = []
    for i in range(MALFORMED):
        doc = orjson.loads(rng.choice(valid).value)
        indicator = next(o for o in doc["bundle"]["objects"] if o["type"] == "indicator")
        match i % 4:
            case 0:
                out.append(b'{"spec": "scamshare.submission/1", "producer": ' + str(i).encode())
            case 1:
                doc["submission_id"] = f"bad envelope {i}"
                out.append(orjson.dumps(doc))
            case 2:
                indicator["pattern"] = f"[phone-number:value = '+{i}']"
                out.append(orjson.dumps(doc))
            case _:
                indicator["pattern"] = f"[x-unknown:value = 'thing-{i}']"
                out.append(orjson.dumps(doc))
    return out


def speaker(raw: bytes | None, default: str = "crash-test") -> str:
    """Who sends a malformed message: the producer its envelope names (so it fails for its own fault, not
    as an identity mismatch), or ``default`` when it names none of the synthetic producers."""
    try:
        doc = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return default
    producer = doc.get("producer") if isinstance(doc, dict) else None
    return producer if producer in PRODUCERS else default


@dataclass
class Published:
    """What a fault test published: the valid submissions and the malformed messages, in send order."""

    valid: list[Submission]
    bad: list[bytes]

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.bad)


async def publish_mix(settings: Settings, store: RedisStore, reports: int, seed: int = 11) -> Published:
    """Create the topics and the bench subscriptions, then publish ``reports`` synthetic reports and the
    malformed messages, shuffled, idempotently with acks=all."""
    rng = random.Random(seed)
    admin = build_admin(settings)
    feed_specs = [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in BENCH_SUBSCRIBERS]
    ensure_topics(admin, pipeline_topics(settings) + feed_specs)
    await enrol_async(settings, store, *PRODUCERS, "crash-test")
    for sub in BENCH_SUBSCRIBERS:
        await store.put_subscription(sub)
    valid = build_messages(synthetic_reports(reports, seed=seed), datetime.now(UTC))
    bad = malformed_messages(valid, rng)
    order: list[Submission | bytes] = [*valid, *bad]
    rng.shuffle(order)
    client = build_producer(settings)
    # Each report on its producer's own topic; the malformed messages from crash-test's.
    pubs = {p: Publisher(settings, producer_id=p, producer=client) for p in (*PRODUCERS, "crash-test")}
    for item in order:
        if isinstance(item, bytes):
            pubs[speaker(item)].publish_raw(None, item)
        else:
            pubs[dict(item.headers)[HEADER_PRODUCER].decode()].send(item)
    for pub in pubs.values():
        pub.flush()
        pub.raise_for_failures()
    return Published(valid, bad)


def received(stats: dict[str, int]) -> int:
    return stats.get("accepted", 0) + stats.get("rejected", 0) + stats.get("allowlisted", 0)


async def wait_received(store: RedisStore, at_least: int, proc: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        got = received(await store.stats())
        if got >= at_least:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"received {received(await store.stats())}/{at_least} after 60 s")


async def wait_settled(
    settings: Settings, store: RedisStore, total: int, timeout_s: float = 60
) -> dict[str, int]:
    """Until all is received and the group's commits reached the end of both of its topics."""
    admin = build_admin(settings)
    topics = [*input_topics(settings), settings.topics.indicators]
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout_s
    stats: dict[str, int] = {}
    while time.monotonic() < deadline:
        stats = await store.stats()
        if received(stats) >= total:
            lag = await loop.run_in_executor(
                None, group_lag, settings, admin, settings.app_id, topics, "fetch"
            )
            if lag.lag == 0:
                return await store.stats()
        await asyncio.sleep(0.3)
    raise AssertionError(f"not settled after {timeout_s:g} s: {stats}")


def indicator_states(client: redis.Redis, settings: Settings) -> dict[str, int]:
    """Indicator id (uuid part) → report count, for every state hash in Redis."""
    # State keys are ``<prefix>{nn}i:<uuid>`` (pipeline/state/redis_keys: nn is the shard tag).
    keys = list(client.scan_iter(match=glob_escape(settings.redis_key_prefix) + "{??}i:*", count=1000))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        raws = pipe.execute()
    out = {}
    for key, raw in zip(keys, raws, strict=True):
        uuid = key.decode().rsplit(":", 1)[1]
        state, _ = state_from_fields(f"indicator--{uuid}", raw)  # the store's own reading of its hash
        if state is not None:
            out[uuid] = state.reports
    return out


async def assert_exact(
    settings: Settings, store: RedisStore, client: redis.Redis, published: Published, stats: dict[str, int]
) -> None:
    """Nothing lost, nothing counted twice: received = published; per indicator exactly its reports; every
    feed's delivered counter = its distinct (indicator, version) pairs; every malformed message on the DLQ."""
    valid, bad = published.valid, published.bad
    assert received(stats) == published.total
    assert stats.get("rejected", 0) == len(bad)
    assert stats.get("accepted", 0) + stats.get("allowlisted", 0) == len(valid)
    states = indicator_states(client, settings)
    assert len(states) == stats["indicators"]
    assert sum(states.values()) == stats["accepted"]
    if stats.get("allowlisted", 0) == 0:
        assert states == dict(Counter(m.key.removeprefix("indicator--") for m in valid))
    for sub in BENCH_SUBSCRIBERS:
        feed = read_to_end(settings, sub.topic(settings.topic_prefix))
        pairs = {(r.key, r.header_map()[HEADER_VERSION]) for r in feed}
        assert stats.get(f"delivered:{sub.id}", 0) == len(pairs) > 0, sub.id
        print(f"feed {sub.id}: {len(feed)} messages, {len(pairs)} distinct versions")
    dlq = read_topic_values(settings, settings.topics.dlq)
    print(f"dlq {len(dlq)} messages; stats {stats}")
    assert all(HEADER_REASON in headers for _, headers in dlq)
    assert len({headers[HEADER_SOURCE] for _, headers in dlq}) == len(bad)
    assert {value for value, _ in dlq} == set(bad)


def read_topic_values(settings: Settings, topic: str) -> list[tuple[bytes, dict[str, bytes]]]:
    """(value, headers) of every message of a topic."""
    return [(r.value or b"", r.header_map()) for r in read_to_end(settings, topic, timeout_s=20)]
