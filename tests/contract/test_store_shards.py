"""Batches that span many shards, on both stores and on a 3-primary Redis Cluster.

On a cluster a command or script whose keys lie in different slots is refused (CROSSSLOT): the layout's
shard tags (pipeline/state/redis_keys) keep each script in one slot, and the store splits a batch by shard.
The earlier layout — one global ``stats`` hash in every script, untagged state keys — fails every test here
on the cluster.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from redis.crc import key_slot

from pipeline.dev.bench_done import DONE_COUNTERS, done_counters
from pipeline.state.indicator import IndicatorState
from pipeline.state.memory_store import MemoryStore
from pipeline.state.redis_keys import SHARDS, UNSPLIT_MAX, script_groups, shard_tag
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Commit, Delivery, Store
from tests.contract.test_store_contract import STATE
from tests.unit.processors.factories import SteppedClock

N = 400  # indicators: every one of the 64 shards, so every primary of the cluster


def spread(n: int) -> list[IndicatorState]:
    """``n`` distinct states whose ids are uuid5s (like the exchange's), so they fall in every shard."""
    return [
        replace(
            STATE, indicator_id=f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'x{i}')}", value=f"+6681{i:07d}"
        )
        for i in range(n)
    ]


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("cluster", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryStore(now=SteppedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC)))
    found: RedisStore = request.getfixturevalue(
        "cluster_store" if request.param == "cluster" else "redis_store"
    )
    return found


def test_the_states_spread_over_every_shard() -> None:
    assert len({shard_tag(s.indicator_id) for s in spread(N)}) == SHARDS


async def test_a_batch_across_every_shard_commits_counts_and_reads_back(store: Store) -> None:
    states = spread(N)
    commits = [Commit(s, None, [f"r{i}", f"sighting:telco:{s.indicator_id}:blocked"], True, {"accepted": 1})
               for i, s in enumerate(states)]  # fmt: skip
    assert await store.commit(commits) == [True] * N
    assert await store.commit(commits[:3]) == [False] * 3  # the compare-and-set still holds per state
    ids = [s.indicator_id for s in states]
    refs = [(s.indicator_id, f"r{i}") for i, s in enumerate(states)]
    loaded = await store.load_for_merge(ids, [*refs, (ids[0], "never")])
    assert [state for state, _ in loaded.states] == states
    assert loaded.seen == [True] * N + [None]
    assert loaded.erased == [False] * N

    deliveries = [Delivery(i, sub, 1, False) for i in ids for sub in ("telco", "bank")]
    assert await store.mark_delivered(deliveries) == [True] * len(deliveries)
    again = [Delivery(i, "telco", 1, False) for i in ids] + [Delivery(ids[0], "police", 1, True)]
    assert await store.mark_delivered(again) == [False] * N + [True]  # in order, whatever the shard
    fanout = await store.load_for_fanout(ids, ["telco", "bank", "police"])
    assert fanout.delivered[0] == {"telco": 1, "bank": 1, "police": 1}
    assert fanout.delivered[1:] == [{"telco": 1, "bank": 1}] * (N - 1)

    await store.incr({"rejected": 2})
    assert await store.count_once("topic:0:9", {"rejected": 1}) is True
    assert await store.stats() == {
        "accepted": N, "delivered:telco": N, "delivered:bank": N, "delivered:police": 1,
        "revocations_delivered": 1, "rejected": 3,
    }  # fmt: skip

    await store.mark_erased(ids[7], {"at": "2026-11-22T10:00:00Z"})
    assert await store.erased(ids[:10]) == [i == 7 for i in range(10)]
    await store.delete_indicator(ids[7], "phone-number--x")
    assert (await store.load_states([ids[7]]))[0] == (None, {})
    assert await store.seen_submissions([(ids[7], f"sighting:telco:{ids[7]}:blocked"), refs[7]]) == [
        None,
        True,
    ]

    walked: list[str] = []
    cursor = 0
    while True:
        cursor, page = await store.scan_states(cursor, 40)
        walked += [s.indicator_id for s in page]
        if cursor == 0:
            break
    assert sorted(walked) == sorted(ids[:7] + ids[8:])


async def test_commits_sharing_a_shard_each_win_or_lose_on_their_own_revision(store: Store) -> None:
    # One script call commits a whole shard of the batch: an item whose revision moved must lose alone.
    tag = shard_tag(spread(1)[0].indicator_id)
    a, b, c, d = [s for s in spread(N) if shard_tag(s.indicator_id) == tag][:4]
    assert await store.commit([Commit(a, None, ["a1"], True), Commit(b, None, ["b1"], True)]) == [True, True]
    newer = replace(a, reports=2, rev=2)
    outcomes = await store.commit(
        [
            Commit(newer, 1, ["a2"], True, {"accepted": 1}),
            Commit(replace(b, rev=2), 5, ["b2"], True, {"accepted": 1}),  # stale
            Commit(c, None, ["c1"], False, {"accepted": 1, "duplicates": 1}),
            Commit(replace(d, rev=2), 1, ["d1"], True, {"accepted": 1}),  # d does not exist
        ]
    )
    assert outcomes == [True, False, True, False]
    ids = [s.indicator_id for s in (a, b, c, d)]
    assert [st for st, _ in await store.load_states(ids)] == [newer, b, c, None]
    marks = [(a.indicator_id, "a2"), (b.indicator_id, "b2"), (c.indicator_id, "c1"), (d.indicator_id, "d1")]
    assert await store.seen_submissions(marks) == [True, None, False, None]
    assert await store.stats() == {"accepted": 2, "duplicates": 1}


@pytest.mark.integration
async def test_on_one_redis_a_batch_is_not_split_by_shard(redis_store: RedisStore) -> None:
    """A cluster needs one script call per shard (the cluster tests here pass only so); one Redis does not.
    Before, a batch of 400 spread indicators took 64 calls to commit, 64 to read and 64 to mark; now 4 each
    (UNSPLIT_MAX a call), and a fan-out batch of 70 one call instead of about 45."""

    async def evalsha_calls() -> int:
        stats_of = await redis_store.client.info("commandstats")
        return int(stats_of.get("cmdstat_evalsha", {}).get("calls", 0))

    assert not redis_store.is_cluster
    states = spread(N)
    ids = [s.indicator_id for s in states]
    expected = -(-N // UNSPLIT_MAX)
    before = await evalsha_calls()
    assert await redis_store.commit([Commit(s, None, [f"r{i}"], True, {"accepted": 1}) for i, s in
                                     enumerate(states)]) == [True] * N  # fmt: skip
    assert await evalsha_calls() - before == expected  # not one per shard (SHARDS), nor per indicator (N)
    before = await evalsha_calls()
    loaded = await redis_store.load_for_merge(ids, [(i, f"r{n}") for n, i in enumerate(ids)])
    assert [s for s, _ in loaded.states] == states and loaded.seen == [True] * N
    assert await evalsha_calls() - before == expected
    before = await evalsha_calls()
    marked = await redis_store.mark_delivered([Delivery(i, "bank", 1, False) for i in ids])
    assert marked == [True] * N
    assert await evalsha_calls() - before == expected
    assert (await redis_store.load_for_fanout(ids, ["bank"])).delivered == [{"bank": 1}] * N
    assert await redis_store.stats() == {"accepted": N, "delivered:bank": N}


def test_script_groups_keep_each_call_in_one_shard_on_a_cluster_and_in_order_on_one_redis() -> None:
    ids = [s.indicator_id for s in spread(N)]
    by_shard = script_groups(ids, by_shard=True)
    assert len(by_shard) == SHARDS
    assert all(len({shard_tag(ids[i]) for i in group}) == 1 for group in by_shard)
    assert sorted(i for group in by_shard for i in group) == list(range(N))
    unsplit = script_groups(ids, by_shard=False)
    assert [i for group in unsplit for i in group] == list(range(N))
    assert [len(g) for g in unsplit] == [UNSPLIT_MAX] * (N // UNSPLIT_MAX) + [N % UNSPLIT_MAX]
    assert script_groups([], by_shard=False) == [] == script_groups([], by_shard=True)


@pytest.mark.integration
async def test_every_key_of_one_indicator_is_in_one_slot(redis_store: RedisStore) -> None:
    # The keys one compare-and-set writes (state, counters, submission marks) and the erasure marker.
    for s in spread(20):
        k = redis_store.keys
        ind = s.indicator_id
        keys = [k.state(ind), k.stats(shard_tag(ind)), k.submission(ind, "r1"), k.erased(ind),
                k.submission(ind, f"sighting:telco:{ind}:blocked")]  # fmt: skip
        assert len({key_slot(key.encode()) for key in keys}) == 1, keys


@pytest.fixture(params=["redis_store", "cluster_store"])
def real_store(request: pytest.FixtureRequest) -> RedisStore:
    found: RedisStore = request.getfixturevalue(request.param)
    return found


@pytest.mark.integration
async def test_the_benchmarks_completion_poll_sums_the_same_counters_as_stats(real_store: RedisStore) -> None:
    store = real_store
    states = spread(80)  # several shards (and every primary of the cluster)
    await store.commit([Commit(s, None, [f"r{i}"], True, {"accepted": 1}) for i, s in enumerate(states)])
    await store.incr({"rejected": 2, "versions": 5, "fanout_records": 4})
    await store.count_once("topic:0:1", {"allowlisted": 1})
    stats = await store.stats()
    assert await done_counters(store) == {name: stats.get(name, 0) for name in DONE_COUNTERS}
    assert await done_counters(store) == {
        "accepted": 80, "rejected": 2, "allowlisted": 1, "fanout_records": 4, "versions": 5,
    }  # fmt: skip
