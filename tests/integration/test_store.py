"""RedisStore against a real Redis: compare-and-set, per-submission dedup, exactly-once counters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.processors.merge import merge
from pipeline.processors.score import ScoreModel
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Commit, Delivery
from pipeline.state.subscription import Subscription
from tests.unit.processors.factories import T0, report

pytestmark = [pytest.mark.integration]


STATE = merge(None, report(), ScoreModel(), T0).state


async def test_state_round_trips_through_redis(store: RedisStore) -> None:
    assert await store.commit([Commit(STATE, None, ["s1"], True, {"accepted": 1})]) == [True]
    [(loaded, delivered)] = await store.load_states([STATE.indicator_id])
    assert loaded == STATE
    assert delivered == {}


async def test_compare_and_set_refuses_a_stale_revision(store: RedisStore) -> None:
    assert await store.commit([Commit(STATE, None, ["s1"], True, {"accepted": 1})]) == [True]
    # A second writer that also believed the indicator was new loses...
    assert await store.commit([Commit(STATE, None, ["s2"], True, {"accepted": 1})]) == [False]
    # ...and so does one that read an older revision; the one that read the current one wins.
    newer = replace(STATE, reports=2, rev=2)
    assert await store.commit([Commit(newer, 0, ["s3"], False, {"accepted": 1})]) == [False]
    assert await store.commit([Commit(newer, 1, ["s3"], False, {"accepted": 1})]) == [True]
    assert (await store.stats())["accepted"] == 2  # losers counted nothing
    assert await store.seen_submissions(["s1", "s2", "s3"]) == [True, None, False]


async def test_deliveries_are_marked_and_counted_once_per_version(store: RedisStore) -> None:
    await store.commit([Commit(STATE, None, ["s1"], True)])
    ind = STATE.indicator_id
    first = [Delivery(ind, "telco", 1, False), Delivery(ind, "bank", 1, False)]
    assert await store.mark_delivered(first) == [True, True]
    assert await store.mark_delivered(first) == [False, False]  # replay
    assert await store.mark_delivered([Delivery(ind, "telco", 2, True)]) == [True]
    stats = await store.stats()
    assert (stats["delivered:telco"], stats["delivered:bank"], stats["revocations_delivered"]) == (2, 1, 1)
    [(_, delivered)] = await store.load_states([ind])
    assert delivered == {"telco": 2, "bank": 1}


async def test_count_once_ignores_the_same_marker(store: RedisStore) -> None:
    assert await store.count_once("topic:0:7", {"rejected": 1, "rejected:not_json": 1}) is True
    assert await store.count_once("topic:0:7", {"rejected": 1, "rejected:not_json": 1}) is False
    assert await store.stats() == {"rejected": 1, "rejected:not_json": 1}


async def test_subscriptions_are_stored_and_each_change_bumps_the_revision(store: RedisStore) -> None:
    sub = Subscription(id="telco", name="Telco", sector="telecom", organisation="telco", types={"phone"})
    assert await store.subscriptions() == (0, [])
    await store.put_subscription(sub)
    rev, subs = await store.subscriptions()
    assert (rev, subs) == (1, [sub])
    assert await store.remove_subscription("telco") is True
    assert await store.subscriptions() == (2, [])
    assert await store.remove_subscription("telco") is False


async def test_load_delivered_reads_only_the_named_subscribers_marks(store: RedisStore) -> None:
    await store.commit([Commit(STATE, None, ["s1"], True)])
    ind = STATE.indicator_id
    await store.mark_delivered([Delivery(ind, "telco", 1, False), Delivery(ind, "bank", 1, False)])
    unknown = "indicator--00000000-0000-5000-8000-000000000000"
    assert await store.load_delivered([ind, unknown], ["telco", "police"]) == [{"telco": 1}, {}]
    assert await store.load_delivered([ind], []) == [{}]
