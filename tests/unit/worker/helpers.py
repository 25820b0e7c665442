"""What the step tests share: topics, a step on the in-memory store, and a store that loses races."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pipeline.config import Topics
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation
from pipeline.state.store import Commit, Store
from pipeline.wire.message import InMessage
from pipeline.worker.ingest import IngestStep
from pipeline.worker.registry import Registry
from tests.unit.processors.factories import NOW, in_messages

TOPICS = Topics("scam.")


class RacingStore(MemoryStore):
    """A MemoryStore on which the first ``losses`` commit calls lose every compare-and-set.

    Each lost call is what a concurrent writer causes: nothing is written, the step must re-read and retry.
    """

    def __init__(self, losses: int) -> None:
        super().__init__(now=lambda: NOW)
        self.losses = losses
        self.calls = 0

    async def commit(self, commits: Sequence[Commit]) -> list[bool]:
        self.calls += 1
        if self.losses > 0:
            self.losses -= 1
            return [False] * len(commits)
        return await super().commit(commits)


class AnyOrg(dict[str, Organisation]):
    """A registry view in which every id is a registered organisation (producer and subscriber, GREEN by
    default): for the step tests about merging, replay and contention. Identity has its own tests."""

    def get(self, key: str, default: object = None) -> Organisation:  # type: ignore[override]
        return Organisation(
            id=key, name=key, sector="other", roles={"producer", "subscriber"}, default_tlp="green"
        )


class OpenRegistry(Registry):
    async def current(self) -> Mapping[str, Organisation]:
        return AnyOrg()


def ingest(store: Store, emitter: ListEmitter, *, max_cas_retries: int = 20) -> IngestStep:
    return IngestStep(
        store, emitter, TOPICS, ScoreModel(default_trust=0.55), now=lambda: NOW,
        max_cas_retries=max_cas_retries,
        registry=OpenRegistry(store),
    )  # fmt: skip


def submission_messages(
    *values: bytes, start: int = 0, org: str | None = None, topics: Topics = TOPICS
) -> list[InMessage]:
    """Consumed submissions, each on its producer's own topic (``org``, else the envelope's producer)."""
    out = []
    for i, value in enumerate(values):
        producer = org
        if producer is None:
            try:
                doc = orjson.loads(value)
                producer = doc.get("producer") if isinstance(doc, dict) else None
            except orjson.JSONDecodeError:
                producer = None
        topic = topics.submissions_of(producer if isinstance(producer, str) and producer else "telco-a")
        out.extend(in_messages(topic, value, start=start + i))
    return out


class Step:
    """Processes a batch unless it holds the poison; records what it processed."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.processed: list[bytes] = []

    async def process(self, msgs: Sequence[InMessage]) -> int:
        if any(m.value == b"poison" for m in msgs):
            raise self.error
        self.processed.extend(m.value for m in msgs)
        return len(msgs)


class RecordingProducer:
    """The part of confluent-kafka's Producer erasure uses; every message acknowledged at once."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes | None]] = []

    def produce(self, topic: str, **kw: Any) -> None:
        self.messages.append((topic, kw["key"], kw["value"]))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0
