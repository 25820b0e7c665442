"""A telecom keeps a block-list file of scam phone numbers up to date from its scamshare feed.

The file holds one E.164 number per line, sorted. A new or updated phone indicator at or above
``--min-score`` adds its number; one that is no longer active (suppressed after false positives,
withdrawn, expired, revoked) or whose score fell below removes it, and a later active version adds it
back. The file is rewritten atomically before the feed offsets are committed, so a crash never loses an
update; a restart resumes where the last run stopped.

    python examples/telecom_blocklist.py --subscriber telco-th --blocklist blocked.txt --min-score 40
    python examples/telecom_blocklist.py --subscriber telco-th --blocklist blocked.txt --follow
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from pipeline.config import Settings
from pipeline.dev.control import with_dev_stack
from pipeline.subscribers.consumer import FeedConsumer, FeedItem


def read_blocklist(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    }


def write_blocklist(path: Path, numbers: set[str]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(f"{n}\n" for n in sorted(numbers)))
    os.replace(tmp, path)


def apply(numbers: set[str], item: FeedItem, min_score: int) -> bool:
    """Update the set from one feed item; True if it changed."""
    sco = item.observable or {}
    if sco.get("type") != "phone-number":
        return False
    number = str(sco["value"])
    before = number in numbers
    if not item.active or item.score < min_score:  # suppressed, withdrawn, expired, revoked, erased
        numbers.discard(number)
    else:
        numbers.add(number)
    return before != (number in numbers)


@click.command()
@click.option("--subscriber", required=True, help="The telecom's subscriber id.")
@click.option("--blocklist", type=click.Path(path_type=Path), required=True, help="The file to maintain.")
@click.option("--min-score", type=click.IntRange(0, 100), default=0, show_default=True)
@click.option("--follow", is_flag=True, help="Keep running (Ctrl-C to stop) instead of stopping when idle.")
@click.option("--idle-timeout", type=float, default=5.0, show_default=True, help="Stop after S idle seconds.")
@click.option(
    "--bootstrap", default=None, help="Kafka bootstrap [env SCAMSHARE_BOOTSTRAP; default dev stack]."
)
def main(  # noqa: PLR0917  (click passes options by name)
    subscriber: str, blocklist: Path, min_score: int, follow: bool, idle_timeout: float, bootstrap: str | None
) -> None:
    """Keep BLOCKLIST (one E.164 number per line) in step with the scam numbers on the feed."""
    settings = with_dev_stack(Settings().replace(bootstrap=bootstrap), redis=False)
    numbers = read_blocklist(blocklist)
    added_removed = [0, 0]

    def handle(item: FeedItem) -> None:
        before = len(numbers)
        if apply(numbers, item, min_score):
            write_blocklist(blocklist, numbers)  # before the commit that follows the handler
            added_removed[0 if len(numbers) > before else 1] += 1

    with FeedConsumer(settings, subscriber, commit_every=1) as feed, contextlib.suppress(KeyboardInterrupt):
        feed.run(handle, idle_timeout_s=None if follow else idle_timeout)
    if not blocklist.exists():
        write_blocklist(blocklist, numbers)
    click.echo(f"+{added_removed[0]} -{added_removed[1]}: {len(numbers)} number(s) in {blocklist}")


if __name__ == "__main__":
    main()
