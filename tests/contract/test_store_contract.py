"""The Store contract, run against both implementations: MemoryStore (no server) and RedisStore (real Redis).

Every promise the protocol makes is pinned here once, so a step tested on the in-memory store behaves the
same on Redis: compare-and-set on the revision, submission marks, exactly-once counters, delivery marks that
never move backwards, states that expire, the expiring cache, markers, subscriptions and their revision, the
state walk, erasure markers, the audit log and the deletion of an indicator.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from pipeline.processors.merge import merge
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import Audience, Contribution, IndicatorState, sorted_contributions
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Commit, Delivery, Store
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from tests.unit.processors.factories import T0, SteppedClock, report

STATE = merge(None, report(), ScoreModel(), T0).state
UNKNOWN = "indicator--00000000-0000-5000-8000-000000000000"


def refs(state: IndicatorState, *submission_ids: str) -> list[tuple[str, str]]:
    """Submission marks are asked for by the indicator they were merged into."""
    return [(state.indicator_id, s) for s in submission_ids]


#: the dedup window of ``Backend.short`` (seconds)
SHORT_TTL_S = 1


@dataclass
class Backend:
    #: a store with the default dedup window (7 days)
    store: Store
    #: a store on the same backend with a dedup window of SHORT_TTL_S
    short: Store
    #: let time pass for the backend (Redis: really wait; memory: step the clock)
    elapse: Callable[[float], Awaitable[None]]
    #: the backend's current time in ms since the epoch (Redis: the wall clock; memory: the stepped clock)
    now_ms: Callable[[], int]


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("cluster", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest, clock: SteppedClock) -> Store:
    """Each test runs once per implementation (this overrides the conftest's Redis-only ``store``)."""
    if request.param == "memory":
        return MemoryStore(now=clock)
    if request.param == "cluster":  # a real 3-primary Redis Cluster (tests/contract/conftest)
        cluster_store: RedisStore = request.getfixturevalue("cluster_store")
        return cluster_store
    redis_store: RedisStore = request.getfixturevalue("redis_store")  # a real Redis (tests/contract/conftest)
    return redis_store


@pytest.fixture
def backend(store: Store, clock: SteppedClock, request: pytest.FixtureRequest) -> Backend:
    if isinstance(store, MemoryStore):

        async def step(seconds: float) -> None:
            clock.advance(seconds)

        return Backend(
            store,
            MemoryStore(now=clock, dedup_ttl_s=SHORT_TTL_S),
            step,
            lambda: int(clock().timestamp() * 1000),
        )
    assert isinstance(store, RedisStore)
    prefix = request.getfixturevalue("contract_prefix")  # its keys are removed with ``redis_store``
    short = RedisStore(store.client, prefix=prefix, dedup_ttl_s=SHORT_TTL_S)
    return Backend(store, short, asyncio.sleep, lambda: int(time.time() * 1000))


def state_of(n: int) -> IndicatorState:
    """A distinct committed-looking state (the n-th indicator)."""
    return replace(STATE, indicator_id=f"indicator--00000000-0000-5000-8000-{n:012d}", value=f"+6681{n:07d}")


# -- state and compare-and-set --------------------------------------------------------------------------


async def test_state_round_trips(store: Store) -> None:
    assert await store.commit([Commit(STATE, None, ["s1"], True, {"accepted": 1})]) == [True]
    [(loaded, delivered)] = await store.load_states([STATE.indicator_id])
    assert loaded == STATE
    assert delivered == {}


async def test_a_state_with_every_field_away_from_its_default_round_trips(store: Store) -> None:
    withdrawn = Contribution("bank-b", TLP.AMBER_STRICT, T0 - 5, T0, 2, 90, frozenset({"romance"}), True)
    full = replace(
        STATE,
        contributions=sorted_contributions((*STATE.contributions, withdrawn)),
        revoked=True,
        sightings=(3, 2, 1),
        tp_by=frozenset({"police"}),
        country="TH",
        allowlisted=True,
        fp_by=frozenset({"telco", "bank"}),
        score=0,
        version=4,
        rev=9,
        audiences=(("1", Audience("abc123", 3, 4)), ("2:bank-b", Audience("def456", 1, 2))),
    )
    assert await store.commit([Commit(full, None, [], True)]) == [True]
    assert await store.load_states([full.indicator_id]) == [(full, {})]


async def test_an_unknown_indicator_loads_as_none(store: Store) -> None:
    assert await store.load_states([UNKNOWN]) == [(None, {})]
    assert await store.load_states([]) == []


async def test_compare_and_set_refuses_a_stale_revision(store: Store) -> None:
    assert await store.commit([Commit(STATE, None, ["s1"], True, {"accepted": 1})]) == [True]
    # A second writer that also believed the indicator was new loses...
    assert await store.commit([Commit(STATE, None, ["s2"], True, {"accepted": 1})]) == [False]
    # ...and so does one that read an older revision; the one that read the current one wins.
    newer = replace(STATE, reports=2, rev=2)
    assert await store.commit([Commit(newer, 0, ["s3"], False, {"accepted": 1})]) == [False]
    assert await store.commit([Commit(newer, 1, ["s3"], False, {"accepted": 1})]) == [True]
    assert (await store.stats())["accepted"] == 2  # losers counted nothing
    assert await store.seen_submissions(refs(STATE, "s1", "s2", "s3")) == [True, None, False]
    [(loaded, _)] = await store.load_states([STATE.indicator_id])
    assert loaded == newer  # losers wrote nothing


async def test_an_expected_revision_on_an_indicator_that_does_not_exist_loses(store: Store) -> None:
    assert await store.commit([Commit(STATE, 0, ["s1"], True, {"accepted": 1})]) == [False]
    assert await store.load_states([STATE.indicator_id]) == [(None, {})]
    assert await store.seen_submissions(refs(STATE, "s1")) == [None]
    assert await store.stats() == {}


async def test_commits_of_one_call_apply_in_order_each_on_its_own(store: Store) -> None:
    other, newer = state_of(1), replace(STATE, reports=2, rev=2)
    outcomes = await store.commit(
        [
            Commit(STATE, None, ["a"], True, {"accepted": 1}),
            Commit(other, 5, ["b"], True, {"accepted": 1}),  # stale: loses alone
            Commit(newer, 1, ["c"], False, {"accepted": 1}),  # sees the first commit of the call
        ]
    )
    assert outcomes == [True, False, True]
    assert await store.load_states([STATE.indicator_id, other.indicator_id]) == [(newer, {}), (None, {})]
    assert await store.seen_submissions([*refs(STATE, "a"), *refs(other, "b"), *refs(STATE, "c")]) == [
        True,
        None,
        False,
    ]
    assert await store.stats() == {"accepted": 2}
    assert await store.commit([]) == []


async def test_delivery_marks_alone_are_not_a_state(store: Store) -> None:
    assert await store.mark_delivered([Delivery(STATE.indicator_id, "telco", 1, False)]) == [True]
    assert await store.load_states([STATE.indicator_id]) == [(None, {"telco": 1})]
    # "must not exist yet" is about the state: the marks stay, beside the new state.
    assert await store.commit([Commit(STATE, None, ["s1"], True)]) == [True]
    assert await store.load_states([STATE.indicator_id]) == [(STATE, {"telco": 1})]


# -- states that expire ----------------------------------------------------------------------------------


async def expires(backend: Backend, indicator_id: str) -> bool:
    """Whether the state carries an expiry (Redis: a TTL on its hash; memory: gone ten years from now)."""
    store = backend.store
    if isinstance(store, RedisStore):
        return int(await store.client.pttl(store.state_key(indicator_id))) >= 0
    await backend.elapse(3650 * 86_400)
    [(state, _)] = await store.load_states([indicator_id])
    return state is None


async def test_a_state_committed_with_an_expiry_is_gone_after_it_with_its_deliveries(
    backend: Backend,
) -> None:
    store, at = backend.store, backend.now_ms() + 1000
    assert await store.commit([Commit(STATE, None, ["s1"], True, expire_at_ms=at)]) == [True]
    await store.mark_delivered([Delivery(STATE.indicator_id, "telco", 1, False)])
    assert await store.load_states([STATE.indicator_id]) == [(STATE, {"telco": 1})]
    await backend.elapse(1.3)
    assert await store.load_states([STATE.indicator_id]) == [(None, {})]
    assert await store.load_delivered([STATE.indicator_id], ["telco"]) == [{}]
    assert await store.scan_states(0, 100) == (0, [])
    # Gone means new: the next report creates the indicator again (the submission marks are not the state).
    assert await store.commit([Commit(STATE, None, ["s2"], True)]) == [True]
    assert not await expires(backend, STATE.indicator_id)


async def test_without_an_expiry_a_state_has_none(backend: Backend) -> None:
    assert await backend.store.commit([Commit(STATE, None, ["s1"], True)]) == [True]
    assert not await expires(backend, STATE.indicator_id)


async def test_a_commit_without_an_expiry_keeps_the_one_set_and_a_later_one_moves_it(
    backend: Backend,
) -> None:
    store, soon = backend.store, backend.now_ms() + 1000
    await store.commit([Commit(STATE, None, ["s1"], True, expire_at_ms=soon)])
    newer = replace(STATE, reports=2, rev=2)
    assert await store.commit([Commit(newer, 1, ["s2"], False)]) == [True]
    await backend.elapse(1.3)
    assert await store.load_states([STATE.indicator_id]) == [(None, {})]
    await store.commit([Commit(STATE, None, ["s3"], True, expire_at_ms=backend.now_ms() + 1000)])
    later = backend.now_ms() + 3_600_000
    assert await store.commit([Commit(newer, 1, ["s4"], False, expire_at_ms=later)]) == [True]
    await backend.elapse(1.3)
    assert await store.load_states([STATE.indicator_id]) == [(newer, {})]


async def test_a_lost_compare_and_set_sets_no_expiry(backend: Backend) -> None:
    store = backend.store
    await store.commit([Commit(STATE, None, ["s1"], True)])
    stale = Commit(replace(STATE, reports=2, rev=2), 0, ["s2"], True, expire_at_ms=backend.now_ms() - 1000)
    assert await store.commit([stale]) == [False]
    assert await store.load_states([STATE.indicator_id]) == [(STATE, {})]


# -- submission marks and counters ---------------------------------------------------------------------------


async def test_submission_marks_say_whether_merging_published(store: Store) -> None:
    assert await store.seen_submissions([]) == []
    assert await store.seen_submissions(refs(STATE, "s1", "s2")) == [None, None]
    await store.commit([Commit(STATE, None, ["s1", "s2"], True)])
    later = replace(STATE, reports=2, rev=2)
    await store.commit([Commit(later, STATE.rev, ["sighting:x"], False)])
    assert await store.seen_submissions(refs(STATE, "s2", "sighting:x", "s1", "s3")) == [
        True,
        False,
        True,
        None,
    ]


async def test_marks_and_count_once_markers_expire_after_the_dedup_window(backend: Backend) -> None:
    short = backend.short
    await short.commit([Commit(STATE, None, ["s1"], True)])
    assert await short.count_once("topic:0:1", {"rejected": 1}) is True
    assert await short.seen_submissions(refs(STATE, "s1")) == [True]
    assert await short.count_once("topic:0:1", {"rejected": 1}) is False
    await backend.elapse(SHORT_TTL_S + 0.2)
    assert await short.seen_submissions(refs(STATE, "s1")) == [None]  # a replay this late merges again
    assert await short.count_once("topic:0:1", {"rejected": 1}) is True
    assert (await short.stats())["rejected"] == 2


async def test_count_once_ignores_the_same_marker(store: Store) -> None:
    assert await store.count_once("topic:0:7", {"rejected": 1, "rejected:not_json": 1}) is True
    assert await store.count_once("topic:0:7", {"rejected": 1, "rejected:not_json": 1}) is False
    assert await store.stats() == {"rejected": 1, "rejected:not_json": 1}
    assert await store.count_once("topic:0:8", {"rejected": 1}) is True  # another marker counts
    assert await store.stats() == {"rejected": 2, "rejected:not_json": 1}


async def test_stats_add_up_increments_and_commits_leave_zero_counters_out(store: Store) -> None:
    assert await store.stats() == {}
    await store.incr({"fanout_records": 3, "latency:e2e:le_100": 1})
    await store.incr({"fanout_records": 2})
    await store.incr({"fanout_records": 0, "idle": 0})  # a plain increment writes what it is given
    await store.commit([Commit(STATE, None, ["s1"], True, {"accepted": 1, "duplicates": 0})])
    assert await store.stats() == {"fanout_records": 5, "latency:e2e:le_100": 1, "idle": 0, "accepted": 1}


# -- deliveries --------------------------------------------------------------------------------------------


async def test_deliveries_are_marked_and_counted_once_per_version(store: Store) -> None:
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


async def test_a_delivery_mark_never_moves_backwards(store: Store) -> None:
    ind = STATE.indicator_id
    assert await store.mark_delivered([Delivery(ind, "telco", 3, False)]) == [True]
    # An older version (a late replay), a revoked older one, and the same version again: none counts.
    late = [
        Delivery(ind, "telco", 2, False),
        Delivery(ind, "telco", 1, True),
        Delivery(ind, "telco", 3, True),
    ]
    assert await store.mark_delivered(late) == [False, False, False]
    # Within one call each delivery sees the ones before it.
    assert await store.mark_delivered(
        [Delivery(ind, "telco", 5, True), Delivery(ind, "telco", 4, False)]
    ) == [
        True,
        False,
    ]
    assert await store.load_delivered([ind], ["telco"]) == [{"telco": 5}]
    assert await store.stats() == {"delivered:telco": 2, "revocations_delivered": 1}
    assert await store.mark_delivered([]) == []


async def test_progress_counters_ride_with_the_delivery_marks(store: Store) -> None:
    ind = STATE.indicator_id
    progress = {"fanout_records": 3, "latency:e2e:le_100": 2}
    assert await store.mark_delivered([Delivery(ind, "telco", 1, False)], progress) == [True]
    assert await store.mark_delivered([Delivery(ind, "telco", 1, False)], progress) == [False]  # a replay
    assert await store.mark_delivered([], {"fanout_records": 1}) == []  # a batch with nothing to deliver
    assert await store.stats() == {"delivered:telco": 1, "fanout_records": 7, "latency:e2e:le_100": 4}


async def test_load_delivered_reads_only_the_named_subscribers_marks(store: Store) -> None:
    await store.commit([Commit(STATE, None, ["s1"], True)])
    ind = STATE.indicator_id
    await store.mark_delivered([Delivery(ind, "telco", 1, False), Delivery(ind, "bank", 1, False)])
    assert await store.load_delivered([ind, UNKNOWN], ["telco", "police"]) == [{"telco": 1}, {}]
    assert await store.load_delivered([ind], []) == [{}]
    assert await store.load_delivered([], ["telco"]) == []


# -- cache and markers ---------------------------------------------------------------------------------------


async def test_cached_values_come_back_until_their_ttl_runs_out(backend: Backend) -> None:
    store = backend.store
    assert await store.cached([]) == []
    await store.cache({}, 60)  # nothing to write
    await store.cache({"domain-name--a": {"registered": "2026-11-01", "ns": ["a", "b"]}}, SHORT_TTL_S)
    await store.cache({"domain-name--b": {"registered": None}}, 3600)
    assert await store.cached(["domain-name--a", "domain-name--b", "domain-name--c"]) == [
        {"registered": "2026-11-01", "ns": ["a", "b"]},
        {"registered": None},
        None,
    ]
    await backend.elapse(SHORT_TTL_S + 0.2)
    assert await store.cached(["domain-name--a", "domain-name--b"]) == [None, {"registered": None}]


async def test_a_cached_value_is_a_copy(store: Store) -> None:
    value = {"ns": ["a"]}
    await store.cache({"k": value}, 60)
    value["ns"].append("b")
    [hit] = await store.cached(["k"])
    assert hit == {"ns": ["a"]}
    assert hit is not None
    hit["ns"].append("c")
    assert await store.cached(["k"]) == [{"ns": ["a"]}]


async def test_markers_are_kept_and_overwritten(store: Store) -> None:
    assert await store.get_marker("decay-cursor") is None
    await store.set_marker("decay-cursor", "17")
    await store.set_marker("other", "x")
    await store.set_marker("decay-cursor", "0")
    assert (await store.get_marker("decay-cursor"), await store.get_marker("other")) == ("0", "x")


# -- subscriptions ---------------------------------------------------------------------------------------


async def test_subscriptions_are_stored_and_each_change_bumps_the_revision(store: Store) -> None:
    sub = Subscription(id="telco", name="Telco", sector="telecom", organisation="telco", types={"phone"})
    assert await store.subscriptions() == (0, [])
    await store.put_subscription(sub)
    rev, subs = await store.subscriptions()
    assert (rev, subs) == (1, [sub])
    assert await store.remove_subscription("telco") is True
    assert await store.subscriptions() == (2, [])
    assert await store.remove_subscription("telco") is False


async def test_subscriptions_are_listed_by_id_and_a_put_replaces_the_same_id(store: Store) -> None:
    bank = Subscription(id="bank", name="Bank", sector="bank", organisation="bank", tlp="amber")
    telco = Subscription(id="telco", name="Telco", sector="telecom", organisation="telco", countries={"th"})
    await store.put_subscription(telco)
    await store.put_subscription(bank)
    changed = telco.model_copy(update={"min_score": 60})
    await store.put_subscription(changed)
    assert await store.subscriptions() == (3, [bank, changed])
    assert await store.remove_subscription("nobody") is False
    assert (await store.subscriptions())[0] == 4  # a removal that found nothing still bumps it


# -- the walk over every state -----------------------------------------------------------------------------


async def walk(store: Store, count: int) -> list[str]:
    ids: list[str] = []
    cursor = 0
    while True:
        cursor, states = await store.scan_states(cursor, count)
        ids.extend(s.indicator_id for s in states)
        if cursor == 0:
            return ids


async def test_a_full_walk_returns_every_state_exactly_once(store: Store) -> None:
    states = [state_of(n) for n in range(23)]
    assert await store.commit([Commit(s, None, [], True) for s in states]) == [True] * 23
    # Delivery marks of an indicator with no state are not a state: the walk skips them.
    await store.mark_delivered([Delivery(UNKNOWN, "telco", 1, False)])
    for count in (1, 4, 1000):
        seen = Counter(await walk(store, count))
        assert seen == Counter({s.indicator_id: 1 for s in states}), count
    cursor, everything = await store.scan_states(0, 1000)
    assert cursor == 0
    assert sorted(everything, key=lambda s: s.indicator_id) == states  # whole states, not just ids


async def test_a_walk_of_an_empty_store_ends_at_once(store: Store) -> None:
    assert await store.scan_states(0, 10) == (0, [])


async def test_states_added_during_a_walk_do_not_hide_the_others(store: Store) -> None:
    before = [state_of(n) for n in range(12)]
    await store.commit([Commit(s, None, [], True) for s in before])
    seen: list[str] = []
    cursor, added = 0, 100
    while True:
        cursor, states = await store.scan_states(cursor, 3)
        seen.extend(s.indicator_id for s in states)
        await store.commit([Commit(state_of(added), None, [], True)])
        added += 1
        if cursor == 0:
            break
    assert {s.indicator_id for s in before} <= set(seen)


# -- organisations ---------------------------------------------------------------------------------------


async def test_organisations_round_trip_every_field_and_each_change_bumps_the_revision(store: Store) -> None:
    bank = Organisation(
        id="bank-sg", name="Bank", sector="bank", country="sg", roles={"producer", "subscriber"}, trust=0.8,
        default_tlp="green", default_confidence=70,
        quotas={"reports_per_second": 5000, "producer_byte_rate": None},
    )  # fmt: skip
    police = Organisation(
        id="police-au", name="Police", sector="law-enforcement", roles=["producer"], auth="mtls",
        cert_cn="police-au.example",
    )  # fmt: skip
    assert await store.organisations() == (0, [])
    await store.put_organisation(police)
    await store.put_organisation(bank)
    rev, orgs = await store.organisations()
    assert (rev, orgs) == (2, [bank, police])  # sorted by id, every field read back equal
    await store.put_organisation(bank.model_copy(update={"trust": 0.3}))
    assert (await store.organisations())[1][0].trust == 0.3
    assert await store.remove_organisation("bank-sg") is True
    assert await store.remove_organisation("bank-sg") is False
    rev, orgs = await store.organisations()
    assert (rev, [o.id for o in orgs]) == (5, ["police-au"])
    # The two registries are independent: subscriptions are not organisations.
    assert await store.subscriptions() == (0, [])


# -- erasure ---------------------------------------------------------------------------------------------

AUDIT = {"action": "erase", "indicator_id": STATE.indicator_id, "kind": "phone", "operator": "dpo",
         "at": "2026-11-22T10:00:00Z", "reason": "a real person's number", "recipients": 2}  # fmt: skip


async def test_an_erasure_marker_is_permanent_and_each_erasure_is_audited(store: Store) -> None:
    assert await store.erased([STATE.indicator_id, UNKNOWN]) == [False, False]
    assert await store.audit_log(10) == []
    await store.mark_erased(STATE.indicator_id, AUDIT)
    # The marker names the indicator, in either spelling of its id, and nothing else.
    bare = STATE.indicator_id.removeprefix("indicator--")
    assert await store.erased([STATE.indicator_id, bare, UNKNOWN]) == [True, True, False]
    assert await store.erased([]) == []
    second = {**AUDIT, "indicator_id": UNKNOWN, "recipients": 0}
    await store.mark_erased(UNKNOWN, second)
    await store.mark_erased(UNKNOWN, {**second, "operator": "again"})  # still erased, audited again
    assert await store.erased([UNKNOWN]) == [True]
    assert await store.audit_log(10) == [AUDIT, second, {**second, "operator": "again"}]  # oldest first
    assert await store.audit_log(2) == [second, {**second, "operator": "again"}]  # the latest ones
    assert await store.audit_log(0) == []


async def test_no_new_state_of_an_erased_indicator_is_committed_but_an_existing_one_still_moves(
    store: Store,
) -> None:
    """An erasure of a value nobody had reported yet can land between a merge's read (no state, not erased)
    and its commit. Before, the commit created the state, and the erased value was published. Now it loses
    like a moved revision (with its marks and counters), so the merge reads again and refuses it; a state
    that exists is still guarded by its revision, which the erasure's own final version moves."""
    fresh = state_of(7)
    other = state_of(8)
    [(state, _)], seen, erased = await store.load_for_merge([fresh.indicator_id], refs(fresh, "late"))
    assert (state, seen, erased) == (None, [None], [False])
    await store.mark_erased(fresh.indicator_id, {**AUDIT, "indicator_id": fresh.indicator_id})
    new = [
        Commit(fresh, None, ["late"], True, {"accepted": 1}),
        Commit(other, None, ["other"], True, {"n": 1}),
    ]
    assert await store.commit(new) == [False, True]  # only the erased one loses; the other commits
    assert await store.load_states([fresh.indicator_id]) == [(None, {})]
    assert await store.seen_submissions(refs(fresh, "late")) == [None]
    assert "accepted" not in await store.stats()
    # A state that exists is not this check's business: its erasure's final version is a compare-and-set.
    await store.mark_erased(other.indicator_id, {**AUDIT, "indicator_id": other.indicator_id})
    [(current, _)] = await store.load_states([other.indicator_id])
    assert current is not None
    moved = replace(current, rev=current.rev + 1, revoked=True)
    assert await store.commit([Commit(moved, current.rev, [], True, replace=True)]) == [True]


async def test_deleting_an_indicator_removes_its_state_marks_enrichment_and_sightings_only(
    store: Store,
) -> None:
    other = state_of(1)
    sco, other_sco = "phone-number--11111111-1111-5111-8111-111111111111", "domain-name--other"
    mine = [
        f"sighting:telco:{STATE.indicator_id}:true_positive",
        f"sighting:bank:{STATE.indicator_id}:blocked",
    ]
    theirs = f"sighting:telco:{other.indicator_id}:true_positive"
    await store.commit([Commit(STATE, None, ["s1", *mine], True), Commit(other, None, ["s2", theirs], True)])
    await store.mark_delivered(
        [Delivery(STATE.indicator_id, "telco", 1, False), Delivery(other.indicator_id, "telco", 1, False)]
    )
    await store.cache({sco: {"carrier": "x"}, other_sco: {"ns": []}}, 3600)
    await store.mark_erased(STATE.indicator_id, AUDIT)

    await store.delete_indicator(STATE.indicator_id, sco)

    assert await store.load_states([STATE.indicator_id, other.indicator_id]) == [
        (None, {}),
        (other, {"telco": 1}),
    ]
    marks = [*refs(STATE, *mine), *refs(other, theirs), *refs(STATE, "s1")]
    assert await store.seen_submissions(marks) == [None, None, True, True]  # s1 is a report's: it stays
    assert await store.cached([sco, other_sco]) == [None, {"ns": []}]
    assert await store.erased([STATE.indicator_id]) == [True]  # the marker outlives the state
    assert await store.audit_log(10) == [AUDIT]
    assert [s.indicator_id for s in (await store.scan_states(0, 100))[1]] == [other.indicator_id]
    await store.delete_indicator(STATE.indicator_id, sco)  # again: nothing left, no error


async def test_a_replacing_commit_drops_what_the_new_state_no_longer_has_but_keeps_deliveries(
    store: Store,
) -> None:
    assert await store.commit([Commit(STATE, None, [], True)]) == [True]
    await store.mark_delivered([Delivery(STATE.indicator_id, "telco", STATE.version, False)])
    emptied = replace(STATE, contributions=(), audiences=(), revoked=True, rev=STATE.rev + 1)
    assert await store.commit([Commit(emptied, STATE.rev, [], True, replace=True)]) == [True]
    [(loaded, delivered)] = await store.load_states([STATE.indicator_id])
    assert loaded == emptied and delivered == {"telco": STATE.version}
