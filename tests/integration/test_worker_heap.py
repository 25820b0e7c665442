"""A started worker freezes its start-up heap out of the cyclic collector; a stopped one thaws it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from pipeline.config import Settings
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.worker.app import build_worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_a_running_worker_keeps_its_start_up_heap_frozen_until_it_stops(settings: Settings) -> None:
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    gc.unfreeze()
    worker = build_worker(settings)
    loop = asyncio.get_running_loop()
    try:
        await worker.app.start()
        deadline = loop.time() + 30
        while gc.get_freeze_count() == 0 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 10_000  # the phone tables alone are more than this
    finally:
        await worker.app.stop()
        await worker.close()
    assert gc.get_freeze_count() == 0
