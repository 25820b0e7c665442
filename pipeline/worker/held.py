"""Releasing held messages: each organisation's oldest first, to the step its topic belongs to.

Runs on the worker's timer. A released message goes through admission again (``releasing=True``): what
still does not fit stays held, in order; what fits is processed like any message (idempotently: a message
released twice after a crash is recognised by its submission or sighting mark) and then forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust

from pipeline.wire.message import InMessage
from pipeline.worker.admission import Admission
from pipeline.worker.ingest import IngestStep
from pipeline.worker.runtime import Runtime
from pipeline.worker.sightings import SightingStep

logger = logging.getLogger(__name__)

#: how often the leader offers held messages again
RELEASE_INTERVAL_S = 1.0


async def release_held(admission: Admission, ingest: IngestStep, sightings: SightingStep) -> int:
    """Offer the held messages again as far as the quotas allow; returns how many went through."""
    prefix = ingest.topics.sightings

    async def offer(messages: list[InMessage]) -> set[str]:
        sighted = [m for m in messages if m.topic == prefix or m.topic.startswith(prefix + ".")]
        reports = [m for m in messages if m not in sighted]
        done: set[str] = set()
        if reports:
            done |= (await ingest.process(reports, releasing=True)).admitted
        if sighted:
            done |= (await sightings.process(sighted, releasing=True)).admitted
        return done

    released = await admission.release(offer)
    if released:
        await ingest.store.incr({"released": released})
    return released


def install_release_timer(
    app: faust.App, runtime: Runtime, *, retried: Callable[[BaseException], bool]
) -> None:
    """A leader-only timer: one worker offers the held (over-quota) messages again, oldest first."""
    steps: list[tuple[IngestStep, SightingStep]] = []

    @app.timer(interval=RELEASE_INTERVAL_S, on_leader=True)  # type: ignore[untyped-decorator]
    async def release() -> Any:
        admission = runtime.admission()
        if admission is None:
            return
        if not steps:
            sightings = SightingStep(runtime.versions(), registry=runtime.registry(), admission=admission)
            steps.append((runtime.ingest_step(), sightings))
        try:
            await release_held(admission, *steps[0])
        except Exception as exc:
            if not retried(exc):
                raise
            logger.warning("releasing held messages failed, the next tick retries: %r", exc)
