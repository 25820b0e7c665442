"""Keep Python's cyclic garbage collector off the worker's start-up heap.

A worker loads large, long-lived tables before its first message: the phone-number carrier and geocoder
data, the public-suffix trie, the allow-list, faust's and aiokafka's machinery. A full (generation 2)
collection walks every one of those objects; measured in ``scamshare bench pipeline`` (10,000 reports,
in-process worker) the six full collections inside the burst took 1.55 s of about 7.5 s. ``gc.freeze()``
after start-up moves what is alive then to the permanent generation, which collections skip: the same
window then spent 0.09–0.10 s in full collections. Reference counting still frees those objects; only cycles
among them wait until :func:`thaw` (the worker stopping) hands them back to the collector.

Frozen, the start-up heap no longer costs the collector anything, but the worker's own churn still did: with
Python's default thresholds (700, 10, 10) a 10,000-report burst ran about 2,700 young collections, 250
middle ones and 17 full ones (1.1-1.3 s in all, start-up and shutdown included), and at a steady 900
reports/s a full collection of what the run keeps (caches, views) came about every 1.5 s and stalled both
hops for 10-55 ms. :data:`YOUNG_THRESHOLD` collects the youngest generation every 10,000 allocations instead
of every 700: most of a batch's objects die by reference counting before it comes, fewer survive into the
older generations, and the same burst ran about 150 young, 14 middle and no full collections. Three
alternating pairs on tansu: 1,298 / 1,594 / 1,508 reports/s against 1,178 / 1,354 / 1,240 with the
defaults. A young collection now takes up to 12-18 ms, a middle one up to 30-44 ms.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import faust

logger = logging.getLogger(__name__)

#: allocations (net of frees) between two collections of the youngest generation while the heap is frozen
YOUNG_THRESHOLD = 10_000
_saved_thresholds: list[tuple[int, int, int]] = []


def freeze_start_up_heap() -> int:
    """Freeze what is alive now; returns how many objects are frozen.

    No ``gc.collect()`` first: on this heap it takes about 0.25 s, and the worker is consuming by then.
    Whatever start-up garbage is frozen with the rest waits for :func:`thaw`, once. The youngest
    generation's threshold becomes :data:`YOUNG_THRESHOLD` until then (module docstring)."""
    young, middle, old = gc.get_threshold()
    if not _saved_thresholds:
        _saved_thresholds.append((young, middle, old))
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (a stopped worker's cycles become collectable), and
    put the thresholds back as they were before :func:`freeze_start_up_heap`."""
    gc.unfreeze()
    if _saved_thresholds:
        gc.set_threshold(*_saved_thresholds.pop())


def install_heap_freeze(app: faust.App) -> None:
    """Freeze the heap once the app runs; the stopping app cancels the task, which thaws it again."""

    @app.task  # type: ignore[untyped-decorator]
    async def freeze_heap() -> None:
        logger.info("froze %d start-up objects out of the cyclic collector", freeze_start_up_heap())
        try:
            await asyncio.Event().wait()
        finally:
            thaw()
