"""The compare-and-set retry loop the stateful steps share (ingest merges, sightings).

Losing the race is normal under concurrency (two workers during a rebalance, decay racing a report): the
loser re-reads and tries again after a short, jittered pause. Losing it ``max_tries`` times in a row is
still transient, not a defect of one message, so it raises :class:`~pipeline.errors.ContentionError`, which
the agent loop retries as an infrastructure failure instead of bisecting the batch into the DLQ.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pipeline.errors import ContentionError

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


async def until_committed(
    pending: dict[K, V],
    attempt: Callable[[dict[K, V]], Awaitable[dict[K, V]]],
    *,
    max_tries: int,
    what: str,
    pause_s: float = 0.005,
) -> None:
    """Call ``attempt`` on what is still pending (it returns what lost the race) until nothing is left."""
    for tries in range(max_tries):
        if not pending:
            return
        if tries:
            await asyncio.sleep(random.uniform(0, pause_s * 2 ** min(tries, 6)))
        pending = await attempt(pending)
    if pending:
        raise ContentionError(f"could not commit {what} of {len(pending)} indicator(s) in {max_tries} tries")
