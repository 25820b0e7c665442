"""``scamshare normalize TYPE VALUE``: show the canonical form, STIX ids and pattern of one indicator."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.canon import KINDS, Canonical, canonicalize
from pipeline.cli.context import print_json

#: Exit code for a value that cannot be canonicalised (click's own usage errors also exit 2).
EXIT_INVALID = 2


def result_dict(c: Canonical) -> dict[str, Any]:
    """The JSON shape of ``normalize --json``: ids, pattern, SCO properties, then every fact."""
    out: dict[str, Any] = {
        "type": c.kind,
        "value": c.value,
        "sco_type": c.sco_type,
        "id": c.sco_id,
        "indicator_id": c.indicator_id,
        "pattern": c.pattern,
        "props": dict(c.props),
    }
    for key, fact in c.facts.items():
        out.setdefault(key, fact)
    return out


def _table(c: Canonical) -> Table:
    rows = [
        ("type", f"{c.kind} ({c.sco_type})"),
        ("value", c.value),
        ("id", c.sco_id),
        ("indicator id", c.indicator_id),
        ("pattern", c.pattern),
    ]
    rows += [(k, v) for k, v in c.props.items() if k != "value"]
    rows += [(k, v) for k, v in c.facts.items() if k not in c.props]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, cell in rows:
        # Text, not markup: patterns and values are full of '[' that rich would read as style tags.
        table.add_row(Text(key), Text(cell))
    return table


@click.command("normalize")
@click.argument("kind", metavar="TYPE", type=click.Choice(KINDS, case_sensitive=False))
@click.argument("value")
@click.option(
    "--country",
    metavar="CC",
    default=None,
    help="ISO 3166 alpha-2 country for national formats (phone numbers, bank account numbers).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def normalize(kind: str, value: str, country: str | None, as_json: bool) -> None:
    """Canonicalise VALUE of TYPE and print its canonical form, STIX ids and pattern.

    \b
    Examples:
      scamshare normalize phone "081 234 5678" --country TH
      scamshare normalize url "hxxps://evil[.]example/login" --json
      scamshare normalize imei "35-209900-176148-1"
    """
    result = canonicalize(kind.lower(), value, country=country)
    if not isinstance(result, Canonical):
        if as_json:
            print_json({"error": result.reason, "type": result.kind, "value": result.value})
        else:
            click.echo(f"error: {kind} {value!r}: {result.reason}", err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        print_json(result_dict(result))
        return
    Console(highlight=False, soft_wrap=True).print(_table(result))


__all__ = ["normalize", "result_dict"]
