"""Publishing versions with their enrichment, on the in-memory store: online lookups are cached for a TTL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.canon import Canonical
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.enrich import default_enrichers, load_config
from pipeline.processors.merge import merge
from pipeline.processors.record_wire import HEADER_ROUTING, read_record
from pipeline.processors.score import ScoreModel
from pipeline.state.memory_store import MemoryStore
from pipeline.wire.headers import HEADER_SUBMITTED_MS
from pipeline.worker.online import Guarded
from pipeline.worker.versions import VersionPublisher
from tests.unit.processors.factories import T0, SteppedClock, canonical, report
from tests.unit.worker.helpers import TOPICS

DOMAIN = merge(None, report("domain", "kbank-verify23.com"), ScoreModel(), T0).state
PHONE = merge(None, report(), ScoreModel(), T0).state
SCO_ID = canonical("domain", "kbank-verify23.com").sco_id


class CountingLookup:
    """An online enricher that answers at once and counts its calls."""

    name = "counting"
    kinds = frozenset({"domain"})

    def __init__(self) -> None:
        self.calls = 0

    async def lookup(self, c: Canonical) -> Mapping[str, Any]:
        self.calls += 1
        return {"registered": "2026-11-01", "call": self.calls}


def enrichment_of(value: bytes) -> dict[str, Any]:
    record = orjson.loads(value)
    indicator = next(o for o in record["views"]["1"]["bundle"]["objects"] if o["type"] == "indicator")
    result: dict[str, Any] = next(iter(indicator["extensions"].values()))["enrichment"]
    return result


async def test_each_state_is_queued_keyed_by_its_id_with_the_send_time_when_known() -> None:
    out = ListEmitter()
    publisher = VersionPublisher(MemoryStore(), out, TOPICS, ScoreModel())
    await publisher.send([(DOMAIN, 1795347605000), (PHONE, None)], T0)
    [(topic, key, value, headers), (_, phone_key, _, phone_headers)] = out.messages
    assert (topic, key) == (TOPICS.indicators, DOMAIN.indicator_id.encode())
    assert orjson.loads(value)["version"] == DOMAIN.version == 1
    assert dict(headers)[HEADER_SUBMITTED_MS] == b"1795347605000"
    assert phone_key == PHONE.indicator_id.encode()
    assert HEADER_SUBMITTED_MS not in dict(phone_headers)
    # Fan-out routes from this header and forwards bundle slices of the value (record_wire).
    assert read_record(value, dict(headers)[HEADER_ROUTING]).view.indicator_id == DOMAIN.indicator_id
    assert out.flushed == 0  # the caller flushes


async def test_offline_enrichment_is_on_the_record_and_never_cached() -> None:
    store, out = MemoryStore(), ListEmitter()
    publisher = VersionPublisher(
        store, out, TOPICS, ScoreModel(), default_enrichers(load_config(), plugins=False)
    )
    await publisher.send([(DOMAIN, None)], T0)
    enrichment = enrichment_of(out.messages[0][2])
    assert (enrichment["lookalike_of"], enrichment["lookalike"]) == ("kbank", "contains")
    assert await store.cached([SCO_ID]) == [None]  # recomputing costs less than a round trip


async def test_online_lookups_are_cached_in_the_store_until_their_ttl_runs_out() -> None:
    clock = SteppedClock()
    store, out, lookup = MemoryStore(now=clock), ListEmitter(), CountingLookup()
    publisher = VersionPublisher(
        store, out, TOPICS, ScoreModel(), online=[Guarded(lookup, timeout_s=1)], enrichment_ttl_s=3600
    )
    await publisher.send([(DOMAIN, None), (PHONE, None)], T0)  # the lookup applies to domains only
    await publisher.send([(DOMAIN, None)], T0)
    assert lookup.calls == 1  # the second version was served from the store
    assert [enrichment_of(m[2]).get("call") for m in out.messages] == [1, None, 1]
    assert await store.cached([SCO_ID]) == [{"registered": "2026-11-01", "call": 1}]
    clock.advance(3601)
    await publisher.send([(DOMAIN, None)], T0)
    assert lookup.calls == 2
    assert enrichment_of(out.messages[-1][2])["call"] == 2


async def test_a_canonical_the_caller_knows_gives_the_record_canonicalising_again_would() -> None:
    # Ingest hands over the reports' Canonical instead of canonicalising the stored value a second time.
    async def record(known: dict[str, Canonical] | None) -> dict[str, Any]:
        out = ListEmitter()
        await VersionPublisher(MemoryStore(), out, TOPICS, ScoreModel()).send([(PHONE, None)], T0, known)
        doc: dict[str, Any] = orjson.loads(out.messages[0][2])
        for view in doc["views"].values():
            view["bundle"]["id"] = "bundle--x"  # each build names its bundle afresh
        return doc

    c = canonical("phone", PHONE.value)
    assert c.indicator_id == PHONE.indicator_id
    assert await record({PHONE.indicator_id: c}) == await record(None)
