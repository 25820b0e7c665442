"""The worker's start-up heap is frozen out of the cyclic collector, and thawed again."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pipeline.worker.heap import YOUNG_THRESHOLD, freeze_start_up_heap, thaw


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    before = gc.get_threshold()
    gc.unfreeze()
    yield
    thaw()
    gc.unfreeze()
    gc.set_threshold(*before)


def collected_ids() -> set[int]:
    """The objects a full collection walks (frozen ones are in no generation)."""
    return {id(o) for o in gc.get_objects()}


def test_freezing_moves_what_is_alive_out_of_the_collector_and_thawing_gives_it_back() -> None:
    kept = [[i] for i in range(1000)]  # alive, tracked by the collector
    frozen = freeze_start_up_heap()
    assert frozen == gc.get_freeze_count() >= len(kept)
    assert id(kept) not in collected_ids()
    thaw()
    assert gc.get_freeze_count() == 0
    assert id(kept) in collected_ids()


def test_a_cycle_frozen_with_the_heap_is_collected_once_thawed() -> None:
    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    freeze_start_up_heap()
    del a, b
    gc.collect()
    assert alive() is not None  # frozen: the collector does not see the cycle
    thaw()
    gc.collect()
    assert alive() is None


def test_the_young_threshold_is_raised_while_frozen_and_restored_on_thaw() -> None:
    gc.set_threshold(700, 10, 10)
    freeze_start_up_heap()
    freeze_start_up_heap()  # a second freeze must not forget the thresholds from before the first
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    thaw()
    assert gc.get_threshold() == (700, 10, 10)
