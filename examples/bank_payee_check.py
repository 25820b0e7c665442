"""A bank screens payees against its local copy of the scamshare feed.

``sync`` reads new feed items into a local JSON file (indicator id → what the bank needs to know), dropping
indicators that are no longer active (and taking back those that become active again), and commits
only after the file is written. ``check`` canonicalises a payee's account,
wallet or phone number the same way the exchange does, so ``+66 81 234 5678`` and ``081-234-5678`` (TH)
find the same entry, and looks its deterministic indicator id up in the local copy. Offline: no broker.

    python examples/bank_payee_check.py sync --subscriber bank-sg --db payees.json
    python examples/bank_payee_check.py check --db payees.json --iban "GB82 WEST 1234 5698 7654 32"
    python examples/bank_payee_check.py check --db payees.json --phone "081-234-5678" --country TH --json

``check`` exits 0 when every payee detail is clear and 3 when one is a known scam indicator.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.canon import Canonical, canonicalize
from pipeline.config import Settings
from pipeline.dev.control import with_dev_stack
from pipeline.subscribers.consumer import FeedConsumer, FeedItem

EXIT_SCAM = 3


def load_db(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def save_db(path: Path, db: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(db, indent=1, sort_keys=True))
    os.replace(tmp, path)  # atomic: a crash leaves the old copy, and the feed offsets were not committed


def apply(db: dict[str, dict[str, Any]], item: FeedItem) -> None:
    """Fold one feed item into the local copy: an item that is not active (suppressed, withdrawn, expired,
    revoked, erased) removes the entry; a later active version of it puts it back."""
    if not item.active:
        db.pop(item.indicator_id, None)
        return
    sco = item.observable or {}
    db[item.indicator_id] = {
        "type": sco.get("type"),
        "value": item.observable_value,
        "score": item.score,
        "scam_types": item.extension.get("scam_types", []),
        "version": item.version,
    }


@click.group()
def main() -> None:
    """Payee screening against a local copy of a scamshare feed."""


@main.command()
@click.option("--subscriber", required=True, help="The bank's subscriber id.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), required=True, help="Local copy (JSON).")
@click.option(
    "--bootstrap", default=None, help="Kafka bootstrap [env SCAMSHARE_BOOTSTRAP; default dev stack]."
)
@click.option("--idle-timeout", type=float, default=5.0, show_default=True, help="Stop after S idle seconds.")
def sync(subscriber: str, db_path: Path, bootstrap: str | None, idle_timeout: float) -> None:
    """Bring the local copy up to date with the feed."""
    settings = with_dev_stack(Settings().replace(bootstrap=bootstrap), redis=False)
    db = load_db(db_path)
    with FeedConsumer(settings, subscriber, commit_every=0) as feed:
        changed = 0
        for item in feed.items(idle_timeout_s=idle_timeout):
            apply(db, item)
            feed.ack(item)
            changed += 1
            if changed % 500 == 0:
                save_db(db_path, db)
                feed.commit()
        save_db(db_path, db)
        feed.commit()
    click.echo(f"{changed} update(s); {len(db)} indicator(s) in {db_path}")


@main.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--iban", default=None)
@click.option("--account", default=None, help="National account number (with --country).")
@click.option("--wallet", default=None)
@click.option("--phone", default=None)
@click.option("--country", default=None, help="ISO alpha-2, for national phone and account numbers.")
@click.option("--json", "as_json", is_flag=True)
def check(  # noqa: PLR0917  (click passes options positionally by name)
    db_path: Path, iban: str | None, account: str | None, wallet: str | None, phone: str | None,
    country: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Check payee details; exit 3 if one is a known scam indicator."""
    db = load_db(db_path)
    queries = [("bank-account", iban), ("bank-account", account), ("wallet", wallet), ("phone", phone)]
    results: list[dict[str, Any]] = []
    for kind, value in queries:
        if not value:
            continue
        c = canonicalize(kind, value, country=country)
        if not isinstance(c, Canonical):
            results.append({"input": value, "verdict": "invalid", "reason": c.reason})
            continue
        hit = db.get(c.indicator_id)
        result: dict[str, Any] = {"input": value, "canonical": c.value, "indicator_id": c.indicator_id}
        result["verdict"] = "scam" if hit else "clear"
        if hit:
            result["match"] = hit
        results.append(result)
    if not results:
        raise click.UsageError("give at least one of --iban, --account, --wallet, --phone")
    if as_json:
        click.echo(json.dumps(results))
    else:
        for r in results:
            detail = (
                f" (score {r['match']['score']}, {', '.join(r['match']['scam_types'])})"
                if "match" in r
                else ""
            )
            click.echo(f"{r['verdict'].upper():7} {r['input']}{detail}")
    sys.exit(EXIT_SCAM if any(r["verdict"] == "scam" for r in results) else 0)


if __name__ == "__main__":
    main()
