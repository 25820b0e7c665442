"""Admission: each organisation's quotas, applied before its messages may change anything.

Reports count against ``reports_per_second`` (each report of a message) and ``new_indicators_per_hour`` (each
indicator of a message the exchange does not know yet); sightings against ``sightings_per_hour``. A message
that does not fit is *held* — stored whole in Redis (:mod:`pipeline.state.quotas`), counted
``held`` and ``held:<quota>`` (the quota that was full) or ``held:queued`` (queued behind the organisation's
held messages), and released in arrival order once a window has room (:meth:`Admission.release`
runs on the worker's timer), so an over-quota burst is delayed, never lost. Once an organisation holds more
than ``max_held`` messages, further ones go to the DLQ as ``over_quota`` (original bytes kept).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from pipeline.processors.validate import Report
from pipeline.state.org import Organisation
from pipeline.state.quotas import AdmitRequest, QuotaStore, limits_of
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

logger = logging.getLogger(__name__)

REPORT_QUOTAS = ("reports_per_second", "new_indicators_per_hour")
SIGHTING_QUOTAS = ("sightings_per_hour",)
MAX_HELD = 100_000


@dataclass
class Admitted:
    """Which of a batch's messages may be processed now; the rest were held or refused."""

    admitted: set[str] = field(default_factory=set)
    held: int = 0
    #: held while the organisation's queue was full: to the DLQ as over_quota
    overflow: list[tuple[InMessage, Rejected]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class Admission:
    quotas: QuotaStore
    max_held: int = MAX_HELD

    async def reports(
        self,
        items: Sequence[tuple[InMessage, Organisation, list[Report]]],
        *,
        known: AbstractSet[str],
        releasing: bool = False,
    ) -> Admitted:
        """Admit report messages; ``items`` are the valid ones, in arrival order.

        ``known``: the indicators of theirs the exchange has a state of (ingest's merge read, made before
        admission). Only organisations with a ``new_indicators_per_hour`` quota count new indicators."""
        known = set(known)  # grows as each message's new indicators are counted
        demands: list[dict[str, int]] = []
        for _, org, reports in items:
            counted = org.quotas.new_indicators_per_hour is not None
            new = {r.indicator_id for r in reports} - known if counted else set()
            known |= new
            demands.append({"reports_per_second": len(reports), "new_indicators_per_hour": len(new)})
        return await self._admit([(m, o) for m, o, _ in items], demands, REPORT_QUOTAS, releasing)

    async def sightings(
        self, items: Sequence[tuple[InMessage, Organisation]], *, releasing: bool = False
    ) -> Admitted:
        return await self._admit(
            items, [{"sightings_per_hour": 1} for _ in items], SIGHTING_QUOTAS, releasing
        )

    async def _admit(
        self,
        items: Sequence[tuple[InMessage, Organisation]],
        demands: Sequence[dict[str, int]],
        names: Sequence[str],
        releasing: bool,
    ) -> Admitted:
        out = Admitted()
        by_org: dict[str, list[int]] = {}
        orgs: dict[str, Organisation] = {}
        for index, (_, org) in enumerate(items):
            by_org.setdefault(org.id, []).append(index)
            orgs[org.id] = org
        # Every organisation's quotas at once: one round trip for the batch, not one per organisation.
        verdicts = await self.quotas.admit_all(
            [
                AdmitRequest(o, limits_of(orgs[o], names), [demands[i] for i in ix])
                for o, ix in by_org.items()
            ],
            releasing=releasing,
        )
        for (org_id, indexes), verdict in zip(by_org.items(), verdicts, strict=True):
            out.admitted.update(items[i][0].source for i in indexes[: verdict.admitted])
            rest = [items[i][0] for i in indexes[verdict.admitted :]]
            if not rest or releasing:
                continue  # released messages that still do not fit simply stay held
            room = self.max_held - await self.quotas.held_count(org_id)
            keep, overflow = rest[: max(0, room)], rest[max(0, room) :]
            fresh = sum(await self.quotas.hold(org_id, keep))
            full = f"the organisation's quota is used up and {self.max_held} messages are held"
            out.overflow.extend((msg, Rejected("over_quota", full, org_id)) for msg in overflow)
            out.held += len(keep)
            if fresh:
                # "queued": behind the organisation's held messages, which a full window held first.
                why = "queued" if verdict.limit in (None, "held") else verdict.limit
                out.counters["held"] = out.counters.get("held", 0) + fresh
                out.counters[f"held:{why}"] = out.counters.get(f"held:{why}", 0) + fresh
                logger.info("held org=%s messages=%d quota=%s", org_id, fresh, why)
        return out

    async def release(
        self, process: Callable[[list[InMessage]], Awaitable[set[str]]], *, batch: int = 500
    ) -> int:
        """Offer every organisation's oldest held messages to ``process`` (which returns the sources it
        admitted and processed); forget those. Returns how many were released."""
        released = 0
        for org in await self.quotas.held_orgs():
            held = await self.quotas.held(org, batch)
            if not held:
                await self.quotas.release(org, [])
                continue
            done = await process(held)
            await self.quotas.release(org, sorted(done))
            released += len(done)
        return released
