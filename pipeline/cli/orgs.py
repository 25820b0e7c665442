"""``scamshare orgs add | update | remove | list | load FILE | check | key``: the organisation registry.

Organisations live in Redis; running workers re-read them within about a second and subscribe to a new
organisation's topics within ``registry_refresh_s`` (+ a rebalance). ``add`` and ``load`` create the
organisation's own topics. On a broker with an authorizer (Apache Kafka with the StandardAuthorizer) they
also create its SCRAM-SHA-512 user (``auth: scram``; the secret is printed or written once, never stored)
and its literal ACLs; ``remove`` deletes its ACLs and user; ``check`` compares the broker's ACLs with what the
registry implies. The embedded broker has no ACLs: identity is by topic only there, and these commands say so.
Where the broker has client quotas (Apache Kafka), ``add``/``update``/``load`` also set the org's user's
producer byte rate (``--quota-producer-byte-rate``), ``remove`` removes it and ``check`` compares it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, get_args

import click
from rich.table import Table
from rich.text import Text

from pipeline.cli import orgsync
from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.cli.subscribers import run_store
from pipeline.state.org import (
    ROLES,
    Organisation,
    OrgError,
    Quotas,
    Sector,
    apply_org_update,
    load_orgs_file,
    parse_org,
)
from pipeline.state.redis_store import RedisStore

SECTORS: tuple[str, ...] = get_args(Sector)
#: What ``--quota-none`` stands for until the definition is built (None already means "not given").
UNLIMITED: Final = "unlimited"
#: (Quotas field, help text, default) of each ``--quota-…`` option.
QUOTA_OPTIONS: Final = tuple(
    (name, f"{str(field.description)[:1].upper()}{str(field.description)[1:]}", field.default)
    for name, field in Quotas.model_fields.items()
)


class QuotaValue(click.ParamType):
    """A quota on the command line: a count (validated by the model) or ``none`` for unlimited."""

    name = "quota"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) or value is None:
            return value
        text = str(value).strip().lower()
        if text in ("none", "unlimited"):
            return UNLIMITED
        try:
            return int(text.replace("_", ""))
        except ValueError:
            self.fail(f"{value!r} is not a whole number or 'none'", param, ctx)


QUOTA: Final = QuotaValue()


def definition_options(fn: Any) -> Any:
    """The fields of an organisation as options (all optional: ``update`` changes only those given)."""
    options = [
        click.option("--name", default=None, help="Display name."),
        click.option("--sector", type=click.Choice(SECTORS), default=None),
        click.option("--country", default=None, metavar="CC", help="ISO alpha-2 of its home country."),
        click.option(
            "--role", "roles", multiple=True, type=click.Choice(ROLES), help="producer and/or subscriber."
        ),
        click.option("--trust", type=float, default=None, help="Weight of its reports, 0..1 [default 0.5]."),
        click.option("--default-tlp", default=None, help="TLP of its unmarked reports [default amber]."),
        click.option(
            "--default-confidence",
            type=int,
            default=None,
            help="Confidence of its reports that state none, 0..100 [default 50].",
        ),
        *(
            click.option(
                f"--quota-{name.replace('_', '-')}",
                f"quota_{name}",
                type=QUOTA,
                default=None,
                metavar="N|none",
                help=f"{text} ('none': unlimited) [default {default}].",
            )
            for name, text, default in QUOTA_OPTIONS
        ),
        click.option("--auth", type=click.Choice(("scram", "mtls")), default=None, help="[default scram]"),
        click.option("--cert-cn", default=None, help="mTLS: subject CN of its client certificate."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _fields(roles: tuple[str, ...], **given: Any) -> dict[str, Any]:
    """The definition the options give; a quota given as ``none`` becomes None (unlimited)."""
    quotas = {name: given.pop(f"quota_{name}") for name, _text, _default in QUOTA_OPTIONS}
    out = {k: v for k, v in given.items() if v is not None}
    if roles:
        out["roles"] = list(roles)
    if any(v is not None for v in quotas.values()):
        out["quotas"] = {k: None if v is UNLIMITED else v for k, v in quotas.items() if v is not None}
    return out


def describe_quotas(quotas: Quotas) -> str:
    """``10000 new/h, 200 reports/s, 5000 sightings/h, 1048576 B/s``, with ``unlimited`` for None."""
    units = {"new_indicators_per_hour": "new/h", "reports_per_second": "reports/s",
             "sightings_per_hour": "sightings/h", "producer_byte_rate": "B/s"}  # fmt: skip
    return ", ".join(
        f"{'unlimited' if value is None else value} {units[name]}"
        for name, value in quotas.model_dump().items()
    )


@click.group("orgs")
def orgs() -> None:
    """Manage organisations: who may publish and subscribe, with what trust (and their Kafka identity)."""


@orgs.command("add")
@click.argument("org_id", metavar="ID")
@definition_options
@click.option(
    "--credentials-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the new user's credentials here (JSON, mode 0600) instead of printing the secret.",
)
@click.option("--public-bootstrap", default=None, metavar="HOST:PORT", help="Bootstrap to write for the org.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored organisation as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def add(
    obj: CliContext, /, org_id: str, roles: tuple[str, ...], credentials_out: Path | None,
    public_bootstrap: str | None, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str], **definition: Any,
) -> None:  # fmt: skip
    """Register organisation ID: its topics, and on Apache Kafka its user and ACLs. Needs --name, --sector
    and at least one --role."""
    org = parse_org({"id": org_id, **_fields(roles, **definition)})
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def put(store: RedisStore) -> None:
        _rev, known = await store.organisations()
        if any(o.id == org.id for o in known):
            raise OrgError(f"organisation {org.id!r} exists: use `scamshare orgs update {org.id}`")
        await store.put_organisation(org)

    run_store(settings, put)
    outcome = orgsync.provision(settings, org, credentials_out, public_bootstrap)
    _report(obj, "added", org, outcome, as_json)


@orgs.command("update")
@click.argument("org_id", metavar="ID")
@definition_options
@click.option("--json", "as_json", is_flag=True, help="Print the stored organisation as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def update(
    obj: CliContext, /, org_id: str, roles: tuple[str, ...], as_json: bool, bootstrap: str | None,
    redis_url: str | None, kafka_option: dict[str, str], **definition: Any,
) -> None:  # fmt: skip
    """Change the given fields of organisation ID (its ACLs follow a change of roles)."""
    changes = _fields(roles, **definition)
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def change(store: RedisStore) -> Organisation:
        _rev, known = await store.organisations()
        current = next((o for o in known if o.id == org_id), None)
        if current is None:
            raise OrgError(f"no organisation {org_id!r}: add it with `scamshare orgs add`")
        new = apply_org_update(current, changes)
        await store.put_organisation(new)
        return new

    org = run_store(settings, change)
    outcome = orgsync.provision(settings, org, None, None, create_user=False)
    _report(obj, "updated", org, outcome, as_json)


@orgs.command("remove")
@click.argument("org_id", metavar="ID")
@connection_options
@click.pass_obj
@handle_errors
def remove(
    obj: CliContext, org_id: str, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """Remove organisation ID: nothing it sends counts any more; on Apache Kafka its ACLs and user go.
    Its topics are kept (delete them yourself). Refused while subscriptions still belong to it."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def drop(store: RedisStore) -> bool:
        _rev, subs = await store.subscriptions()
        owned = sorted(s.id for s in subs if s.organisation == org_id)
        if owned:
            raise OrgError(f"{org_id!r} still owns subscription(s) {', '.join(owned)}: remove them first")
        return await store.remove_organisation(org_id)

    if not run_store(settings, drop):
        raise OrgError(f"no organisation {org_id!r}")
    note = orgsync.deprovision(settings, org_id)
    obj.console.print(f"removed {org_id}" + (f" ({note})" if note else ""), markup=False)


@orgs.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of organisations.")
@connection_options
@click.pass_obj
@handle_errors
def list_cmd(
    obj: CliContext, as_json: bool, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """List the registered organisations."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)
    _rev, known = run_store(settings, lambda store: store.organisations())
    if as_json:
        print_json([o.to_json() for o in known])
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    for header in ("name", "sector", "country", "roles", "trust", "default tlp", "default conf", "quotas",
                   "auth"):  # fmt: skip
        table.add_column(header, overflow="fold")
    for o in known:
        data = o.to_json()
        cells = [
            o.id, o.name, o.sector, o.country or "", ",".join(data["roles"]), f"{o.trust:g}",
            data["default_tlp"], str(o.default_confidence), describe_quotas(o.quotas),
            o.auth if o.auth == "scram" else f"mtls CN={o.cert_cn}",
        ]  # fmt: skip
        table.add_row(*(Text(c) for c in cells))
    obj.console.print(table)
    obj.console.print(f"{len(known)} organisation(s)")


@orgs.command("load")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--credentials-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where new users' credentials go (<dir>/<org>.json); needed when the broker has ACLs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was loaded as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def load(
    obj: CliContext, path: Path, credentials_dir: Path | None, as_json: bool, bootstrap: str | None,
    redis_url: str | None, kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Add or replace every organisation in a YAML FILE (all or nothing), with topics (and ACLs)."""
    loaded = load_orgs_file(path)
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)

    async def put_all(store: RedisStore) -> list[str]:
        _rev, existing = await store.organisations()
        known = {o.id for o in existing}
        for org in loaded:
            await store.put_organisation(org)
        return ["replaced" if o.id in known else "added" for o in loaded]

    outcomes = run_store(settings, put_all)
    results = []
    for org, outcome in zip(loaded, outcomes, strict=True):
        out = credentials_dir / f"{org.id}.json" if credentials_dir is not None else None
        sync = orgsync.provision(settings, org, out, None, create_user=outcome == "added", print_secret=False)
        results.append({"id": org.id, "result": outcome, **sync.to_json()})
    if as_json:
        print_json(results)
        return
    for r in results:
        obj.console.print(f"{r['result']} {r['id']} {r['summary']}", markup=False)
    obj.console.print(f"{len(loaded)} organisation(s) loaded from {path}", markup=False)


@orgs.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the drift as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def check(
    obj: CliContext, as_json: bool, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> None:
    """Compare the broker's ACLs with what the registry implies; exit 1 on any drift."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    report = orgsync.check(settings)
    if as_json:
        print_json(report.to_json())
    else:
        for line in report.lines():
            obj.console.print(line, markup=False)
    if not report.ok:
        raise SystemExit(1)


def _report(obj: CliContext, what: str, org: Organisation, sync: orgsync.Provisioned, as_json: bool) -> None:
    if as_json:
        print_json({**org.to_json(), **sync.to_json()})
        return
    obj.console.print(f"{what} {org.id}: {sync.summary}", markup=False)
    if sync.secret is not None:
        obj.console.print(
            f"password for Kafka user {org.id} (shown once, not stored): {sync.secret}", markup=False
        )


def _attach_keys() -> None:
    from pipeline.cli.orgkeys import key  # noqa: PLC0415  # its own module; `orgs key ...`

    orgs.add_command(key)


_attach_keys()
