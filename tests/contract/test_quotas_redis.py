"""The Redis quota queue under concurrent holds and releases (a real Redis server)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from pipeline.state.quotas import RedisQuotas
from pipeline.wire.message import InMessage


def _msg(offset: int) -> InMessage:
    return InMessage("t.submissions.org", 0, offset, None, b"{}")


async def test_a_message_held_while_the_last_one_is_released_is_never_orphaned(
    contract_redis_url: str, contract_prefix: str
) -> None:
    """Was a liveness bug: release() read ZCARD = 0, a hold ran, then release() removed the organisation
    from the set the release timer walks, so the new message was held for ever (seen as a flaky e2e)."""
    client = aioredis.Redis.from_url(contract_redis_url)
    quotas = RedisQuotas(client, contract_prefix)
    try:
        for offset in range(1, 201):
            held = await quotas.held("org", 10)
            # The release of everything held so far races a hold of one more message.
            await asyncio.gather(
                quotas.release("org", [m.source for m in held]), quotas.hold("org", [_msg(offset)])
            )
            left = await quotas.held_count("org")
            orgs = await quotas.held_orgs()
            assert left == 0 or "org" in orgs, f"{left} message(s) held but the organisation is not listed"
    finally:
        keys = [k async for k in client.scan_iter(match=contract_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
