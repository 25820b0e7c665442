"""``scamshare subscribers add | update | remove | list | load FILE | backfill ID``.

Subscriptions live in Redis; running workers re-read them within about a second, so every change applies
without a restart. ``add`` and ``load`` also create the subscriber's feed topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

import click
from rich.table import Table
from rich.text import Text

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.config import Settings
from pipeline.state.org import Sector
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from pipeline.subscribers.subscriptions import SubscriptionError, apply_update, load_file, parse_subscription

T = TypeVar("T")

SECTORS: tuple[str, ...] = get_args(Sector)


def run_store(settings: Settings, fn: Callable[[RedisStore], Awaitable[T]]) -> T:

    async def main() -> T:
        store = RedisStore.from_settings(settings)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _ensure_feeds(settings: Settings, subs: list[Subscription]) -> dict[str, str]:
    from pipeline.kafka.clients import build_admin  # noqa: PLC0415
    from pipeline.kafka.topics import ensure_topics, feed_topic_spec  # noqa: PLC0415

    specs = [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in subs]
    return ensure_topics(build_admin(settings), specs)


async def check_owner(store: RedisStore, subs: list[Subscription]) -> None:
    """Every subscription belongs to a registered organisation with the subscriber role."""
    _rev, orgs = await store.organisations()
    subscribers = {o.id for o in orgs if o.subscribes}
    for sub in subs:
        if sub.organisation not in subscribers:
            known = {o.id for o in orgs}
            why = "has no subscriber role" if sub.organisation in known else "is not registered"
            raise SubscriptionError(
                f"{sub.id}: organisation {sub.organisation!r} {why}: "
                f"`scamshare orgs add {sub.organisation} --role subscriber ...` first"
            )


def _sync(settings: Settings, subs: list[Subscription]) -> None:
    """Re-apply the ACLs of the organisations these subscriptions belong to (their feeds changed)."""
    from pipeline.cli.orgsync import sync_org  # noqa: PLC0415

    for org_id in sorted({s.organisation for s in subs}):
        sync_org(settings, org_id)


def _csv(value: str | None) -> list[str] | None:
    """``"TH,SG"`` → ``["TH", "SG"]``; ``""`` or ``"any"`` → ``[]`` (every); None → not given."""
    if value is None:
        return None
    if value.strip().lower() in {"", "any", "all", "*"}:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def definition_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The fields of a subscription as options (all optional: ``update`` changes only those given)."""
    options = [
        click.option("--name", default=None, help="Display name."),
        click.option("--sector", type=click.Choice(SECTORS), default=None),
        click.option("--organisation", "--org", default=None, help="The organisation's producer id."),
        click.option("--countries", default=None, metavar="CC,..", help="ISO alpha-2 codes; 'any' = every."),
        click.option("--types", default=None, metavar="TYPE,..", help="Indicator types; 'any' = every."),
        click.option("--scam-types", default=None, metavar="TYPE,..", help="Scam types; 'any' = every."),
        click.option("--min-score", type=int, default=None, help="Minimum score 0..100."),
        click.option("--tlp", default=None, help="Clearance: clear, green, amber, amber+strict."),
        click.option("--feed-topic", default=None, help="Feed topic (default <prefix>feed.<id>)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _fields(**given: Any) -> dict[str, Any]:
    out = {k: v for k, v in given.items() if k not in {"countries", "types", "scam_types"}}
    for key in ("countries", "types", "scam_types"):
        out[key] = _csv(given.get(key))
    return {k: v for k, v in out.items() if v is not None}


@click.group("subscribers")
def subscribers() -> None:
    """Manage subscriptions: who receives which indicators (changes apply to running workers)."""


@subscribers.command("add")
@click.argument("sub_id", metavar="ID")
@definition_options
@click.option("--json", "as_json", is_flag=True, help="Print the stored subscription as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def add(
    obj: CliContext, /, sub_id: str, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str], **definition: Any,
) -> None:  # fmt: skip
    """Add subscriber ID and create its feed topic. Needs --name, --sector and --organisation."""
    sub = parse_subscription({"id": sub_id, **_fields(**definition)})
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def put(store: RedisStore) -> None:
        _rev, subs = await store.subscriptions()
        if any(s.id == sub.id for s in subs):
            raise SubscriptionError(
                f"subscriber {sub.id!r} exists: use `scamshare subscribers update {sub.id}`"
            )
        await check_owner(store, [sub])
        await store.put_subscription(sub)

    run_store(settings, put)
    _ensure_feeds(settings, [sub])
    _sync(settings, [sub])
    _report(obj, "added", sub, settings, as_json)


@subscribers.command("update")
@click.argument("sub_id", metavar="ID")
@definition_options
@click.option("--json", "as_json", is_flag=True, help="Print the stored subscription as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def update(
    obj: CliContext, /, sub_id: str, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str], **definition: Any,
) -> None:  # fmt: skip
    """Change the given fields of subscriber ID; the others keep their values."""
    changes = _fields(**definition)
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def change(store: RedisStore) -> Subscription:
        _rev, subs = await store.subscriptions()
        current = next((s for s in subs if s.id == sub_id), None)
        if current is None:
            raise SubscriptionError(f"no subscriber {sub_id!r}: add it with `scamshare subscribers add`")
        new = apply_update(current, changes)
        await check_owner(store, [new])
        await store.put_subscription(new)
        return new

    before = run_store(settings, lambda store: store.subscriptions())[1]
    sub = run_store(settings, change)
    if "feed_topic" in changes:
        _ensure_feeds(settings, [sub])
    _sync(settings, [sub, *[s for s in before if s.id == sub_id]])
    _report(obj, "updated", sub, settings, as_json)


@subscribers.command("remove")
@click.argument("sub_id", metavar="ID")
@connection_options
@click.pass_obj
@handle_errors
def remove(
    obj: CliContext, sub_id: str, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """Remove subscriber ID: it receives nothing more. Its feed topic is kept (delete it yourself)."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    before = [s for s in run_store(settings, lambda store: store.subscriptions())[1] if s.id == sub_id]
    if not run_store(settings, lambda store: store.remove_subscription(sub_id)):
        raise SubscriptionError(f"no subscriber {sub_id!r}")
    _sync(settings, before)  # its organisation may no longer read the feed
    obj.console.print(f"removed {sub_id}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of subscriptions.")
@connection_options
@click.pass_obj
@handle_errors
def list_cmd(
    obj: CliContext, as_json: bool, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """List the subscriptions."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)
    _rev, subs = run_store(settings, lambda store: store.subscriptions())
    if as_json:
        print_json([{**s.to_json(), "topic": s.topic(settings.topic_prefix)} for s in subs])
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    for header in ("name", "sector", "organisation", "countries", "types", "min score", "tlp", "topic"):
        table.add_column(header, overflow="fold")
    for s in subs:
        cells = [
            s.id, s.name, s.sector, s.organisation, ",".join(sorted(s.countries)) or "any",
            ",".join(sorted(s.types)) or "any", str(s.min_score), s.to_json()["tlp"],
            s.topic(settings.topic_prefix),
        ]  # fmt: skip
        table.add_row(*(Text(c) for c in cells))
    obj.console.print(table)
    obj.console.print(f"{len(subs)} subscriber(s)")


@subscribers.command("load")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was loaded as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def load(
    obj: CliContext, path: Path, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Add or replace every subscription in a YAML FILE (all or nothing) and create their feed topics."""
    subs = load_file(path)
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    run_store(settings, lambda store: check_owner(store, subs))
    _ensure_feeds(settings, subs)

    async def put_all(store: RedisStore) -> list[str]:
        _rev, existing = await store.subscriptions()
        known = {s.id for s in existing}
        for sub in subs:
            await store.put_subscription(sub)
        return ["replaced" if s.id in known else "added" for s in subs]

    outcomes = run_store(settings, put_all)
    _sync(settings, subs)
    if as_json:
        print_json([{"id": s.id, "result": r} for s, r in zip(subs, outcomes, strict=True)])
        return
    for sub, outcome in zip(subs, outcomes, strict=True):
        obj.console.print(f"{outcome} {sub.id} → {sub.topic(settings.topic_prefix)}", markup=False)
    obj.console.print(f"{len(subs)} subscriber(s) loaded from {path}", markup=False)


@subscribers.command("backfill")
@click.argument("sub_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help='Print {"subscriber": ID, "delivered": N}.')
@connection_options
@click.pass_obj
@handle_errors
def backfill_cmd(
    obj: CliContext, sub_id: str, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Replay the current matching indicators into ID's feed; what it already has is not sent again."""
    from pipeline.subscribers.backfill import backfill  # noqa: PLC0415

    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    delivered = backfill(settings, sub_id)
    if as_json:
        print_json({"subscriber": sub_id, "delivered": delivered})
    else:
        obj.console.print(f"backfill {sub_id}: {delivered} indicator(s) delivered")


def _report(obj: CliContext, what: str, sub: Subscription, settings: Settings, as_json: bool) -> None:
    if as_json:
        print_json({**sub.to_json(), "topic": sub.topic(settings.topic_prefix)})
    else:
        obj.console.print(f"{what} {sub.id} → {sub.topic(settings.topic_prefix)}", markup=False)
