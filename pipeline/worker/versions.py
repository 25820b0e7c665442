"""Publishing versions of indicators to ``scam.indicators``, with their enrichment (cached in Redis).

Shared by the steps that can change an indicator: ingest (reports), sightings, and the decay sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.canon import Canonical
from pipeline.config import Topics, default
from pipeline.kafka.emit import Emitter
from pipeline.processors.enrich import Enricher, enrich
from pipeline.processors.output import build_record, canonical_of
from pipeline.processors.record_wire import HEADER_ROUTING, encode_record
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.state.store import Store
from pipeline.wire.headers import HEADER_SUBMITTED_MS
from pipeline.worker.online import Guarded

ENRICHMENT_TTL_S: int = default("enrichment_ttl_s")


@dataclass
class VersionPublisher:
    store: Store
    emitter: Emitter
    topics: Topics
    model: ScoreModel
    enrichers: Sequence[Enricher] = ()
    online: Sequence[Guarded] = ()
    enrichment_ttl_s: int = ENRICHMENT_TTL_S

    async def send(
        self,
        published: Sequence[tuple[IndicatorState, int | None]],
        now_ms: int,
        known: Mapping[str, Canonical] | None = None,
    ) -> None:
        """Queue each state's current version; the caller flushes. The int is the producer send time.

        ``known``: the Canonical of some indicators by id, when the caller has it (ingest: from the report);
        the others are canonicalised again from the stored value (canonicalisation is idempotent)."""
        have = known or {}
        canonicals = [have.get(state.indicator_id) or canonical_of(state) for state, _ in published]
        enrichment = await self.enrichment(canonicals)
        for (state, submitted_ms), c in zip(published, canonicals, strict=True):
            record = build_record(state, c, self.model, now_ms, enrichment[c.sco_id])
            value, routing = encode_record(record)
            headers = [(HEADER_ROUTING, routing)]
            if submitted_ms is not None:
                headers.append((HEADER_SUBMITTED_MS, str(submitted_ms).encode()))
            self.emitter.send(self.topics.indicators, state.indicator_id.encode(), value, headers)

    async def enrichment(self, canonicals: list[Canonical]) -> dict[str, dict[str, Any]]:
        """Enrichment per SCO id.

        Offline enrichment is deterministic and costs tens of microseconds: it is computed here (the
        canonicalisers' own caches make repeats cheap). A Redis round trip costs more than that, so only
        online results (slow, fallible lookups) are cached in Redis, for ``enrichment_ttl_s``.
        """
        out = {c.sco_id: (enrich(c, self.enrichers) if self.enrichers else dict(c.facts)) for c in canonicals}
        if not self.online:
            return out
        keys = list(out)
        cached = dict(zip(keys, await self.store.cached(keys), strict=True))
        fresh: dict[str, dict[str, Any]] = {}
        for c in canonicals:
            hit = cached.get(c.sco_id) or fresh.get(c.sco_id)
            if hit is None:
                hit = fresh[c.sco_id] = {}
                for guarded in self.online:  # timeouts and circuit breakers inside; never raises
                    hit.update(await guarded(c))
            out[c.sco_id].update(hit)
        await self.store.cache(fresh, self.enrichment_ttl_s)
        return out
