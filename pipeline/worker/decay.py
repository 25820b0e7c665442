"""The decay sweep: scores fall with age; a band change is published, and a score that decayed below the
revocation threshold revokes the indicator (its revoked version reaches every past recipient).

It walks the stored indicators a slice at a time (``batch`` keys per tick, the SCAN cursor kept in Redis) so
one tick stays short however many indicators there are, and a restart resumes the walk. Writes go through the
same compare-and-set as every other step, so a sweep racing a new report simply retries next walk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from pipeline.processors.score import ScoreModel, band
from pipeline.state.indicator import IndicatorState
from pipeline.state.store import Commit
from pipeline.stix.times import Clock, utc_now
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

CURSOR_MARKER = "decay-cursor"


@dataclass
class DecayResult:
    examined: int = 0
    rescored: int = 0
    revoked: int = 0
    walk_done: bool = False


def decayed(state: IndicatorState, model: ScoreModel, now_ms: int) -> IndicatorState | None:
    """The state's next version if decay changed something a subscriber acts on, else None. Pure."""
    if state.revoked or state.allowlisted or not state.reporters:
        return None
    score = model.score(state, now_ms)
    if score < model.revoke_below <= state.score:
        return replace(state, score=0, revoked=True, version=state.version + 1, rev=state.rev + 1)
    if band(score, model) != band(state.score, model):
        return replace(state, score=score, version=state.version + 1, rev=state.rev + 1)
    return None


@dataclass
class DecaySweep:
    versions: VersionPublisher
    batch: int = 1000
    now: Clock = utc_now

    async def tick(self) -> DecayResult:
        """Examine the next slice of indicators; publish what decay changed."""
        store, model = self.versions.store, self.versions.model
        now_ms = int(self.now().timestamp() * 1000)
        cursor = int(await store.get_marker(CURSOR_MARKER) or 0)
        next_cursor, states = await store.scan_states(cursor, self.batch)
        result = DecayResult(examined=len(states), walk_done=next_cursor == 0)
        commits: list[Commit] = []
        for state in states:
            new = decayed(state, model, now_ms)
            if new is None:
                continue
            counters = {"versions": 1, "decayed": 1} | ({"revocations": 1} if new.revoked else {})
            commits.append(Commit(new, state.rev, [], True, counters))
        outcomes = await store.commit(commits)
        changed = [c.state for c, ok in zip(commits, outcomes, strict=True) if ok]
        await self.versions.send([(s, None) for s in changed], now_ms)
        await self.versions.emitter.flush()
        result.rescored = len(changed)
        result.revoked = sum(s.revoked for s in changed)
        await store.set_marker(CURSOR_MARKER, str(next_cursor))
        if changed:
            logger.info("decay sweep: %d new version(s), %d revoked", len(changed), result.revoked)
        return result

    async def walk(self) -> DecayResult:
        """One whole walk (tests, operators): ticks until the cursor is back at 0."""
        total = DecayResult()
        while True:
            r = await self.tick()
            total.examined += r.examined
            total.rescored += r.rescored
            total.revoked += r.revoked
            if r.walk_done:
                total.walk_done = True
                return total
