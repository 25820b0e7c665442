"""``scamshare bench gateway``: lookup and TAXII page latency of a real gateway process, over loopback.

Builds its data directly in Redis (fast, synthetic): ``states`` indicator states for lookups, and one
collection grown to each of ``sizes`` objects. Then a gateway process (``scamshare gateway``) answers an
HTTP/1.1 client in this process: single lookups and 1,000-value batches at a fixed concurrency, and
1,000-object TAXII pages read from random positions of the collection. Prints percentiles; never fails on
speed.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis

from pipeline.canon import Canonical, canonicalize
from pipeline.config import Settings
from pipeline.dev.gateway import GatewayProcess
from pipeline.processors.merge import merge
from pipeline.processors.score import ScoreModel
from pipeline.processors.validate import Report
from pipeline.state.apikeys import RedisApiKeys
from pipeline.state.collections import RedisCollections
from pipeline.state.org import Organisation, Quotas, Role
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Commit
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP

ORG = "bench-bank"
SUB = "bench-bank-feed"
TAXII = "application/taxii+json;version=2.1"


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"n": len(ordered), "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 2)}  # fmt: skip


def phone(n: int) -> str:
    return f"+6681{n:07d}"


async def seed_states(store: RedisStore, count: int, now_ms: int) -> list[Canonical]:
    model = ScoreModel(default_trust=0.6)
    values = []
    commits = []
    for n in range(count):
        c = canonicalize("phone", phone(n))
        assert isinstance(c, Canonical)
        values.append(c)
        report = Report(f"bench-{n}", ORG, c, TLP.GREEN, 80, ("investment",), False, now_ms, now_ms)
        commits.append(Commit(merge(None, report, model, now_ms).state, None, [report.submission_id], True))
    for start in range(0, len(commits), 500):
        await store.commit(commits[start : start + 500])
    return values


def synthetic_object(n: int) -> tuple[str, str, str, bytes]:
    oid = f"indicator--{uuid.UUID(int=n + 1)}"
    stamp = "2026-12-02T00:00:00.000Z"
    raw = orjson.dumps({
        "type": "indicator", "spec_version": "2.1", "id": oid, "created": stamp, "modified": stamp,
        "pattern": f"[phone-number:value = '{phone(n)}']", "pattern_type": "stix", "valid_from": stamp,
        "confidence": 80, "indicator_types": ["malicious-activity"],
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    })  # fmt: skip
    return oid, "indicator", stamp, raw


async def grow(collections: RedisCollections, have: int, want: int, chunk: int = 5000) -> float:
    """Add objects ``have``..``want`` to the bench collection; returns the seconds it took."""
    started = time.perf_counter()
    now_us = int(time.time() * 1_000_000)
    for start in range(have, want, chunk):
        objects = [synthetic_object(n) for n in range(start, min(want, start + chunk))]
        await collections.add(SUB, objects, now_us)
    return time.perf_counter() - started


async def timed(n: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    """Run ``call(i)`` for i < n, ``concurrency`` at a time; each call's duration in seconds."""
    samples: list[float] = []
    queue = iter(range(n))

    async def lane() -> None:
        for i in queue:
            started = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return samples


async def _lookups(
    http: httpx.AsyncClient, values: Sequence[Any], states: int, *, singles: int, batches: int,
    concurrency: int, rng: random.Random, progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Single lookups (half hits, half misses) at ``concurrency``, then 1,000-value batches two at a time."""
    result: dict[str, Any] = {}
    for warm in range(50):  # connections, code paths, libphonenumber's metadata
        await http.get(f"/v1/lookup/phone/{phone(warm)}")

    async def single(_i: int) -> None:
        r = await http.get(f"/v1/lookup/phone/{phone(rng.randrange(states * 2))}")
        assert r.status_code == 200, r.text

    result["lookup_single"] = percentiles(await timed(singles, concurrency, single))
    progress(f"single lookups at concurrency {concurrency}: {result['lookup_single']}")
    # One at a time too: the latency of a lookup itself, without 8 clients queueing on 2 cores.
    result["lookup_single_concurrency_1"] = percentiles(await timed(singles // 2, 1, single))
    progress(f"single lookups one at a time: {result['lookup_single_concurrency_1']}")
    body = [{"kind": "phone", "value": values[rng.randrange(states)].value} for _ in range(500)]
    body += [{"kind": "phone", "value": phone(states + n)} for n in range(500)]  # misses

    async def batch(_i: int) -> None:
        r = await http.post("/v1/lookup", json={"items": body})
        assert r.status_code == 200, r.text

    result["lookup_batch_1000"] = percentiles(await timed(batches, 2, batch))
    progress(f"1,000-value batches: {result['lookup_batch_1000']}")
    return result


async def _pages(
    http: httpx.AsyncClient, collections: RedisCollections, sizes: Sequence[int], *, pages: int,
    rng: random.Random, progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """A 1,000-object page from a random point of the collection, at each size it is grown to."""
    from pipeline.gateway.taxii_common import collection_id, stamp  # noqa: PLC0415

    objects_url = f"/taxii2/api/collections/{collection_id(SUB)}/objects/"
    result: dict[str, Any] = {}
    have = 0
    for size in sizes:
        built = await grow(collections, have, size)
        have = size
        progress(f"collection at {size:,} objects (built in {built:.1f} s)")
        first = (await collections.page(SUB, after_us=None, limit=1)).entries[0].date_added_us
        last = await collections.last_added_us(SUB) or first

        async def page(_i: int, first: int = first, last: int = last) -> None:
            after = rng.randrange(first, max(first + 1, last - 2000))
            params = {"limit": "1000", "added_after": stamp(after)}
            r = await http.get(objects_url, params=params, headers={"Accept": TAXII})
            assert r.status_code == 200, r.text

        timing = percentiles(await timed(pages, 2, page))
        result[f"taxii_page_1000_at_{size}"] = {**timing, "build_s": round(built, 1)}
        progress(f"pages at {size:,}: {result[f'taxii_page_1000_at_{size}']}")
    return result


async def run_gateway_bench(
    settings: Settings,
    *,
    env: Mapping[str, str],
    log: Path,
    states: int = 5000,
    sizes: Sequence[int] = (100_000, 1_000_000),
    singles: int = 2000,
    batches: int = 60,
    pages: int = 40,
    concurrency: int = 8,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    url = settings.redis_url_value()
    assert url is not None
    client = aioredis.Redis.from_url(url)
    prefix = settings.redis_key_prefix
    store = RedisStore(client, prefix=prefix)
    collections = RedisCollections(client, prefix)
    now_ms = int(time.time() * 1000)
    roles: frozenset[Role] = frozenset({"producer", "subscriber"})
    await store.put_organisation(
        Organisation(id=ORG, name="Bench bank", sector="bank", roles=roles, quotas=Quotas())
    )
    await store.put_subscription(Subscription(id=SUB, name="bench", sector="bank", organisation=ORG))
    token, _ = await RedisApiKeys(client, prefix).create(ORG, "bench", now_ms)
    values = await seed_states(store, states, now_ms)
    progress(f"{states} indicator states written")
    rng = random.Random(2026)
    result: dict[str, Any] = {"concurrency": concurrency, "states": states}
    try:
        with GatewayProcess(settings, log, env=env) as gw:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as http:
                result |= await _lookups(http, values, states, singles=singles, batches=batches,
                                         concurrency=concurrency, rng=rng, progress=progress)  # fmt: skip
                result |= await _pages(http, collections, sizes, pages=pages, rng=rng, progress=progress)
        info = await client.info("memory")
        result["redis_used_memory_mb"] = round(int(info["used_memory"]) / 1e6, 1)
    finally:
        await client.aclose()
    result["targets"] = {
        "lookup_single_p99_ms": 10,
        "lookup_batch_1000_p99_ms": 50,
        "taxii_page_1m_p99_ms": 100,
    }
    return result
