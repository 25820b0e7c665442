"""The CollectionStore contract, run against both implementations: MemoryCollections and RedisCollections.

What the TAXII gateway builds on: date_added unique and strictly increasing per collection whatever the
clock does (so ``added_after`` is an exact cursor, even with a writer adding between pages), idempotent
adds, only the latest version kept (a new one moves to the tail, an older one is ignored), paging with
limit/more, the type/id/spec_version filters, removal (and removal for good), count, drop, and — Redis
only — one hash slot per collection and one script call per add or page.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from pipeline.state.collections import (
    CollectionStore,
    Entry,
    MemoryCollections,
    Page,
    RedisCollections,
    stamp,
)
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_store import glob_escape

#: about 2026-11-18, in microseconds: beyond what a Lua ``tostring`` keeps exact (14 digits)
NOW = 1_795_000_000_123_457
T1, T2, T3 = "2026-11-22T10:00:00.000Z", "2026-11-22T10:00:01Z", "2026-11-22T10:00:01.5Z"
C = "bank-sg"

Obj = tuple[str, str, str, bytes]


def obj(n: int, kind: str = "indicator", version: str = T1, body: str = "", *, revoked: bool = False) -> Obj:
    oid = f"{kind}--00000000-0000-4000-8000-{n:012d}"
    doc = {"type": kind, "spec_version": "2.1", "id": oid, "modified": version, "body": body or f"ü{n}|"}
    if revoked:
        doc["revoked"] = True
    return oid, kind, version, orjson.dumps(doc)


async def _cleanup(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=glob_escape(prefix) + "*", count=1000)]
    for key in keys:  # one key per DEL: a Redis Cluster refuses keys of several slots in one
        await client.delete(key)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("cluster", marks=pytest.mark.integration),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CollectionStore]:
    """Each test runs once per implementation, and the Redis one on a single server and on a 3-primary Redis
    Cluster (tests/contract/conftest); the Redis keys are deleted afterwards."""
    if request.param == "memory":
        yield MemoryCollections()
        return
    cluster = request.param == "cluster"
    url: str = request.getfixturevalue("contract_cluster_url" if cluster else "contract_redis_url")
    prefix: str = request.getfixturevalue("contract_prefix")
    client = redis_from_url(url, cluster=cluster)
    try:
        yield RedisCollections(client, prefix)
    finally:
        await _cleanup(client, prefix)
        await client.aclose()


async def everything(store: CollectionStore, collection: str = C, **filters: frozenset[str]) -> list[Entry]:
    page = await store.page(collection, after_us=None, limit=10_000, **filters)
    assert not page.more
    return page.entries


def ids_of(entries: list[Entry]) -> list[str]:
    return [e.id for e in entries]


# -- date_added -----------------------------------------------------------------------------------------


async def test_date_added_is_unique_and_strictly_increasing_whatever_the_clock_does(
    store: CollectionStore,
) -> None:
    assert await store.last_added_us(C) is None
    assert await store.add(C, [obj(1), obj(2)], NOW) == 2  # one call, one clock reading
    assert await store.add(C, [obj(3)], NOW) == 1  # the clock stood still
    assert await store.add(C, [obj(4)], NOW - 5_000_000) == 1  # ... and went back
    assert await store.add(C, [obj(5)], NOW + 1_000) == 1  # ... and forward
    entries = await everything(store)
    assert [e.date_added_us for e in entries] == [NOW, NOW + 1, NOW + 2, NOW + 3, NOW + 1_000]
    assert ids_of(entries) == [obj(n)[0] for n in range(1, 6)]
    assert await store.last_added_us(C) == NOW + 1_000


async def test_an_entry_holds_the_bytes_and_the_version_as_given(store: CollectionStore) -> None:
    sco = ("phone-number--0000", "phone-number", "", b'{"type":"phone-number","value":"+66 \xc3\xbc|x"}')
    await store.add(C, [obj(1, version=T2), sco], NOW)
    indicator = await store.get(C, obj(1)[0])
    assert indicator == Entry(obj(1)[0], T2, NOW, obj(1, version=T2)[3])
    assert (indicator.spec_version, indicator.media_type) == ("2.1", "application/stix+json;version=2.1")
    # No modified, no created: the version is its date_added.
    assert await store.get(C, sco[0]) == Entry(sco[0], stamp(NOW + 1), NOW + 1, sco[3])
    assert stamp(NOW + 1) == "2026-11-18T11:06:40.123458Z"
    assert await store.get(C, "indicator--unknown") is None
    assert await store.get("other", obj(1)[0]) is None


# -- versions -------------------------------------------------------------------------------------------


async def test_adding_the_same_bytes_again_adds_nothing(store: CollectionStore) -> None:
    batch = [obj(1), obj(2, "relationship"), obj(3, "marking-definition")]
    assert await store.add(C, batch, NOW) == 3
    before = await everything(store)
    assert await store.add(C, batch, NOW + 10) == 0  # a replayed delivery
    assert await store.add(C, [batch[1]], NOW + 20) == 0
    assert await everything(store) == before
    assert (await store.count(C), await store.last_added_us(C)) == (3, NOW + 2)


async def test_a_changed_object_moves_to_the_tail_and_appears_once(store: CollectionStore) -> None:
    await store.add(C, [obj(1), obj(2), obj(3)], NOW)
    revoked = obj(1, version=T2, body="revoked")
    assert await store.add(C, [revoked], NOW) == 1
    entries = await everything(store)
    assert ids_of(entries) == [obj(2)[0], obj(3)[0], obj(1)[0]]
    assert (entries[-1].raw, entries[-1].version, entries[-1].date_added_us) == (revoked[3], T2, NOW + 3)
    assert await store.count(C) == 3
    assert await store.get(C, obj(1)[0]) == entries[-1]
    # A reader past the old position sees the new version; one past the new one sees nothing more.
    assert ids_of((await store.page(C, after_us=NOW + 2, limit=10)).entries) == [obj(1)[0]]
    assert (await store.page(C, after_us=NOW + 3, limit=10)).entries == []


async def test_a_new_version_replaces_and_an_older_one_is_ignored(store: CollectionStore) -> None:
    await store.add(C, [obj(1, version=T2, body="v2")], NOW)
    # A stale replay (two workers during a rebalance): an earlier ``modified`` never rolls it back.
    assert await store.add(C, [obj(1, version=T1, body="v1")], NOW + 10) == 0
    assert (await store.get(C, obj(1)[0])) == Entry(obj(1)[0], T2, NOW, obj(1, version=T2, body="v2")[3])
    # Later versions replace it, compared as times, not as text (as text, "...01.5Z" < "...01Z").
    assert await store.add(C, [obj(1, version=T3, body="v3")], NOW + 20) == 1
    assert await store.add(C, [obj(1, version=T2, body="v2 again")], NOW + 30) == 0
    # The same time with other bytes is a new version too; so are two versions in one call, in order.
    assert await store.add(C, [obj(1, version=T3, body="v3b")], NOW + 40) == 1
    moved = [obj(1, version="2026-11-22T11:00:00Z", body="a"), obj(1, version="2026-11-22T12:00:00Z")]
    assert await store.add(C, moved, NOW + 50) == 2
    [entry] = await everything(store)
    assert (entry.raw, entry.date_added_us) == (moved[1][3], NOW + 51)


async def test_a_revoked_object_is_final(store: CollectionStore) -> None:
    """STIX: revoking is permanent. A stale active version (same ``modified``, or later: clock skew between
    workers) never replaces a revocation."""
    revoked = obj(1, version=T2, body="final", revoked=True)
    await store.add(C, [obj(1, version=T1), revoked], NOW)
    assert await store.add(C, [obj(1, version=T2, body="same time")], NOW) == 0
    assert await store.add(C, [obj(1, version=T3, body="later")], NOW) == 0
    assert await store.add(C, [revoked], NOW) == 0
    [entry] = await everything(store)
    assert (entry.raw, entry.date_added_us) == (revoked[3], NOW + 1)
    # An older revocation than the stored version is no version of it, and does not seal it.
    await store.add(C, [obj(2, version=T3), obj(2, version=T1, revoked=True)], NOW)
    assert await store.add(C, [obj(2, version="2026-11-22T11:00:00Z")], NOW) == 1


# -- paging ---------------------------------------------------------------------------------------------


async def test_limit_and_more(store: CollectionStore) -> None:
    await store.add(C, [obj(n) for n in range(10)], NOW)
    full = await store.page(C, after_us=None, limit=10)
    assert (len(full.entries), full.more) == (10, False)
    first = await store.page(C, after_us=None, limit=9)
    assert (ids_of(first.entries), first.more) == (ids_of(full.entries)[:9], True)
    last = await store.page(C, after_us=first.entries[-1].date_added_us, limit=9)
    assert (ids_of(last.entries), last.more) == ([obj(9)[0]], False)
    assert await store.page(C, after_us=NOW + 9, limit=5) == Page([], False)
    assert await store.page("empty", after_us=None, limit=5) == Page([], False)
    with pytest.raises(ValueError, match="limit"):
        await store.page(C, after_us=None, limit=0)


async def test_pages_give_every_object_exactly_once_while_a_writer_adds_between_them(
    store: CollectionStore,
) -> None:
    rng = random.Random(7)
    await store.add(C, [obj(n) for n in range(40)], NOW)
    seen: list[str] = []
    cursor: int | None = None
    next_id = 40
    while True:
        page = await store.page(C, after_us=cursor, limit=7)
        seen += ids_of(page.entries)
        if page.entries:
            cursor = page.entries[-1].date_added_us
        if next_id < 100:  # the writer, its clock jumping about (often behind the reader's cursor)
            batch = [obj(n) for n in range(next_id, next_id + rng.randint(1, 5))]
            next_id += len(batch)
            await store.add(C, batch, NOW + rng.randint(-10_000_000, 30))
        elif not page.more:
            break
    assert sorted(seen) == sorted(obj(n)[0] for n in range(next_id))
    assert len(seen) == len(set(seen)) == await store.count(C)


async def test_a_concurrent_writer_never_lands_behind_a_readers_cursor(store: CollectionStore) -> None:
    """Reader and writer run at the same time (on Redis: two connections, scripts interleaved)."""
    written = 300
    done = asyncio.Event()

    async def writer() -> None:
        for n in range(0, written, 3):
            await store.add(C, [obj(n), obj(n + 1, "relationship"), obj(n + 2, "phone-number")], NOW - n)
            await asyncio.sleep(0)
        done.set()

    async def reader() -> list[str]:
        seen: list[str] = []
        cursor: int | None = None
        while True:
            finished = done.is_set()
            page = await store.page(C, after_us=cursor, limit=11)
            seen += ids_of(page.entries)
            cursor = page.entries[-1].date_added_us if page.entries else cursor
            if finished and not page.more:
                return seen
            await asyncio.sleep(0)

    _, seen = await asyncio.gather(writer(), reader())
    assert len(seen) == len(set(seen)) == written


# -- filters ----------------------------------------------------------------------------------------------


async def test_match_type_pages_each_type_and_merges_them_in_date_added_order(store: CollectionStore) -> None:
    kinds = ["indicator", "phone-number", "relationship", "marking-definition"]
    await store.add(C, [obj(n, kinds[n % 4]) for n in range(12)], NOW)
    only = await everything(store, types=frozenset({"indicator"}))
    assert ids_of(only) == [obj(n, "indicator")[0] for n in (0, 4, 8)]
    two = frozenset({"indicator", "relationship"})
    merged = [obj(n, kinds[n % 4])[0] for n in (0, 2, 4, 6, 8, 10)]
    assert ids_of(await everything(store, types=two)) == merged
    first = await store.page(C, after_us=None, limit=4, types=two)
    assert (ids_of(first.entries), first.more) == (merged[:4], True)
    rest = await store.page(C, after_us=first.entries[-1].date_added_us, limit=4, types=two)
    assert (ids_of(rest.entries), rest.more) == (merged[4:], False)
    assert await everything(store, types=frozenset({"malware"})) == []
    assert await everything(store, types=frozenset()) == []


async def test_match_id_returns_those_objects_in_date_added_order(store: CollectionStore) -> None:
    await store.add(C, [obj(n, "indicator" if n % 2 else "relationship") for n in range(6)], NOW)
    await store.add(C, [obj(1, version=T2)], NOW)  # moved to the tail
    wanted = frozenset({obj(1)[0], obj(2, "relationship")[0], obj(5)[0], "indicator--not-there"})
    expected = [obj(2, "relationship")[0], obj(5)[0], obj(1)[0]]
    assert ids_of(await everything(store, ids=wanted)) == expected
    page = await store.page(C, after_us=None, limit=2, ids=wanted)
    assert (len(page.entries), page.more) == (2, True)
    after = await store.page(C, after_us=NOW + 2, limit=5, ids=wanted)
    assert (ids_of(after.entries), after.more) == ([obj(5)[0], obj(1)[0]], False)
    both = await everything(store, ids=wanted, types=frozenset({"indicator"}))
    assert ids_of(both) == [obj(5)[0], obj(1)[0]]
    assert await everything(store, ids=frozenset()) == []


async def test_match_spec_version_only_21_is_stored(store: CollectionStore) -> None:
    await store.add(C, [obj(1), obj(2)], NOW)
    assert len(await everything(store, spec_versions=frozenset({"2.1"}))) == 2
    assert len(await everything(store, spec_versions=frozenset({"2.0", "2.1"}))) == 2
    assert await everything(store, spec_versions=frozenset({"2.0"})) == []
    assert await everything(store, spec_versions=frozenset({"2.0"}), ids=frozenset({obj(1)[0]})) == []


# -- remove, count, drop --------------------------------------------------------------------------------


async def test_remove_and_remove_for_good(store: CollectionStore) -> None:
    await store.add(C, [obj(1), obj(2, "phone-number"), obj(3, "relationship")], NOW)
    await store.add("other", [obj(2, "phone-number")], NOW)
    assert await store.remove(C, [obj(1)[0], "indicator--never-stored"]) == 1
    assert ids_of(await everything(store)) == [obj(2, "phone-number")[0], obj(3, "relationship")[0]]
    assert await everything(store, types=frozenset({"indicator"})) == []
    assert await store.count(C) == 2
    # Removed, not barred: it can come back, at the tail.
    assert await store.add(C, [obj(1)], NOW) == 1
    assert (await store.get(C, obj(1)[0])) == Entry(obj(1)[0], T1, NOW + 3, obj(1)[3])
    # Removed for good (an erased value's SCO): never added again, whatever the bytes.
    gone = [obj(2, "phone-number")[0], obj(3, "relationship")[0]]
    assert await store.remove(C, gone, forever=True) == 2
    assert await store.add(C, [obj(2, "phone-number"), obj(3, "relationship", T3, "x"), obj(4)], NOW) == 1
    assert ids_of(await everything(store)) == [obj(1)[0], obj(4)[0]]
    assert await store.get(C, gone[0]) is None
    assert await everything(store, types=frozenset({"phone-number", "relationship"})) == []
    assert await store.last_added_us(C) == NOW + 4  # date_added never goes back, even after a removal
    # Other collections are as they were.
    assert ids_of(await everything(store, "other")) == [obj(2, "phone-number")[0]]


async def test_count_and_drop(store: CollectionStore) -> None:
    await store.add(C, [obj(n, k) for n, k in enumerate(["indicator", "phone-number", "relationship"])], NOW)
    await store.remove(C, [obj(1, "phone-number")[0]], forever=True)
    await store.add("other", [obj(1)], NOW)
    assert (await store.count(C), await store.count("other"), await store.count("nothing")) == (2, 1, 0)
    await store.drop(C)
    assert (await store.count(C), await store.last_added_us(C)) == (0, None)
    assert await store.get(C, obj(0)[0]) is None
    assert await everything(store) == []
    assert await everything(store, types=frozenset({"indicator", "relationship"})) == []
    assert await store.count("other") == 1
    # A dropped collection starts again from scratch: the clock, and nothing barred any more.
    assert await store.add(C, [obj(1, "phone-number")], NOW - 7) == 1
    assert [e.date_added_us for e in await everything(store)] == [NOW - 7]
    await store.drop("never-existed")


async def test_a_bad_type_is_refused_and_nothing_of_the_call_is_stored(store: CollectionStore) -> None:
    with pytest.raises(ValueError, match="STIX type"):
        await store.add(C, [obj(1), ("x--1", "Bad|Type", T1, b"{}")], NOW)
    assert (await store.count(C), await store.last_added_us(C)) == (0, None)
    assert await store.add(C, [], NOW) == 0
    assert await store.remove(C, []) == 0


# -- Redis: slots and round trips ---------------------------------------------------------------------


@pytest.mark.integration
async def test_every_key_of_a_collection_is_in_one_cluster_slot(
    contract_redis_url: str, contract_prefix: str
) -> None:
    client = aioredis.Redis.from_url(contract_redis_url)
    store = RedisCollections(client, contract_prefix)
    try:
        for collection in ("bank-sg", "telco-th"):
            kinds = ["indicator", "phone-number", "x-a"]
            await store.add(collection, [obj(n, k) for n, k in enumerate(kinds)], NOW)
            await store.remove(collection, [obj(2, "x-a")[0]], forever=True)
        keys = [k async for k in client.scan_iter(match=glob_escape(contract_prefix) + "*")]
        by_slot: dict[int, set[str]] = {}
        for key in keys:
            by_slot.setdefault(key_slot(key), set()).add(key.decode().split("}:", 1)[1])
        assert key_slot(b"{bank-sg}") != key_slot(b"{telco-th}")
        # One slot per collection, holding all of its keys (x-a's type set went with its last member).
        parts = {"z", "o", "m", "last", "x", "types", "t:indicator", "t:phone-number"}
        assert by_slot == {key_slot(f"{{{c}}}".encode()): parts for c in ("bank-sg", "telco-th")}
    finally:
        await _cleanup(client, contract_prefix)
        await client.aclose()


async def _script_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


@pytest.mark.integration
async def test_an_add_of_hundreds_of_objects_and_a_page_are_one_script_call_each(
    contract_redis_url: str, contract_prefix: str
) -> None:
    client = aioredis.Redis.from_url(contract_redis_url)
    store = RedisCollections(client, contract_prefix)
    try:
        await store.add(C, [obj(0)], NOW)
        await store.page(C, after_us=None, limit=1)  # the scripts are loaded
        before = await _script_calls(client)
        batch = [obj(n, ("indicator", "phone-number")[n % 2]) for n in range(1, 401)]
        assert await store.add(C, batch, NOW) == 400
        assert await _script_calls(client) == before + 1
        page = await store.page(C, after_us=None, limit=300, types=frozenset({"indicator", "phone-number"}))
        assert (len(page.entries), page.more) == (300, True)
        assert await _script_calls(client) == before + 2
    finally:
        await _cleanup(client, contract_prefix)
        await client.aclose()


# -- both at once: the same operations, the same collection ----------------------------------------------

_OBJECT = st.tuples(
    st.integers(0, 5), st.sampled_from(["indicator", "phone-number"]), st.sampled_from(["", T1, T2, T3]),
    st.sampled_from(["a", "b"]), st.booleans(),
)  # fmt: skip
_OP = st.one_of(
    st.tuples(st.just("add"), st.lists(_OBJECT, max_size=4), st.integers(-3, 3)),
    st.tuples(st.just("remove"), st.lists(st.integers(0, 5), max_size=3), st.booleans()),
)


@pytest.mark.integration
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OP, max_size=12))
def test_redis_and_memory_agree_on_any_sequence_of_adds_and_removes(
    contract_redis_url: str, contract_prefix: str, ops: list[tuple[str, list[Any], Any]]
) -> None:
    asyncio.run(_agree(contract_redis_url, contract_prefix, ops))


async def _agree(url: str, prefix: str, ops: list[tuple[str, list[Any], Any]]) -> None:
    client = aioredis.Redis.from_url(url)
    stores: list[CollectionStore] = [MemoryCollections(), RedisCollections(client, prefix)]
    try:
        for op, items, arg in ops:
            results = []
            for store in stores:
                if op == "add":
                    batch = [obj(n, kind, version, body, revoked=r) for n, kind, version, body, r in items]
                    results.append(await store.add(C, batch, NOW + arg))
                else:
                    ids = [obj(n)[0] for n in items]
                    results.append(await store.remove(C, ids, forever=bool(arg)))
            assert results[0] == results[1], (op, items, arg)
            views = [(await everything(s), await s.count(C), await s.last_added_us(C)) for s in stores]
            assert views[0] == views[1]
        for n in range(2):
            indicators = frozenset({"indicator"})
            pages = [await s.page(C, after_us=NOW + n, limit=2, types=indicators) for s in stores]
            assert pages[0] == pages[1]
    finally:
        await _cleanup(client, prefix)
        await client.aclose()
