"""The main job, end to end: publish the bundled sample set, run the processors, read every feed, report.

``run_demo(settings)`` expects a broker and Redis at ``settings`` (the CLI starts the embedded stack when
none is configured). It registers the sample organisations, creates the topics (each organisation's own
``scam.submissions.<org>``), loads the sample subscribers, starts the faust worker in this
process, publishes four producers' reports (CSV, JSON Lines, MISP, STIX) plus a buggy producer's malformed
messages, waits until every report is accepted or rejected and every version fanned out, reads each
subscriber's feed (end-to-end latency = feed message time − producer send time), and returns a summary.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from pipeline.config import Settings
from pipeline.dev.demo_gateway import GatewayDemo, demo_gateway
from pipeline.dev.latency import latency_figures
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import (
    TopicSpec,
    ensure_topics,
    feed_topic_spec,
    input_topic_spec,
    leader_topic_spec,
    pipeline_topics,
)
from pipeline.ops.lag import GroupLag, group_lag
from pipeline.producers.publisher import Publisher
from pipeline.producers.readers import load_source, read_source
from pipeline.producers.records import Accepted, file_submission_id, split_rejected, to_canonical_report
from pipeline.state.org import Organisation, load_orgs_file, own_topics
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from pipeline.subscribers.consumer import subscriber_group
from pipeline.wire.headers import HEADER_SUBMITTED_MS
from pipeline.worker.app import build_worker, wait_until_assigned
from pipeline.worker.inputs import registered_inputs

logger = logging.getLogger(__name__)

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
#: (file, producer id, what kind of organisation)
SAMPLE_FILES: tuple[tuple[str, str, str], ...] = (
    ("telco-th.csv", "telco-th", "telecom"),
    ("bank-sg.jsonl", "bank-sg", "bank"),
    ("platform-socialnet.misp.json", "platform-socialnet", "platform"),
    ("police-au.stix.json", "police-au", "police"),
)
MALFORMED_FILE = "malformed.jsonl"
SUBSCRIBERS_FILE = "subscribers.yaml"
ORGS_FILE = "orgs.yaml"


@dataclass
class DemoSummary:
    published: int = 0
    received: int = 0
    accepted: int = 0
    allowlisted: int = 0
    rejected: int = 0
    rejected_at_source: int = 0
    duplicates: int = 0
    unique_indicators: int = 0
    versions: int = 0
    delivered: dict[str, int] = field(default_factory=dict)
    feed_messages: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    producers: dict[str, int] = field(default_factory=dict)
    lag: list[GroupLag] = field(default_factory=list)
    namespace: str = ""
    elapsed_s: float = 0.0
    gateway: GatewayDemo = field(default_factory=GatewayDemo)

    def count(self, stats: dict[str, int], subs: list[Subscription]) -> None:
        """Fill the counts from the pipeline's counters."""
        self.accepted = stats.get("accepted", 0)
        self.rejected = stats.get("rejected", 0)
        self.allowlisted = stats.get("allowlisted", 0)
        self.received = self.accepted + self.rejected + self.allowlisted
        self.duplicates = stats.get("duplicates", 0)
        self.unique_indicators = stats.get("indicators", 0)
        self.versions = stats.get("versions", 0)
        self.rejected_by_reason = {
            k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("rejected:")
        }
        self.delivered = {s.id: stats.get(f"delivered:{s.id}", 0) for s in subs}

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "allowlisted": self.allowlisted,
            "rejected": self.rejected,
            "rejected_by_reason": self.rejected_by_reason,
            "rejected_at_source": self.rejected_at_source,
            "duplicates": self.duplicates,
            "unique_indicators": self.unique_indicators,
            "versions": self.versions,
            "delivered": self.delivered,
            "latency_ms": self.latency_ms,
            "producers": self.producers,
            "published": self.published,
            "lag": [
                {
                    "group": g.group,
                    "lag": g.lag,
                    "partitions": [
                        {
                            "topic": p.topic,
                            "partition": p.partition,
                            "committed": p.committed,
                            "end": p.end,
                            "lag": p.lag,
                        }
                        for p in g.partitions
                    ],
                }
                for g in self.lag
            ],
            "namespace": self.namespace,
            "gateway": self.gateway.to_json(),
            "elapsed_s": round(self.elapsed_s, 2),
        }


def load_subscriptions(path: Path) -> list[Subscription]:
    doc = yaml.safe_load(path.read_text())
    return [Subscription.model_validate(item) for item in doc["subscribers"]]


def demo_topics(settings: Settings, orgs: list[Organisation], subs: list[Subscription]) -> list[TopicSpec]:
    """The pipeline's topics, every subscriber's feed and every organisation's own input topics."""
    own = [name for org in orgs for name in own_topics(org, settings.topics)]
    feeds = [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in subs]
    own_specs = [input_topic_spec(settings, name) for name in own]
    return [*pipeline_topics(settings), leader_topic_spec(settings), *feeds, *own_specs]


async def register(store: RedisStore, orgs: list[Organisation], subs: list[Subscription]) -> None:
    for org in orgs:
        await store.put_organisation(org)
    for sub in subs:
        await store.put_subscription(sub)


def publish_samples(settings: Settings, samples: Path, summary: DemoSummary, producer: Producer) -> int:
    """Publish every sample file as its producer; returns how many messages reached the broker.

    All publishers share one long-lived client, as a real producer would keep one open: a new idempotent
    producer first waits for its producer id, which would show up as end-to-end latency.
    """
    sent = 0
    for name, producer_id, _org in SAMPLE_FILES:
        source = load_source(str(samples / name))
        reports, rejected, _skipped = split_rejected(read_source(source))
        summary.rejected_at_source += len(rejected)
        count = 0
        with Publisher(settings, producer_id=producer_id, producer=producer) as pub:
            for report in reports:
                outcome = to_canonical_report(report)
                if not isinstance(outcome, Accepted):
                    summary.rejected_at_source += 1
                    continue
                sid = file_submission_id(producer_id, source.sha256, report.location)
                pub.publish(outcome.canonical, outcome.report, submission_id=sid)
                count += 1
        summary.producers[producer_id] = count
        sent += count
    # A buggy producer: raw lines, sent as they are, so the pipeline must reject them to the DLQ.
    lines = [line for line in (samples / MALFORMED_FILE).read_bytes().splitlines() if line.strip()]
    with Publisher(settings, producer_id="buggy-producer", producer=producer) as pub:
        for line in lines:
            pub.publish_raw(None, line, [(HEADER_SUBMITTED_MS, str(int(time.time() * 1000)).encode())])
    summary.producers["buggy-producer"] = len(lines)
    return sent + len(lines)


def read_feed(settings: Settings, sub: Subscription, timeout_s: float = 20.0) -> tuple[int, list[float]]:
    """Read a subscriber's whole feed as that subscriber would (own group, commit after reading)."""
    records = read_to_end(
        settings,
        sub.topic(settings.topic_prefix),
        timeout_s=timeout_s,
        group=subscriber_group(settings, sub.id),
    )
    latencies: list[float] = []
    for record in records:
        sent_ms = record.header_map().get(HEADER_SUBMITTED_MS)
        if sent_ms is not None and record.timestamp_ms is not None:
            latencies.append(max(0.0, record.timestamp_ms - int(sent_ms)))
    return len(records), latencies


async def wait_until_processed(
    settings: Settings,
    store: RedisStore,
    expected: int,
    timeout_s: float,
    progress: Callable[[str], None],
    *,
    inputs: list[str],
) -> dict[str, int]:
    """Wait until every message is accepted or rejected (exact counters in Redis) and the processors'
    committed offsets reached the end of both of their topics (so every version was fanned out)."""
    deadline = time.monotonic() + timeout_s
    last_note = ""
    admin = build_admin(settings)
    topics = [settings.topics.indicators, *inputs]
    loop = asyncio.get_running_loop()
    while True:
        stats = await store.stats()
        done = stats.get("accepted", 0) + stats.get("rejected", 0) + stats.get("allowlisted", 0)
        fanned = stats.get("fanout_records", 0)
        note = f"processed {done}/{expected}, fanned out {fanned}/{stats.get('versions', 0)} versions"
        if note != last_note:
            progress(note)
            last_note = note
        if done >= expected and fanned >= stats.get("versions", 0):
            lag = await loop.run_in_executor(
                None, group_lag, settings, admin, settings.app_id, topics, "fetch"
            )
            if lag.lag == 0:
                return await store.stats()
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo timed out after {timeout_s:.0f}s: {note}")
        await asyncio.sleep(0.2)


def demo_lag(settings: Settings, admin: Any, inputs: list[str], subs: list[Subscription]) -> list[GroupLag]:
    """The worker's group on its inputs, then each subscriber's group on its feed."""
    lag = [group_lag(settings, admin, settings.app_id, inputs, "fetch")]
    for s in subs:
        lag.append(
            group_lag(
                settings, admin, subscriber_group(settings, s.id), [s.topic(settings.topic_prefix)], "fetch"
            )
        )
    return lag


async def run_demo(
    settings: Settings,
    *,
    samples: Path = SAMPLES,
    timeout_s: float = 90.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> DemoSummary:
    """Run the whole path once against ``settings`` and return the summary (see the module docstring)."""
    started = time.monotonic()
    summary = DemoSummary(namespace=settings.topic_prefix)
    subs = load_subscriptions(samples / SUBSCRIBERS_FILE)
    orgs = load_orgs_file(samples / ORGS_FILE)
    admin = build_admin(settings)
    own_topics = [settings.topics.submissions_of(o.id) for o in orgs if o.produces] + [
        settings.topics.sightings_of(o.id) for o in orgs if o.subscribes
    ]
    specs = (
        pipeline_topics(settings)
        + [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in subs]
        + [input_topic_spec(settings, name) for name in own_topics]
    )
    ensure_topics(admin, specs)
    progress(f"topics ready ({len(specs)})")
    store = RedisStore.from_settings(settings)
    await register(store, orgs, subs)
    producer = build_producer(settings)  # connects and gets its producer id while the worker starts
    worker = build_worker(settings, inputs=await registered_inputs(settings))
    app = worker.app
    try:
        await app.start()
        topics = settings.topics
        inputs = [topics.submissions_of(o.id) for o in orgs if o.produces]
        await wait_until_assigned(app, [*inputs, topics.indicators], settings.partitions, timeout_s)
        progress("worker started and owns its partitions")
        loop = asyncio.get_running_loop()
        expected = await loop.run_in_executor(None, publish_samples, settings, samples, summary, producer)
        summary.published = expected
        progress(f"published {expected} messages from {len(summary.producers)} producers")
        stats = await wait_until_processed(settings, store, expected, timeout_s, progress, inputs=inputs)
    finally:
        await app.stop()
        await worker.close()
    summary.count(stats, subs)
    all_latencies: list[float] = []
    for sub in subs:
        count, latencies = await loop.run_in_executor(None, read_feed, settings, sub)
        summary.feed_messages[sub.id] = count
        all_latencies.extend(latencies)
    summary.latency_ms = latency_figures(all_latencies) | {
        "mean": round(statistics.fmean(all_latencies), 1) if all_latencies else 0.0,
    }
    summary.lag = demo_lag(settings, admin, [*inputs, topics.indicators], subs)
    summary.gateway = await demo_gateway(settings, store, subs)
    progress("asked the gateway: one lookup and a TAXII page count per subscriber")
    await store.close()
    summary.elapsed_s = time.monotonic() - started
    return summary
