"""What the step tests share: topics, a step on the in-memory store, and a store that loses races."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.config import Topics
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.state.store import Commit, Store
from pipeline.wire.message import InMessage
from pipeline.worker.ingest import IngestStep
from tests.unit.processors.factories import NOW

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


def ingest(store: Store, emitter: ListEmitter, *, max_cas_retries: int = 20) -> IngestStep:
    return IngestStep(store, emitter, TOPICS, ScoreModel(), now=lambda: NOW, max_cas_retries=max_cas_retries)


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
