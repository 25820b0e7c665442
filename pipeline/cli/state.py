"""``scamshare state layout | migrate``: the Redis key layout's version, and moving an earlier one's keys."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.state.redis_layout import check_layout, migrate_layout
from pipeline.state.redis_store import LAYOUT, RedisStore


@click.group("state")
def state() -> None:
    """The state in Redis: its key layout, and the migration from an earlier one."""


def _store(
    obj: CliContext, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> RedisStore:
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)
    return RedisStore.from_settings(settings)


@state.command("layout")
@connection_options
@click.pass_obj
@handle_errors
def layout_cmd(
    obj: CliContext, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """Check the key layout as a starting worker does: exit 0 if this code can run on it (a fresh Redis
    is marked with it), else name the migration and exit 2."""
    store = _store(obj, bootstrap, redis_url, kafka_option)

    async def main() -> None:
        try:
            await check_layout(store)
        finally:
            await store.close()

    asyncio.run(main())
    print_json({"layout": LAYOUT, "ok": True})


@state.command("migrate")
@connection_options
@click.pass_obj
@handle_errors
def migrate_cmd(
    obj: CliContext, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """Move the keys of key layout 1 to this code's layout (hash tags per indicator shard, for Redis
    Cluster). Stop every worker first and let the input topics drain; idempotent. Prints what moved."""
    store = _store(obj, bootstrap, redis_url, kafka_option)

    async def main() -> dict[str, Any]:
        try:
            return (await migrate_layout(store)).to_json()
        finally:
            await store.close()

    print_json(asyncio.run(main()))
