"""``scamshare orgs key create | list | revoke ORG``: the API keys an organisation's HTTP clients use.

A key authenticates to the gateway as its organisation (``Authorization: Bearer <key>``). ``create`` prints
the key once; only a digest is stored, so a lost key is revoked and replaced, never recovered. ``revoke``
takes effect on the gateway's next request (keys are checked against Redis on every request).
"""

from __future__ import annotations

import time

import click
from rich.table import Table
from rich.text import Text

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.cli.subscribers import run_store
from pipeline.state.apikeys import ApiKey, RedisApiKeys
from pipeline.state.org import OrgError
from pipeline.state.redis_store import RedisStore


def _now_ms() -> int:
    return int(time.time() * 1000)


def _when(ms: int | None) -> str:
    return "" if ms is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


async def _registered(store: RedisStore, org_id: str) -> None:
    _rev, known = await store.organisations()
    if org_id not in {o.id for o in known}:
        raise OrgError(f"no organisation {org_id!r}: add it with `scamshare orgs add`")


def _keys(store: RedisStore, settings_prefix: str) -> RedisApiKeys:
    return RedisApiKeys(store.client, settings_prefix)


@click.group("key")
def key() -> None:
    """API keys for the HTTP gateway: create (shown once), list, revoke."""


@key.command("create")
@click.argument("org_id", metavar="ORG")
@click.option("--label", default="", help="What the key is for (shown in `orgs key list`).")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def create(
    obj: CliContext, org_id: str, label: str, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Create an API key for ORG and print it once (only its digest is stored)."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)

    async def make(store: RedisStore) -> tuple[str, ApiKey]:
        await _registered(store, org_id)
        return await _keys(store, settings.redis_key_prefix).create(org_id, label, _now_ms())

    token, made = run_store(settings, make)
    if as_json:
        print_json({"token": token, **made.to_json()})
        return
    obj.console.print(
        f"API key {made.key_id} for {org_id} (shown once, only a digest is stored):", markup=False
    )
    click.echo(token)


@key.command("list")
@click.argument("org_id", metavar="ORG")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of keys (never their secrets).")
@connection_options
@click.pass_obj
@handle_errors
def list_cmd(
    obj: CliContext, org_id: str, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """List ORG's API keys, revoked ones included."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)
    found = run_store(settings, lambda store: _keys(store, settings.redis_key_prefix).list(org_id))
    if as_json:
        print_json([k.to_json() for k in found])
        return
    table = Table()
    for header in ("key id", "label", "ends with", "created", "revoked"):
        table.add_column(header, overflow="fold")
    for k in found:
        table.add_row(
            *(Text(c) for c in (k.key_id, k.label, k.last4, _when(k.created_ms), _when(k.revoked_ms)))
        )
    obj.console.print(table)
    active = sum(k.active for k in found)
    obj.console.print(f"{len(found)} key(s), {active} active", markup=False)


@key.command("revoke")
@click.argument("org_id", metavar="ORG")
@click.argument("key_id", metavar="KEY_ID", required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every active key of ORG.")
@connection_options
@click.pass_obj
@handle_errors
def revoke(
    obj: CliContext, org_id: str, key_id: str | None, revoke_all: bool, bootstrap: str | None,
    redis_url: str | None, kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Revoke ORG's key KEY_ID (or --all): the gateway refuses it from its next request on."""
    if (key_id is None) == (not revoke_all):
        raise click.UsageError("give KEY_ID or --all (not both)")
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)
    prefix = settings.redis_key_prefix
    if revoke_all:
        count = run_store(settings, lambda store: _keys(store, prefix).revoke_all(org_id, _now_ms()))
        obj.console.print(f"revoked {count} key(s) of {org_id}", markup=False)
        return
    assert key_id is not None
    if not run_store(settings, lambda store: _keys(store, prefix).revoke(org_id, key_id, _now_ms())):
        raise OrgError(f"{org_id!r} has no active key {key_id!r} (see `scamshare orgs key list {org_id}`)")
    obj.console.print(f"revoked {key_id} of {org_id}", markup=False)
