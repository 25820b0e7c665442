"""``scamshare consume --subscriber ID``: print what a subscriber receives on its feed."""

from __future__ import annotations

import click
from rich.text import Text

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.subscribers.consumer import FeedConsumer, FeedItem, subscriber_group


def _line(item: FeedItem) -> Text:
    sco = item.observable or {}
    ext = item.extension
    state = item.status if item.active else item.status.upper()  # SUPPRESSED, WITHDRAWN, REVOKED, ...
    return Text(
        f"{item.indicator_id} v{item.version} {state:10} {sco.get('type', '?')} {item.observable_value} "
        f"score={ext.get('score', '?')} reporters={ext.get('reporter_count', '?')} "
        f"scam_types={','.join(ext.get('scam_types', [])) or '-'}"
    )


@click.command("consume")
@click.option("--subscriber", "subscriber", required=True, metavar="ID", help="Whose feed to read.")
@click.option("--topic", default=None, help="Feed topic, if the subscription names its own.")
@click.option("--group", default=None, help="Consumer group [default: <org>.sub.<ID>.cli].")
@click.option("--from-beginning", is_flag=True, help="Read the whole feed, not only what is new.")
@click.option("--max-messages", type=click.IntRange(min=1), default=None, help="Stop after N messages.")
@click.option(
    "--timeout", "timeout_s", type=float, default=10.0, show_default=True,
    help="Stop after S seconds without a message (counted once the feed is assigned).",
)  # fmt: skip
@click.option("--no-commit", is_flag=True, help="Do not commit: the next run shows the same messages.")
@click.option("--json", "as_json", is_flag=True, help="One STIX bundle per line.")
@connection_options
@click.pass_obj
@handle_errors
def consume(
    obj: CliContext, subscriber: str, topic: str | None, group: str | None, from_beginning: bool,
    max_messages: int | None, timeout_s: float, no_commit: bool, as_json: bool, bootstrap: str | None,
    redis_url: str | None, kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Print the indicators SUBSCRIBER receives (revocations marked), oldest first.

    By default it reads in its own consumer group (not the subscriber's, whose position it would move)
    and commits what it printed, so the next run shows only what is new.
    """
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
    group_id = group or f"{subscriber_group(settings, subscriber)}.cli"
    count = 0
    with FeedConsumer(settings, subscriber, group_id, topic=topic, from_beginning=from_beginning) as feed:
        for item in feed.items(max_messages=max_messages, idle_timeout_s=timeout_s):
            if as_json:
                print_json(item.bundle)
            else:
                obj.console.print(_line(item), soft_wrap=True)
            if not no_commit:
                feed.ack(item)
            count += 1
    if not as_json:
        obj.err.print(f"{count} message(s) from {topic or settings.topics.feed(subscriber)}", markup=False)
