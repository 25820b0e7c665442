"""The sightings step: subscribers' feedback (true positive, false positive, blocked) → score, revocation.

Each sighting is folded into its indicator's state exactly once (the same compare-and-set with a
"this sighting was applied" mark as reports). A new version is published when the score band changes or the
indicator is revoked — false positives from two or more distinct subscribers revoke it, and the revoked
version then reaches every past recipient through fan-out. Producers see the counts on the next version,
never which subscriber reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.processors.merge import apply_sighting
from pipeline.state.indicator import IndicatorState
from pipeline.state.store import Commit
from pipeline.stix.times import Clock, utc_now
from pipeline.wire.headers import dead_letter
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected
from pipeline.wire.sighting import ParsedSighting, parse_sighting
from pipeline.worker.contention import until_committed
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

#: Sighting ids share the store's "already applied" marks with submissions, in their own namespace.
MARK_PREFIX = "sighting:"


@dataclass
class SightingResult:
    applied: int = 0
    replayed: int = 0
    rejected: int = 0
    unknown: int = 0
    published: int = 0


@dataclass
class SightingStep:
    versions: VersionPublisher
    now: Clock = utc_now
    max_cas_retries: int = 20

    async def process(self, batch: Sequence[InMessage]) -> SightingResult:
        result = SightingResult()
        now = self.now()
        now_ms = int(now.timestamp() * 1000)
        store, emitter, topics = self.versions.store, self.versions.emitter, self.versions.topics
        rejects: list[tuple[InMessage, Rejected]] = []
        groups: dict[str, list[tuple[ParsedSighting, InMessage]]] = {}
        for msg in batch:
            parsed = parse_sighting(msg.value)
            if isinstance(parsed, Rejected):
                rejects.append((msg, parsed))
                emitter.send(topics.dlq, *dead_letter(msg, parsed, "sightings", now))
            else:
                groups.setdefault(parsed.indicator_id, []).append((parsed, msg))
        published: dict[str, IndicatorState] = {}
        await until_committed(
            groups,
            lambda pending: self._apply(pending, now_ms, result, published, rejects),
            max_tries=self.max_cas_retries,
            what="sightings",
        )
        await self.versions.send([(state, None) for state in published.values()], now_ms)
        result.published = len(published)
        await emitter.flush()
        for msg, rejected in rejects:
            counters = {"sightings_rejected": 1, f"sightings_rejected:{rejected.code}": 1}
            if await store.count_once(msg.source, counters):
                result.rejected += 1
            logger.info(
                "sighting rejected source=%s code=%s reason=%s", msg.source, rejected.code, rejected.reason
            )
        return result

    async def _apply(
        self,
        groups: dict[str, list[tuple[ParsedSighting, InMessage]]],
        now_ms: int,
        result: SightingResult,
        published: dict[str, IndicatorState],
        rejects: list[tuple[InMessage, Rejected]],
    ) -> dict[str, list[tuple[ParsedSighting, InMessage]]]:
        store, model = self.versions.store, self.versions.model
        ids = list(groups)
        everything = [s for i in ids for s, _ in groups[i]]
        seen = await store.seen_submissions([MARK_PREFIX + s.sighting_id for s in everything])
        seen_by_id = {s.sighting_id: mark for s, mark in zip(everything, seen, strict=True)}
        states = await store.load_states(ids)
        commits: list[Commit] = []
        planned: list[tuple[str, IndicatorState, bool]] = []
        for ind, (state, _) in zip(ids, states, strict=True):
            pairs = {s.sighting_id: (s, m) for s, m in groups[ind] if seen_by_id[s.sighting_id] is None}
            fresh = [s for s, _ in pairs.values()]
            result.replayed += len(groups[ind]) - len(fresh)
            if state is not None and any(seen_by_id[s.sighting_id] for s, _ in groups[ind]):
                published.setdefault(ind, state)  # a replay of a sighting that published: re-emit
            if state is None:
                # A sighting of an indicator this exchange never published: dead-lettered, not dropped.
                unknown = Rejected("unknown_indicator", f"no indicator {ind} in this exchange")
                for _, msg in pairs.values():
                    rejects.append((msg, unknown))
                    self.versions.emitter.send(
                        self.versions.topics.dlq, *dead_letter(msg, unknown, "sightings", self.now())
                    )
                result.unknown += len(fresh)
                continue
            if not fresh:
                continue
            current, material = state, False
            for s in fresh:
                outcome = apply_sighting(current, s.kind, s.count, model, now_ms, subscriber=s.subscriber)
                material = material or outcome.publish
                current = outcome.state
            if current.version > state.version + 1:
                current = replace(current, version=state.version + 1)
            counters = {"sightings": len(fresh)}
            for s in fresh:
                counters[f"sightings:{s.kind}"] = counters.get(f"sightings:{s.kind}", 0) + 1
            if material:
                counters["versions"] = 1
                if current.revoked and not state.revoked:
                    counters["revocations"] = 1
            commits.append(
                Commit(current, state.rev, [MARK_PREFIX + s.sighting_id for s in fresh], material, counters)
            )
            planned.append((ind, current, material))
        outcomes = await store.commit(commits)
        retry: dict[str, list[tuple[ParsedSighting, InMessage]]] = {}
        for (ind, current, material), ok, commit in zip(planned, outcomes, commits, strict=True):
            if not ok:
                retry[ind] = groups[ind]
                continue
            result.applied += len(commit.submission_ids)
            if material:
                published[ind] = current
        return retry
