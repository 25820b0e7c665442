"""``scamshare erase TYPE VALUE --reason TEXT`` and ``scamshare audit``: remove one wrongly reported value
everywhere the exchange holds it, and show the audit log of erasures (which never holds a value)."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Any, NoReturn

import click
from rich.table import Table
from rich.text import Text

from pipeline.canon import KINDS, Canonical, canonicalize
from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.config import Settings
from pipeline.ops.erasure import ErasureOutcome, ErasureRequest, erase, mentions_value
from pipeline.state.redis_store import RedisStore

#: A value that cannot be canonicalised, or a request refused before anything was changed.
EXIT_INVALID = 2
#: Not every past recipient has the erased version yet: run the same command again to resume.
EXIT_PENDING = 1


def interactive() -> bool:
    """Whether a person can answer the confirmation (stdin is a terminal; not in CI)."""
    return sys.stdin.isatty()


def _refuse(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_INVALID)


def _run(settings: Settings, request: ErasureRequest, timeout_s: float) -> ErasureOutcome:
    from pipeline.kafka.clients import build_producer  # noqa: PLC0415  (keeps `scamshare --help` fast)

    async def main() -> ErasureOutcome:
        store = RedisStore.from_settings(settings)
        try:
            return await erase(store, build_producer(settings), settings.topics, request, timeout_s=timeout_s)
        finally:
            await store.close()

    return asyncio.run(main())


def _say(obj: CliContext, outcome: ErasureOutcome, command: str) -> None:
    say = obj.console.print
    ind = outcome.indicator_id
    if not outcome.known:
        if outcome.already:
            say(f"{ind}: already erased; nothing left of it (tombstone written again)", markup=False)
        else:
            say(f"{ind}: the exchange held no report of this value; it is marked erased, so it can never "
                "be reported", markup=False)  # fmt: skip
        return
    if outcome.already:
        say(f"{ind}: already erased (resuming)", markup=False)
    if outcome.pending:
        obj.err.print(
            f"{ind}: erased version {outcome.version} published, but not yet received by "
            f"{', '.join(outcome.pending)}. Re-run `{command}` to resume: it waits for them, then removes "
            "what is left.",
            markup=False,
        )
        return
    say(f"{ind}: erased; the withdrawal reached {len(outcome.recipients) - len(outcome.unreachable)} past "
        "recipient(s); state, enrichment and sighting marks deleted", markup=False)  # fmt: skip
    if outcome.unreachable:
        obj.err.print(
            f"warning: past recipient(s) {', '.join(outcome.unreachable)} no longer have a subscription and "
            "could not be sent the withdrawal: tell them directly to delete it",
            markup=False,
        )


@click.command("erase")
@click.argument("kind", metavar="TYPE", type=click.Choice(KINDS, case_sensitive=False))
@click.argument("value")
@click.option("--reason", required=True, help="Why (kept in the audit log; must not contain the value).")
@click.option("--country", metavar="CC", default=None, help="ISO alpha-2 country for national formats.")
@click.option("--operator", metavar="NAME", default=None, help="Who asks (audit log) [default: login name].")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required when stdin is no terminal).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object {indicator_id, recipients, ...}."
)
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="S",
    help="Seconds to wait for every past recipient to receive the withdrawal.",
)  # fmt: skip
@connection_options
@click.pass_obj
@handle_errors
def erase_cmd(
    obj: CliContext, kind: str, value: str, reason: str, country: str | None, operator: str | None, yes: bool,
    as_json: bool, timeout_s: float, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Erase VALUE of TYPE everywhere the exchange holds it; it can never be reported again.

    Every past recipient gets a final withdrawal (STIX revoked, status "erased"); once all have it, the
    value's state, enrichment and sighting marks are deleted from Redis and its key is tombstoned on the
    indicators topic. An audit record (who, when, why, how many recipients — never the value) is kept.
    Running it again resumes an erasure that timed out.

    \b
    Example:
      scamshare erase phone "081 234 5678" --country TH --reason "ticket DPO-123: customer's own number"
    """
    c = canonicalize(kind.lower(), value, country=country)
    if not isinstance(c, Canonical):
        _refuse(f"cannot erase this {kind}: {c.reason}")
    if not reason.strip():
        _refuse("--reason is empty: say why (a ticket number, the request), without the value")
    if mentions_value(reason, value, c):
        _refuse("--reason contains the value: the audit log must never hold it; describe the request instead")
    if not yes:
        if not interactive():
            _refuse("stdin is not a terminal: pass --yes to erase without confirmation")
        click.confirm(
            f"Erase {c.kind} {c.value} ({c.indicator_id}) from the exchange and every subscriber feed? "
            "This cannot be undone",
            abort=True,
        )
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    request = ErasureRequest(c, reason.strip(), operator or getpass.getuser())
    outcome = _run(settings, request, timeout_s)
    if as_json:
        print_json(outcome.to_json())
    else:
        flag = f" --country {country}" if country else ""
        _say(obj, outcome, f"scamshare erase {c.kind} <value>{flag} --reason ... --yes")
    if outcome.pending:
        sys.exit(EXIT_PENDING)


@click.command("audit")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="The latest N.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of audit records.")
@connection_options
@click.pass_obj
@handle_errors
def audit_cmd(
    obj: CliContext, limit: int, as_json: bool, bootstrap: str | None, redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Print the audit log of erasures, oldest first (indicator ids, never values)."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, kafka=False)

    async def read() -> list[dict[str, Any]]:
        store = RedisStore.from_settings(settings)
        try:
            return await store.audit_log(limit)
        finally:
            await store.close()

    records = asyncio.run(read())
    if as_json:
        print_json(records)
        return
    table = Table()
    for header in ("at", "action", "indicator id", "kind", "operator", "recipients", "reason"):
        table.add_column(header, overflow="fold")
    for r in records:
        cells = (r.get("at"), r.get("action"), r.get("indicator_id"), r.get("kind"), r.get("operator"),
                 r.get("recipients"), r.get("reason"))  # fmt: skip
        table.add_row(*(Text(str(c if c is not None else "")) for c in cells))
    obj.console.print(table)
    obj.console.print(f"{len(records)} record(s)")


__all__ = ["audit_cmd", "erase_cmd", "interactive"]
