"""Crash safety: SIGKILL a real `scamshare worker` twice mid-stream, restart it, and count everything.

3,000 synthetic reports (12 producers, every kind, ~30% re-reports of an earlier scam in another spelling)
plus 60 malformed messages are published; a worker subprocess is killed with SIGKILL when the received
count crosses 1/3 and again at 2/3 of the total, and restarted each time (the dead member holds its
partitions until the 6 s session timeout, so each restart takes several seconds). Small batches keep many
of them in flight at each kill, so offsets are re-read for work that was already committed to Redis.

When everything is processed, nothing is lost or counted twice: received = published, every indicator's
report count is exactly the number of reports published for it, one state per indicator, and every feed's
delivered counter equals the distinct (indicator, version) pairs on that feed — feed messages may repeat
after a crash (at-least-once delivery), counters may not.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import redis

from pipeline.config import Settings
from pipeline.dev.bench import BENCH_SUBSCRIBERS
from pipeline.dev.synthetic import build_messages, synthetic_reports
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import ensure_topics, feed_topic_spec, pipeline_topics
from pipeline.ops.lag import group_lag
from pipeline.producers.publisher import Publisher, Submission
from pipeline.state.redis_store import RedisStore
from pipeline.wire.headers import HEADER_REASON, HEADER_SOURCE, HEADER_VERSION
from tests.integration.helpers import start_worker, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

REPORTS = 3000
MALFORMED = 60
BATCH = 100  # small batches: many uncommitted-but-processed batches at each kill
BATCH_ENV = {"SCAMSHARE_WORKER_BATCH_SIZE": str(BATCH)}


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


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every worker process the test starts; whatever still runs at the end is stopped."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_worker(proc, 20)


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


async def wait_settled(settings: Settings, store: RedisStore, total: int) -> dict[str, int]:
    """Until all is received and the group's commits reached the end of both of its topics."""
    admin = build_admin(settings)
    topics = [settings.topics.submissions, settings.topics.indicators]
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 60
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
    raise AssertionError(f"not settled after 60 s: {stats}")


def indicator_states(client: redis.Redis, settings: Settings) -> dict[str, int]:
    """Indicator id (uuid part) → report count, for every state hash in Redis."""
    prefix = f"{settings.redis_key_prefix}i:"
    keys = list(client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=1000))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hget(key, "n")
        counts = pipe.execute()
    return {
        k.decode().removeprefix(prefix): int(n) for k, n in zip(keys, counts, strict=True) if n is not None
    }


async def test_two_sigkills_mid_stream_lose_nothing_and_count_nothing_twice(
    settings: Settings,
    redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    admin = build_admin(settings)
    feed_specs = [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in BENCH_SUBSCRIBERS]
    ensure_topics(admin, pipeline_topics(settings) + feed_specs)
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    for sub in BENCH_SUBSCRIBERS:
        await store.put_subscription(sub)

    valid = build_messages(synthetic_reports(REPORTS, seed=11), datetime.now(UTC))
    bad = malformed_messages(valid, rng)
    order: list[Submission | bytes] = [*valid, *bad]
    rng.shuffle(order)
    with Publisher(settings, producer_id="crash-test", producer=build_producer(settings)) as pub:
        for item in order:
            if isinstance(item, bytes):
                pub.publish_raw(None, item)
            else:
                pub.send(item)
    total = len(order)

    log = tmp_path / "worker.log"
    workers.append(start_worker(settings, log, cwd=tmp_path, extra_env=BATCH_ENV))
    kills = []
    for fraction in (1 / 3, 2 / 3):
        kills.append(await wait_received(store, int(total * fraction), workers[-1], log))
        workers[-1].send_signal(signal.SIGKILL)
        workers[-1].wait(10)
        workers.append(start_worker(settings, log, cwd=tmp_path, extra_env=BATCH_ENV))
    assert kills[0] < total and kills[1] < total, f"the worker finished before a kill: {kills}"

    stats = await wait_settled(settings, store, total)
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    expected_reports = Counter(m.key.removeprefix("indicator--") for m in valid)

    # Every message exactly once: no report lost, none counted twice by a replay.
    assert received(stats) == total
    assert stats.get("rejected", 0) == len(bad)
    assert stats.get("accepted", 0) + stats.get("allowlisted", 0) == len(valid)
    # Per indicator: exactly the reports published for it; one state per indicator.
    states = indicator_states(redis_client, settings)
    assert len(states) == stats["indicators"]
    assert sum(states.values()) == stats["accepted"]
    if stats.get("allowlisted", 0) == 0:
        assert states == dict(expected_reports)

    # Feeds: at-least-once messages, exactly-once counters.
    for sub in BENCH_SUBSCRIBERS:
        feed = read_to_end(settings, sub.topic(settings.topic_prefix))
        pairs = {(r.key, r.header_map()[HEADER_VERSION]) for r in feed}
        assert stats.get(f"delivered:{sub.id}", 0) == len(pairs) > 0, sub.id
        print(f"feed {sub.id}: {len(feed)} messages, {len(pairs)} distinct versions")

    # The DLQ holds every malformed message (re-sent ones may repeat), each with a reason.
    dlq = read_topic_values(settings, settings.topics.dlq)
    print(f"kills at {kills}/{total}; dlq {len(dlq)} messages; stats {stats}")
    assert all(HEADER_REASON in headers for _, headers in dlq)
    assert len({headers[HEADER_SOURCE] for _, headers in dlq}) == len(bad)
    assert {value for value, _ in dlq} == set(bad)
    await store.close()


def read_topic_values(settings: Settings, topic: str) -> list[tuple[bytes, dict[str, bytes]]]:
    """(value, headers) of every message of a topic."""
    return [(r.value or b"", r.header_map()) for r in read_to_end(settings, topic, timeout_s=20)]
