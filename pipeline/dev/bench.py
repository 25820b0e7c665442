"""The pipeline benchmark (the synthetic report mix it publishes is :mod:`pipeline.dev.synthetic`).

``run_pipeline_bench(settings, n)`` publishes ``n`` synthetic reports (many producers, about 30% repeats of
an earlier scam written in another format, every indicator kind) as one burst to a worker running in this
process (like the demo), waits until every report is merged and every version fanned out to three
subscribers, then measures a plain confluent-kafka consume → ``json.loads`` → ``json.dumps`` → produce loop
over the same ``n`` messages on the same broker. Both rates are measured in one run, so their ratio is the
number to compare (ENVIRONMENT.md). Latency is producer send → feed message (broker timestamp of the feed
message minus the ``scamshare-submitted-ms`` header), so under a burst it is mostly queueing.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from confluent_kafka import OFFSET_BEGINNING, Producer, TopicPartition

from pipeline.config import Settings, Topics
from pipeline.dev.bench_done import wait_done
from pipeline.dev.bench_latency import TARGET_P99_MS, feed_latency, latency_settings, warmup_seconds
from pipeline.dev.bench_prewrite import prewrite
from pipeline.dev.cpu_use import CpuUse
from pipeline.dev.synthetic import PRODUCERS, build_messages, restamp, submission_topic, synthetic_reports
from pipeline.kafka.clients import await_leaders, build_admin, build_consumer, build_producer, produce
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import (
    TopicSpec,
    ensure_topics,
    feed_topic_spec,
    input_topic_spec,
    leader_topic_spec,
    pipeline_topics,
)
from pipeline.producers.publisher import Submission
from pipeline.state.org import Organisation, Quotas, Role
from pipeline.state.redis_keys import shard_tags
from pipeline.state.redis_store import RedisStore, glob_escape
from pipeline.state.store import Store
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.wire.headers import HEADER_SUBMITTED_MS, HEADER_VERSION
from pipeline.worker.app import build_worker, wait_until_assigned
from pipeline.worker.inputs import registered_inputs

logger = logging.getLogger(__name__)

#: The ``{nn}`` hash tags that lead an indicator's keys (pipeline/state/redis_keys).
SHARD_TAGS = frozenset(tag.encode() for tag in shard_tags())

#: The three subscribers the benchmark fans out to (and the crash test reads).
BENCH_SUBSCRIBERS = (
    Subscription(id="telco", name="Telco", sector="telecom", organisation="telco-th",
                 types=frozenset({"phone", "url", "social"})),
    Subscription(id="bank", name="Bank", sector="bank", organisation="bank-sg", tlp=TLP.AMBER,
                 types=frozenset({"phone", "bank-account", "wallet", "email"})),
    Subscription(id="platform", name="Platform", sector="platform", organisation="platform-socialnet",
                 types=frozenset({"domain", "url", "email", "social"})),
)  # fmt: skip

#: Report quotas of every benchmark organisation: real ones (admission counts against them), far above what
#: a run of up to ten million reports submits, so that none is held. Sightings are not submitted.
BENCH_QUOTAS = Quotas(reports_per_second=10**9, new_indicators_per_hour=10**9, sightings_per_hour=None)


def send_burst(
    producer: Producer, topics: Topics, messages: Sequence[Submission], built: datetime, chunk: int = 500
) -> float:
    """Send every message to its producer's own topic (restamped chunk by chunk to the moment it is sent),
    flush; returns the wall-clock time of the first send."""
    first = time.time()
    for start in range(0, len(messages), chunk):
        now = datetime.now(UTC)
        sent_ms = str(int(now.timestamp() * 1000)).encode()
        for m in messages[start : start + chunk]:
            headers = [(k, sent_ms if k == HEADER_SUBMITTED_MS else v) for k, v in m.headers]
            topic = submission_topic(topics, m)
            produce(producer, topic, m.key.encode(), restamp(m.value, built, now), headers=headers)
    if producer.flush(60):
        raise RuntimeError("benchmark messages not acknowledged within 60 s")
    return first


def send_paced(
    producer: Producer, topics: Topics, messages: Sequence[Submission], built: datetime, rate: float
) -> float:
    """Offer the messages evenly at ``rate`` per second: message i leaves at first + i / rate (stamped as it
    leaves), so the latency measured is the pipeline's, not a queue behind a burst. Returns the first send."""
    first = time.time()
    start = time.perf_counter()
    i = 0
    while i < len(messages):
        due = min(len(messages), int((time.perf_counter() - start) * rate) + 1)
        now = datetime.now(UTC)
        sent_ms = str(int(now.timestamp() * 1000)).encode()
        for m in messages[i:due]:
            headers = [(k, sent_ms if k == HEADER_SUBMITTED_MS else v) for k, v in m.headers]
            topic = submission_topic(topics, m)
            produce(producer, topic, m.key.encode(), restamp(m.value, built, now), headers=headers)
        i = due
        producer.poll(0)
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
    if producer.flush(60):
        raise RuntimeError("benchmark messages not acknowledged within 60 s")
    return first


def passthrough(
    settings: Settings, sources: Sequence[str], target: str, n: int, timeout_s: float = 120.0
) -> float:
    """The practical ceiling: consume ``n`` messages of ``sources``, json decode + encode, produce to
    ``target``, flush. Returns messages per second from the first message received to the last ack."""
    consumer = build_consumer(settings, f"{settings.app_id}.passthrough")
    producer = build_producer(settings)
    producer.list_topics(target, timeout=10)  # connect before the clock starts
    try:
        listed = consumer.list_topics(timeout=10).topics
        # From each log start: the records pre-written before it are deleted (bench_prewrite).
        tps = [TopicPartition(t, p, OFFSET_BEGINNING) for t in sources for p in sorted(listed[t].partitions)]
        consumer.assign(tps)
        done, started = 0, 0.0
        deadline = time.monotonic() + timeout_s
        while done < n and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is not None:
                    continue
                if not started:
                    started = time.perf_counter()
                value = json.dumps(json.loads(msg.value() or b"null")).encode()
                produce(producer, target, msg.key(), value, headers=msg.headers())
                done += 1
        producer.flush(60)
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    if done < n:
        raise RuntimeError(f"passthrough read {done}/{n} messages in {timeout_s:.0f}s")
    return n / elapsed


async def redis_memory(store: RedisStore, prefix: str, sample: int = 1000) -> dict[str, dict[str, float]]:
    """Keys under ``prefix`` grouped by kind (the segment after the prefix: ``i`` indicator states, ``s``
    submission marks, ...), each with its key count and average MEMORY USAGE over a sample."""
    r = store.client
    by_kind: dict[str, list[bytes]] = {}
    async for key in r.scan_iter(match=glob_escape(prefix) + "*", count=1000):
        rest = key[len(prefix) :]
        if rest[:4] in SHARD_TAGS:  # a shard tag ({2a}i:<uuid>) is not the kind; a registry's ({orgs}) is
            rest = rest[4:]
        by_kind.setdefault(rest.split(b":", 1)[0].decode(), []).append(key)
    out: dict[str, dict[str, float]] = {}
    for kind, keys in sorted(by_kind.items()):
        async with r.pipeline(transaction=False) as pipe:
            for key in keys[:sample]:
                pipe.memory_usage(key, samples=0)
            sizes = [size for size in await pipe.execute() if size is not None]
        out[kind] = {"keys": len(keys), "avg_bytes": round(sum(sizes) / len(sizes), 1) if sizes else 0.0}
    return out


async def delete_namespace(store: RedisStore, prefix: str) -> None:
    """Delete every key under ``prefix`` (the benchmark's own namespace)."""
    keys = [key async for key in store.client.scan_iter(match=glob_escape(prefix) + "*", count=1000)]
    for start in range(0, len(keys), 1000):
        await store.client.delete(*keys[start : start + 1000])


async def used_memory(store: RedisStore) -> int:
    return int((await store.client.info("memory"))["used_memory"])


def bench_inputs(settings: Settings) -> list[str]:
    """The synthetic producers' own submissions topics."""
    return [settings.topics.submissions_of(p) for p in PRODUCERS]


class Prepared(NamedTuple):
    """What :func:`prepare` made: the passthrough loop's output topic, and what was pre-written."""

    passthrough_topic: str
    prewritten: dict[str, Any]


async def prepare(settings: Settings, store: RedisStore) -> Prepared:
    """Topics (pipeline, feeds, the passthrough output), their partitions pre-written where the broker
    allows it (:mod:`pipeline.dev.bench_prewrite`: no run times a new partition's first index entries),
    and the subscriptions."""
    passthrough_topic = f"{settings.topic_prefix}bench.passthrough"
    feeds = [s.topic(settings.topic_prefix) for s in BENCH_SUBSCRIBERS]
    specs = pipeline_topics(settings) + [feed_topic_spec(settings, feed) for feed in feeds]
    specs.append(TopicSpec(passthrough_topic, settings.partitions, settings.replication_factor))
    specs += [input_topic_spec(settings, t) for t in bench_inputs(settings)] + [leader_topic_spec(settings)]
    ensure_topics(build_admin(settings), specs)
    prewritten = prewrite(settings, [*bench_inputs(settings), *feeds], probe=passthrough_topic)
    await register_parties(store)
    return Prepared(passthrough_topic, prewritten)


async def register_parties(store: Store) -> None:
    """The synthetic producers, the subscribers' organisations (GREEN) and the subscriptions.

    Every organisation has report quotas, as every registered one does by default, so each batch pays
    what admission costs (the new-indicator lookup, the counters' script); :data:`BENCH_QUOTAS` are far
    above what a run submits, so nothing is held (``counts.held``)."""
    roles: dict[str, set[Role]] = {p: {"producer"} for p in PRODUCERS}
    for sub in BENCH_SUBSCRIBERS:
        roles.setdefault(sub.organisation, set()).add("subscriber")
    for org, has in roles.items():
        await store.put_organisation(Organisation(
            id=org, name=org, sector="other", roles=frozenset(has), trust=0.55, default_tlp=TLP.GREEN,
            quotas=BENCH_QUOTAS,
        ))  # fmt: skip
    for sub in BENCH_SUBSCRIBERS:
        await store.put_subscription(sub)


def feed_figures(
    settings: Settings, stats: dict[str, int], mode: str, warmup_s: float | None = None
) -> dict[str, Any]:
    """Per subscriber: delivered counter, feed messages, distinct versions; and the feed latencies.

    With ``warmup_s`` the latencies of the reports submitted that long after the first one are also given
    apart (``after_warmup``): a run's first seconds can carry one-off costs that are not the steady state
    (the worker's first batches, cold caches; on Apache Kafka, before the partitions were pre-written, the
    broker's first index entries of every new partition: :mod:`pipeline.dev.bench_prewrite`)."""
    out: dict[str, Any] = {"delivered": {}, "feed_messages": {}, "feed_versions": {}}
    samples: list[tuple[int, float]] = []  # (submitted ms, latency ms)
    prefix = settings.topic_prefix
    for sub in BENCH_SUBSCRIBERS:
        feed = [
            (r.key, r.header_map(), r.timestamp_ms or 0) for r in read_to_end(settings, sub.topic(prefix))
        ]
        out["delivered"][sub.id] = stats.get(f"delivered:{sub.id}", 0)
        out["feed_messages"][sub.id] = len(feed)
        out["feed_versions"][sub.id] = len({(k, h.get(HEADER_VERSION)) for k, h, _ in feed})
        for _, h, ts in feed:
            if HEADER_SUBMITTED_MS in h:
                submitted = int(h[HEADER_SUBMITTED_MS])
                samples.append((submitted, max(0.0, ts - submitted)))
    out["latency_ms"] = feed_latency(samples, mode, warmup_s)
    return out


async def run_worker_through(
    settings: Settings,
    store: RedisStore,
    messages: Sequence[Submission],
    built: datetime,
    *,
    profile: cProfile.Profile | None,
    timeout_s: float,
    rate: float | None = None,
) -> tuple[float, dict[str, int], dict[str, float]]:
    """Start the worker in this process, send the burst, wait until done: (seconds, counters, CPU used)."""
    producer = build_producer(settings)
    # Connected, and every input topic's leaders known, before the clock starts.
    await_leaders(producer, bench_inputs(settings))
    worker = build_worker(settings, inputs=await registered_inputs(settings))
    app = worker.app
    loop = asyncio.get_running_loop()
    topics = settings.topics
    try:
        await app.start()
        await wait_until_assigned(app, [*bench_inputs(settings), topics.indicators], settings.partitions, 60)
        if profile is not None:
            profile.enable()
        cpu = CpuUse()
        if rate is None:
            first = await loop.run_in_executor(None, send_burst, producer, topics, messages, built)
        else:
            first = await loop.run_in_executor(None, send_paced, producer, topics, messages, built, rate)
        stats = await wait_done(store, len(messages), timeout_s)
        elapsed, used = time.time() - first, cpu.figures(len(messages))
        if profile is not None:
            profile.disable()
    finally:
        await app.stop()
        await worker.close()
    return elapsed, stats, used


async def run_pipeline_bench(
    settings: Settings,
    n: int,
    *,
    seed: int = 2026,
    profile: cProfile.Profile | None = None,
    timeout_s: float = 300.0,
    rate: float | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Run the benchmark (module docstring) against the broker and Redis of ``settings``; returns the
    figures as one JSON-able dict. ``profile`` is enabled while the worker processes the burst.

    With ``rate`` the reports are offered evenly at that many per second (steady state) instead of as one
    burst, and the passthrough loop is not run: the figure is the latency, not the capacity."""
    store = RedisStore.from_settings(settings)
    passthrough_topic, prewritten = await prepare(settings, store)
    built = datetime.now(UTC)
    messages = build_messages(synthetic_reports(n, seed=seed), built)
    progress(f"built {n} messages ({len({m.key for m in messages})} distinct indicators)")
    memory_before = await used_memory(store)
    pipeline_s, stats, cpu = await run_worker_through(
        settings, store, messages, built, profile=profile, timeout_s=timeout_s, rate=rate
    )
    progress(f"pipeline: {n} reports in {pipeline_s:.2f}s; reading feeds")
    memory = await redis_memory(store, settings.redis_key_prefix)
    memory_delta = await used_memory(store) - memory_before
    await delete_namespace(store, settings.redis_key_prefix)
    await store.close()
    loop = asyncio.get_running_loop()
    if rate is None:
        mode = "burst: all reports sent at once, so this is mostly queueing behind the burst"
    else:
        mode = f"steady: {rate:g} reports/s offered evenly for {n / rate:.1f} s"
    warmup = None if rate is None else warmup_seconds(n, rate)
    feeds = await loop.run_in_executor(None, feed_figures, settings, stats, mode, warmup)
    if rate is not None:
        return steady_figures(
            settings, n=n, rate=rate, pipeline_s=pipeline_s, feeds=feeds, stats=stats, cpu=cpu
        ) | {"prewritten": prewritten}
    progress("measuring the confluent-kafka passthrough loop on the same messages")
    passthrough_per_s = await loop.run_in_executor(
        None, passthrough, settings, bench_inputs(settings), passthrough_topic, n
    )
    indicators = stats.get("indicators", 0)
    pipeline_per_s = n / pipeline_s
    return {
        "reports": n,
        "worker": "in-process (faust app started in the benchmark process, like the demo)",
        "subscribers": len(BENCH_SUBSCRIBERS),
        "pipeline_per_s": round(pipeline_per_s, 1),
        "passthrough_per_s": round(passthrough_per_s, 1),
        "ratio": round(pipeline_per_s / passthrough_per_s, 3),
        "pipeline_s": round(pipeline_s, 3),
        "cpu": cpu,  # from the first send to the last version fanned out (pipeline/dev/cpu_use.py)
        "latency_ms": feeds.pop("latency_ms"),
        "counts": run_counts(n, stats, feeds),
        "prewritten": prewritten,
        "redis": {
            "bytes_per_indicator": memory.get("i", {}).get("avg_bytes", 0.0),
            "used_memory_delta_per_indicator": round(memory_delta / indicators, 1) if indicators else None,
            "keys": memory,
        },
    }


def run_counts(n: int, stats: dict[str, int], feeds: dict[str, Any]) -> dict[str, Any]:
    """A run's ``counts``: what was published, what ingest counted, and the feed figures."""
    return {
        "published": n,
        **{k: stats.get(k, 0) for k in ("accepted", "rejected", "allowlisted", "duplicates", "held")},
        "indicators": stats.get("indicators", 0),
        "versions": stats.get("versions", 0),
        **feeds,
    }


def steady_figures(
    settings: Settings,
    *,
    n: int,
    rate: float,
    pipeline_s: float,
    feeds: dict[str, Any],
    stats: dict[str, int],
    cpu: dict[str, float],
) -> dict[str, Any]:
    """The steady-state run's figures: offered and achieved rate, producer send → feed latency, counts, and
    the CPU used (a report costs more at a steady rate than in a burst: smaller batches)."""
    latency = feeds.pop("latency_ms")
    return {
        "reports": n,
        "mode": "steady",
        "offered_per_s": rate,
        "achieved_per_s": round(n / pipeline_s, 1),
        "subscribers": len(BENCH_SUBSCRIBERS),
        "latency_ms": latency,
        "p99_within_200ms": latency["p99"] <= TARGET_P99_MS,
        "p99_after_warmup_within_200ms": latency["after_warmup"]["p99"] <= TARGET_P99_MS,
        "settings": latency_settings(settings),
        "counts": run_counts(n, stats, feeds),
        "cpu": cpu,
    }
