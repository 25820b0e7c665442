"""The combined reads (one round trip for what a merge or a fan-out reads first), on both stores; and, on
Redis, how a state lies in its hash: earlier layouts read and rewritten, no stale pieces, a compact hash."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pipeline.state.indicator import IndicatorState
from pipeline.state.memory_store import MemoryStore
from pipeline.state.redis_keys import shard_tag
from pipeline.state.redis_reads import MAX_FIELDS
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Commit, Delivery, FanoutInputs, MergeInputs, Store
from tests.contract.test_store_contract import STATE, UNKNOWN, state_of
from tests.unit.processors.factories import SteppedClock
from tests.unit.state.test_redis_fields import V1, V2, V2_STATE


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
    if request.param == "cluster":  # a real 3-primary Redis Cluster (tests/contract/conftest)
        cluster_store: RedisStore = request.getfixturevalue("cluster_store")
        return cluster_store
    redis_store: RedisStore = request.getfixturevalue("redis_store")  # a real Redis (tests/contract/conftest)
    return redis_store


async def test_load_for_merge_answers_what_the_three_reads_answer(store: Store) -> None:
    other = state_of(1)
    await store.commit([Commit(STATE, None, ["s1"], True), Commit(other, None, ["s2"], False)])
    await store.mark_delivered([Delivery(STATE.indicator_id, "telco", 1, False)])
    await store.mark_erased(other.indicator_id, {"at": "2026-11-22T10:00:00Z"})
    ids = [STATE.indicator_id, other.indicator_id, UNKNOWN]
    subs = [(other.indicator_id, "s2"), (UNKNOWN, "s3"), (STATE.indicator_id, "s1")]
    loaded = await store.load_for_merge(ids, subs)
    assert loaded == MergeInputs(
        await store.load_states(ids), await store.seen_submissions(subs), await store.erased(ids)
    )
    states, seen, erased = loaded  # a plain triple too
    assert states == [(STATE, {"telco": 1}), (other, {}), (None, {})]
    assert (seen, erased) == ([False, None, True], [False, True, False])


async def test_load_for_merge_of_nothing_or_of_one_side_only(store: Store) -> None:
    await store.commit([Commit(STATE, None, ["s1"], True)])
    assert await store.load_for_merge([], []) == ([], [], [])
    refs = [(STATE.indicator_id, "s1"), (STATE.indicator_id, "s9")]
    assert await store.load_for_merge([], refs) == ([], [True, None], [])
    assert await store.load_for_merge([STATE.indicator_id], []) == ([(STATE, {})], [], [False])


async def test_load_for_fanout_answers_the_delivery_marks_and_erasures(store: Store) -> None:
    other = state_of(1)
    await store.commit([Commit(STATE, None, [], True), Commit(other, None, [], True)])
    await store.mark_delivered(
        [Delivery(STATE.indicator_id, "telco", 2, False), Delivery(STATE.indicator_id, "bank", 1, False)]
    )
    await store.mark_erased(other.indicator_id, {})  # no time in the audit: still erased
    ids = [STATE.indicator_id, other.indicator_id, UNKNOWN]
    loaded = await store.load_for_fanout(ids, ["telco", "police"])
    assert loaded == FanoutInputs(
        await store.load_delivered(ids, ["telco", "police"]), await store.erased(ids)
    )
    assert loaded == ([{"telco": 2}, {}, {}], [False, True, False])
    assert await store.load_for_fanout(ids, []) == ([{}, {}, {}], [False, True, False])
    assert await store.load_for_fanout([], ["telco"]) == ([], [])


def spread_states(n: int) -> list[IndicatorState]:
    """``n`` distinct states whose ids fall in many shards (state_of's share one)."""
    rng = random.Random(7)
    ids = [f"indicator--{uuid.UUID(int=rng.getrandbits(128))}" for _ in range(n)]
    return [replace(state_of(i), indicator_id=ind) for i, ind in enumerate(ids)]


async def test_the_combined_reads_keep_the_order_of_many_shards(store: Store) -> None:
    states = spread_states(150)
    assert len({shard_tag(s.indicator_id) for s in states}) > 40  # the reads are grouped by shard
    await store.commit([Commit(s, None, [f"sub-{i}"], True) for i, s in enumerate(states)])
    await store.mark_delivered(
        [Delivery(s.indicator_id, "telco", i % 7 + 1, i % 2 == 0) for i, s in enumerate(states) if i % 3]
    )
    for s in states[::5]:
        await store.mark_erased(s.indicator_id, {})
    # Interleaved with ids nothing was stored for, and one id twice.
    ids = [x for i, s in enumerate(states) for x in ([s.indicator_id, f"indicator--{uuid.UUID(int=i)}"])]
    ids.append(states[3].indicator_id)
    subs = [(s.indicator_id, f"sub-{i}") for i, s in enumerate(states)] + [(states[0].indicator_id, "sub-x")]
    merge = await store.load_for_merge(ids, subs)
    assert merge == MergeInputs(
        await store.load_states(ids), await store.seen_submissions(subs), await store.erased(ids)
    )
    assert sum(merge.erased) == 30 and sum(st is not None for st, _ in merge.states) == 151
    many = [f"org-{i}" for i in range(MAX_FIELDS + 1)] + ["telco"]  # read command by command
    for readers in (["telco", "bank"], many):
        fanout = await store.load_for_fanout(ids, readers)
        assert fanout == FanoutInputs(await store.load_delivered(ids, readers), await store.erased(ids))
        assert sum(bool(d) for d in fanout.delivered) == 100  # i % 3 != 0; states[3] is not one


async def test_known_indicators_answers_whether_load_states_has_a_state(store: Store) -> None:
    """Admission's question (which of a batch's indicators are new), without reading the states."""
    marked, other, erased = state_of(1), state_of(2), state_of(3)
    await store.commit([Commit(STATE, None, ["s1"], True), Commit(erased, None, ["s3"], True)])
    await store.mark_delivered([Delivery(marked.indicator_id, "telco", 1, False)])  # marks, no state
    await store.delete_indicator(erased.indicator_id, "ipv4-addr--unused")
    ids = [STATE.indicator_id, marked.indicator_id, other.indicator_id, erased.indicator_id, UNKNOWN]
    assert await store.known_indicators(ids) == [True, False, False, False, False]
    assert await store.known_indicators(ids) == [s is not None for s, _ in await store.load_states(ids)]
    await store.commit([Commit(marked, None, ["s2"], True)])  # a state beside the marks: known now
    assert await store.known_indicators([marked.indicator_id, STATE.indicator_id]) == [True, True]
    assert await store.known_indicators([]) == []


# -- Redis only: the hash ----------------------------------------------------------------------------------


@pytest.mark.integration
async def test_a_state_of_the_earlier_layout_is_read_and_its_next_commit_rewrites_it_whole(
    redis_store: RedisStore,
) -> None:
    state = replace(V2_STATE, indicator_id=STATE.indicator_id)
    key, r = redis_store.state_key(state.indicator_id), redis_store.client
    await r.hset(key, mapping=V2)  # type: ignore[arg-type]  # redis-py stubs
    await r.pexpire(key, 3_600_000)
    assert await redis_store.load_states([state.indicator_id]) == [(state, {"telco": 2})]
    newer = replace(state, reports=5, rev=10, contributions=state.contributions[:1], audiences=())
    assert await redis_store.commit([Commit(newer, 9, ["s1"], True)]) == [True]
    assert await redis_store.load_states([state.indicator_id]) == [(newer, {"telco": 2})]
    # Nothing of the earlier layout is left (its contribution and audience fields would only cost memory);
    # the delivery marks and the expiry stay.
    assert {k for k in await r.hkeys(key) if not k.isdigit()} == {b"r", b"d:telco"}
    assert await r.pttl(key) > 0


@pytest.mark.integration
async def test_a_shorter_state_leaves_no_piece_of_the_longer_one_and_every_hash_stays_compact(
    redis_store: RedisStore,
) -> None:
    key, r = redis_store.state_key(STATE.indicator_id), redis_store.client
    long = replace(STATE, value="https://example.com/" + "a" * 400)  # longer than any one hash value
    assert await redis_store.commit([Commit(long, None, [], True)]) == [True]
    assert await r.object("encoding", key) in (b"listpack", b"ziplist")
    pieces = len(await r.hkeys(key)) - 1
    assert pieces >= 7
    short = replace(STATE, rev=long.rev + 1)
    assert await redis_store.commit([Commit(short, long.rev, [], True)]) == [True]
    assert await redis_store.load_states([STATE.indicator_id]) == [(short, {})]
    assert len(await r.hkeys(key)) - 1 < pieces
    assert all(len(v) <= 64 for v in (await r.hgetall(key)).values())


@pytest.mark.integration
async def test_known_indicators_knows_the_states_of_both_earlier_layouts(redis_store: RedisStore) -> None:
    v2, v1, marks = state_of(1).indicator_id, state_of(2).indicator_id, state_of(3).indicator_id
    r = redis_store.client
    await r.hset(redis_store.state_key(v2), mapping=V2)  # type: ignore[arg-type]  # redis-py stubs
    await r.hset(redis_store.state_key(v1), mapping=V1)  # type: ignore[arg-type]
    await r.hset(redis_store.state_key(marks), mapping={"d:telco": "3"})
    ids = [v2, v1, marks]
    assert [s is not None for s, _ in await redis_store.load_states(ids)] == [True, True, False]
    assert await redis_store.known_indicators(ids) == [True, True, False]
