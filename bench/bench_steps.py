"""CPU per report of the worker's two steps alone, without a broker, Redis or faust.

    python bench/bench_steps.py [--reports 10000] [--batch 500] [--rounds 3] [--profile out.pstats]

The same synthetic reports as ``scamshare bench pipeline`` (12 producers, ~30% repeats, every kind), consumed
from their producers' own topics in batches of ``--batch``, through the ingest step (validate, canonicalise,
merge, score, build and encode each version) and then the fan-out step (route each version to the
benchmark's 3 subscribers, a Kafka feed each plus their TAXII collections), on the in-memory store with
recording producers. What is left is the Python of the two steps: the figure to A/B a change to them,
because on a shared 2-core VM the broker-bound benchmarks vary run to run by more than such a change is worth.

Prints one JSON object: per step, microseconds of CPU (``time.process_time``) per report, the best and the
median of ``--rounds`` fresh rounds (a fresh store each), and the counts of the last round (versions,
deliveries) so that two runs can be checked to have done the same work. ``--profile`` writes cProfile stats
of one more round. Not what the worker costs end to end (no Redis round trips or reply parsing, no faust, no
librdkafka): ``scamshare bench pipeline`` gives that. Compare within one machine and hour.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pipeline.config import Topics
from pipeline.dev.bench import register_parties
from pipeline.dev.synthetic import build_messages, submission_topic, synthetic_reports
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.score import ScoreModel
from pipeline.producers.publisher import Submission
from pipeline.state.collections import MemoryCollections
from pipeline.state.memory_store import MemoryStore
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.taxii_channel import TaxiiCollectionChannel
from pipeline.wire.message import InMessage
from pipeline.worker.heap import freeze_start_up_heap
from pipeline.worker.ingest import IngestStep

TOPICS = Topics("bench.")


async def no_topics(_names: list[str]) -> None:
    return None


async def fresh_store() -> MemoryStore:
    """A store with the benchmark's organisations and subscriptions, as ``bench pipeline`` registers them."""
    store = MemoryStore()
    await register_parties(store)
    return store


def consumed(messages: Sequence[Submission]) -> list[InMessage]:
    """The submissions as the ingest agent gets them: each on its producer's topic, offsets in order."""
    out = []
    for i, m in enumerate(messages):
        topic = submission_topic(TOPICS, m)
        out.append(InMessage(topic, 0, i, m.key.encode(), m.value, dict(m.headers), timestamp_ms=None))
    return out


async def one_round(
    inputs: Sequence[InMessage], batch: int, profile: cProfile.Profile | None = None
) -> dict[str, float | int]:
    store = await fresh_store()
    produced = ListEmitter()
    ingest = IngestStep(store, produced, TOPICS, ScoreModel(default_trust=0.55))
    feeds = ListEmitter()
    deliver = DeliverStep(
        store, feeds, TOPICS, kafka_channels(feeds, TOPICS.prefix, no_topics),
        collections=TaxiiCollectionChannel(MemoryCollections()),
    )  # fmt: skip
    if profile is not None:
        profile.enable()
    start = time.process_time()
    for i in range(0, len(inputs), batch):
        await ingest.process(list(inputs[i : i + batch]))
    ingest_s = time.process_time() - start
    versions = [
        InMessage(TOPICS.indicators, 0, i, key, value, dict(headers))
        for i, (_, key, value, headers) in enumerate(produced.on(TOPICS.indicators))
    ]
    start = time.process_time()
    delivered = 0
    for i in range(0, len(versions), batch):
        delivered += await deliver.process(versions[i : i + batch])
    fanout_s = time.process_time() - start
    if profile is not None:
        profile.disable()
    n = len(inputs)
    return {
        "ingest_us": ingest_s / n * 1e6,
        "fanout_us": fanout_s / n * 1e6,
        "steps_us": (ingest_s + fanout_s) / n * 1e6,
        "versions": len(versions),
        "deliveries": delivered,
        "dead_letters": len(produced.on(TOPICS.dlq)),
    }


def summary(rounds: Sequence[dict[str, float | int]], key: str) -> dict[str, float]:
    values = [float(r[key]) for r in rounds]
    return {"best": round(min(values), 1), "median": round(statistics.median(values), 1)}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    built = datetime.now(UTC)
    inputs = consumed(build_messages(synthetic_reports(args.reports, seed=args.seed), built))
    await one_round(inputs[: args.batch], args.batch)  # load lazily-imported data (PSL, carriers, banks)
    freeze_start_up_heap()  # as the worker does once it runs (pipeline/worker/heap.py)
    rounds = [await one_round(inputs, args.batch) for _ in range(args.rounds)]
    if args.profile:
        profile = cProfile.Profile()
        await one_round(inputs, args.batch, profile)
        profile.dump_stats(args.profile)
    last = rounds[-1]
    return {
        "bench": "worker_steps",
        "reports": args.reports,
        "batch": args.batch,
        "rounds": args.rounds,
        "ingest_cpu_us_per_report": summary(rounds, "ingest_us"),
        "fanout_cpu_us_per_report": summary(rounds, "fanout_us"),
        "steps_cpu_us_per_report": summary(rounds, "steps_us"),
        "versions": last["versions"],
        "deliveries": last["deliveries"],
        "dead_letters": last["dead_letters"],
        "store": "memory (no Redis round trips), recording producers (no librdkafka), no faust",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", default=None, help="write cProfile stats of one more round here")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
