"""Quotas through a real worker, broker and Redis: a burst over reports_per_second is held, then released."""

from __future__ import annotations

import asyncio
import time

import pytest

from pipeline.config import Settings
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.producers.publisher import Publisher
from pipeline.state.redis_store import RedisStore
from tests.integration.helpers import UNLIMITED, canon, enrol, running_worker, wait_processed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_a_burst_over_reports_per_second_is_held_then_released_in_full(
    settings: Settings, redis_client: object
) -> None:
    """Before: no quotas at all. Now 8 reports at 2 a second are all accepted, in about 4 s, none lost."""
    enrol(settings, "burst-org", quotas={**UNLIMITED, "reports_per_second": 2})
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    with running_worker(settings) as worker:
        with Publisher(settings, producer_id="burst-org", producer=build_producer(settings)) as pub:
            for n in range(8):
                pub.publish(canon("phone", f"+6681234{n:04d}"), confidence=60)
        stats = await wait_processed(settings, store, 8, worker, timeout_s=120)
        # The leader released the held ones; wait until its counter says all of them.
        deadline = time.monotonic() + 30
        while stats.get("released", 0) < stats.get("held", 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            stats = await store.stats()
    await store.close()
    assert stats["accepted"] == 8 and stats.get("rejected", 0) == 0
    # A burst read in one batch is held by the full window; one read in two batches has messages that
    # queued behind the held ones (``held:queued``). This assertion, once ``held:reports_per_second ==
    # held``, was the failure seen in about 1 run in 6.
    assert stats["held"] >= 1 and stats["held:reports_per_second"] >= 1
    assert stats["held:reports_per_second"] + stats.get("held:queued", 0) == stats["held"]
    assert stats["released"] == stats["held"]
