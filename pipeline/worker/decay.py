"""The decay sweep: scores fall with age; a band change is published, and a view with no report for two
half-lives expires (its expired version reaches every past recipient; a new report brings it back).

It walks the stored indicators a slice at a time (``batch`` keys per tick, the SCAN cursor kept in Redis) so
one tick stays short however many indicators there are, and a restart resumes the walk. Writes go through the
same compare-and-set as every other step, so a sweep racing a new report simply retries next walk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline.processors.merge import finish
from pipeline.processors.score import ScoreModel
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
    walk_done: bool = False


def decayed(state: IndicatorState, model: ScoreModel, now_ms: int) -> IndicatorState | None:
    """The state's next version if decay changed some audience's view (a band, or expiry), else None. Pure."""
    if state.revoked or state.allowlisted or not state.reporters:
        return None
    outcome = finish(state, state, model, now_ms)
    return outcome.state if outcome.publish else None


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
            counters = {"versions": 1, "decayed": 1}
            expire = model.expires_at_ms(new.kind, new.last_ms, now_ms)
            commits.append(Commit(new, state.rev, [], True, counters, expire_at_ms=expire))
        outcomes = await store.commit(commits)
        changed = [c.state for c, ok in zip(commits, outcomes, strict=True) if ok]
        await self.versions.send([(s, None) for s in changed], now_ms)
        await self.versions.emitter.flush()
        result.rescored = len(changed)
        await store.set_marker(CURSOR_MARKER, str(next_cursor))
        if changed:
            logger.info("decay sweep: %d new version(s)", len(changed))
        return result

    async def walk(self) -> DecayResult:
        """One whole walk (tests, operators): ticks until the cursor is back at 0."""
        total = DecayResult()
        while True:
            r = await self.tick()
            total.examined += r.examined
            total.rescored += r.rescored
            if r.walk_done:
                total.walk_done = True
                return total
