"""When a benchmark run is done: polling the counters the worker keeps in Redis, as lightly as will do.

The poll runs in the benchmark's process, and for ``bench pipeline`` that is the worker's process and event
loop, so what it costs is charged to the worker it measures. :func:`wait_done` therefore polls often only
near the end: while reports are still coming in it sleeps an eighth of the time the rate so far says is
left (at most :data:`MAX_POLL_S`), and once every report is in, every ``poll_s``. The end is still seen
within ``poll_s`` unless the rate suddenly grows eightfold. A 10,000-report burst of about 5 s at a steady
rate is then polled about 41 times instead of about 250.
"""

from __future__ import annotations

import asyncio
import time

from pipeline.state.redis_batch import Batch
from pipeline.state.redis_store import RedisStore

__all__ = ["DONE_COUNTERS", "MAX_POLL_S", "done_counters", "next_poll_s", "wait_done"]

#: The longest sleep between two polls.
MAX_POLL_S = 0.25

#: The counters :func:`wait_done` polls (summed over the shards' hashes).
DONE_COUNTERS = ("accepted", "rejected", "allowlisted", "fanout_records", "versions")


async def done_counters(store: RedisStore) -> dict[str, int]:
    """Just the counters that say whether the run is done: one HMGET per counters hash, not the whole
    :meth:`RedisStore.stats` (65 HGETALLs, every field parsed), which polled every 20 ms took about a
    tenth of the benchmark process's CPU away from the worker it measures."""
    batch = Batch(store.client)
    for key in store.stats_keys():
        batch.call("hmget", key, *DONE_COUNTERS)
    out = dict.fromkeys(DONE_COUNTERS, 0)
    for values in await batch.run():
        for name, v in zip(DONE_COUNTERS, values, strict=True):
            if v is not None:
                out[name] += int(v)
    return out


async def wait_done(store: RedisStore, n: int, timeout_s: float, poll_s: float = 0.02) -> dict[str, int]:
    """Poll the counters until ``n`` messages are accepted, rejected or allowlisted and fan-out has read
    every version; returns all the counters at that moment."""
    start = time.monotonic()
    deadline = start + timeout_s
    while True:
        done = await done_counters(store)
        received = done["accepted"] + done["rejected"] + done["allowlisted"]
        if received >= n and done["fanout_records"] >= done["versions"]:
            return await store.stats()
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"benchmark not processed after {timeout_s:.0f}s: {await store.stats()}")
        await asyncio.sleep(next_poll_s(received, n, now - start, poll_s))


def next_poll_s(received: int, n: int, elapsed_s: float, poll_s: float) -> float:
    """How long to sleep before the next poll: an eighth of the time left at the rate so far, between
    ``poll_s`` and :data:`MAX_POLL_S`; ``poll_s`` once all ``n`` are in or before any is."""
    if received >= n or received <= 0 or elapsed_s <= 0:
        return poll_s
    left_s = (n - received) * elapsed_s / received
    return min(MAX_POLL_S, max(poll_s, left_s / 8))
