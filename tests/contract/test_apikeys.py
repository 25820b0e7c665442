"""The ApiKeyStore and RateLimiter contracts, run against the in-memory and the Redis implementations.

What the gateway's authentication rests on: a key is shown once and stored only as a digest, a wrong or
altered secret never verifies, a revoked key fails on the very next check (no cache), one organisation
cannot revoke another's key; the rate limiter counts per credential per aligned window, does not count
refused requests, and its verdict says when to retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from pipeline.state.apikeys import ApiKeyStore, MemoryApiKeys, RedisApiKeys, digest, parse_token
from pipeline.state.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_store import glob_escape

NOW = 1_795_000_000_000  # ms (2026-11-18)
#: the Redis implementations run on a single server and on a Redis Cluster (SCAMSHARE_REDIS_CLUSTER)
REDIS_PARAMS = [
    pytest.param("redis", marks=pytest.mark.integration),
    pytest.param("cluster", marks=pytest.mark.integration),
]


async def _cleanup(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=glob_escape(prefix) + "*", count=1000)]
    for key in keys:  # one key per DEL: a Redis Cluster refuses keys of several slots in one
        await client.delete(key)


def secret_of(token: str) -> str:
    """The secret part of ``ssk_<12 hex>_<secret>`` (the secret itself may contain ``_``)."""
    return token[len("ssk_") + 13 :]


@asynccontextmanager
async def _redis(
    request: pytest.FixtureRequest, *, cluster: bool = False
) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client of the contract Redis, or of the 3-primary Redis Cluster (tests/contract/conftest)."""
    url: str = request.getfixturevalue("contract_cluster_url" if cluster else "contract_redis_url")
    prefix: str = request.getfixturevalue("contract_prefix")
    client = redis_from_url(url, cluster=cluster)
    try:
        yield client, prefix
    finally:
        await _cleanup(client, prefix)
        await client.aclose()


@pytest.fixture
async def redis_client(request: pytest.FixtureRequest) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    async with _redis(request) as found:
        yield found


@pytest.fixture(params=["memory", *REDIS_PARAMS])
async def keys(request: pytest.FixtureRequest) -> AsyncIterator[ApiKeyStore]:
    if request.param == "memory":
        yield MemoryApiKeys()
        return
    async with _redis(request, cluster=request.param == "cluster") as (client, prefix):
        yield RedisApiKeys(client, prefix)


@pytest.fixture(params=["memory", *REDIS_PARAMS])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    async with _redis(request, cluster=request.param == "cluster") as (client, prefix):
        yield RedisRateLimiter(client, prefix)


# -- keys -----------------------------------------------------------------------------------------------


async def test_a_created_key_verifies_as_its_org_and_lists_without_its_secret(keys: ApiKeyStore) -> None:
    token, key = await keys.create("bank-sg", "payments screening", NOW)
    assert token.startswith("ssk_") and parse_token(token) is not None
    found = await keys.verify(token)
    assert found is not None and found.org == "bank-sg" and found.key_id == key.key_id and found.active
    listed = await keys.list("bank-sg")
    assert [k.key_id for k in listed] == [key.key_id]
    assert listed[0].label == "payments screening" and listed[0].last4 == token[-4:]
    secret = secret_of(token)
    assert secret not in repr(listed[0].to_json())
    assert await keys.list("telco-th") == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the secret changed
        lambda t: t[:-1],  # truncated
        lambda t: t + "A",  # extended
        lambda t: t.upper(),  # key id no longer lower-case hex
        lambda t: "ssk_" + "0" * 12 + "_" + secret_of(t),  # right secret, unknown key id
        lambda t: "",
        lambda t: t * 40,  # long
    ],
    ids=["altered", "truncated", "extended", "case", "other-id", "empty", "long"],
)
async def test_a_wrong_or_malformed_token_never_verifies(keys: ApiKeyStore, mangle: object) -> None:
    token, _key = await keys.create("bank-sg", "k", NOW)
    assert callable(mangle)
    assert await keys.verify(mangle(token)) is None


async def test_a_token_is_bound_to_its_own_key_id(keys: ApiKeyStore) -> None:
    """Org B's secret under org A's key id does not verify (the secret is checked against that key)."""
    token_a, key_a = await keys.create("bank-sg", "a", NOW)
    token_b, _ = await keys.create("telco-th", "b", NOW)
    forged = f"ssk_{key_a.key_id}_{secret_of(token_b)}"
    assert await keys.verify(forged) is None
    assert (await keys.verify(token_a)) is not None


async def test_revoking_takes_effect_on_the_next_check_and_only_for_its_org(keys: ApiKeyStore) -> None:
    token, key = await keys.create("bank-sg", "k", NOW)
    other, _ = await keys.create("bank-sg", "k2", NOW + 1)
    assert await keys.verify(token) is not None
    assert not await keys.revoke("telco-th", key.key_id, NOW + 5)  # not its key
    assert await keys.verify(token) is not None
    assert await keys.revoke("bank-sg", key.key_id, NOW + 5)
    assert await keys.verify(token) is None
    assert not await keys.revoke("bank-sg", key.key_id, NOW + 6)  # already revoked
    assert not await keys.revoke("bank-sg", "not-a-key-id", NOW + 6)
    listed = {k.key_id: k for k in await keys.list("bank-sg")}
    assert listed[key.key_id].revoked_ms == NOW + 5 and not listed[key.key_id].active
    assert await keys.verify(other) is not None
    assert await keys.revoke_all("bank-sg", NOW + 7) == 1
    assert await keys.verify(other) is None
    assert await keys.revoke_all("bank-sg", NOW + 8) == 0


@pytest.mark.integration
async def test_redis_keeps_only_a_digest_of_the_secret(redis_client: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_client
    token, _key = await RedisApiKeys(client, prefix).create("bank-sg", "k", NOW)
    secret = secret_of(token)
    dump = b"".join(
        [k + b"".join(v) for k in [x async for x in client.scan_iter(match=glob_escape(prefix) + "*")]
         for v in [list((await client.hgetall(k)).values()) if await client.type(k) == b"hash"
                   else list(await client.smembers(k))]]
    )  # fmt: skip
    assert secret.encode() not in dump and token.encode() not in dump
    assert digest(secret).encode() in dump


# -- rate limits ----------------------------------------------------------------------------------------


async def test_the_limit_counts_per_key_per_window_and_refusals_are_not_counted(limiter: RateLimiter) -> None:
    start = NOW - NOW % 60_000
    seen = [await limiter.hit("k1", 3, 60, start + 1000) for _ in range(3)]
    assert [v.allowed for v in seen] == [True, True, True]
    assert [v.remaining for v in seen] == [2, 1, 0]
    assert seen[0].reset_s == 59 and seen[0].retry_after_s == 0 and seen[0].limit == 3
    refused = await limiter.hit("k1", 3, 60, start + 30_500)
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after_s == refused.reset_s == 30  # 29.5 s left, rounded up
    assert (await limiter.hit("k2", 3, 60, start + 30_500)).allowed  # another key has its own count
    again = await limiter.hit("k1", 3, 60, start + 60_000)  # the next window
    assert again.allowed and again.remaining == 2


async def test_a_cost_larger_than_what_is_left_is_refused_whole(limiter: RateLimiter) -> None:
    start = NOW - NOW % 60_000
    assert (await limiter.hit("k", 10, 60, start, cost=8)).remaining == 2
    assert not (await limiter.hit("k", 10, 60, start, cost=3)).allowed
    assert (await limiter.hit("k", 10, 60, start, cost=2)).remaining == 0
