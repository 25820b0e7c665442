"""``scamshare sighting report``: a subscriber's feedback on an indicator (STIX Sighting)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.stix.schemas import SIGHTING_KIND_VALUES
from pipeline.subscribers.sightings import report_sighting


@click.group("sighting")
def sighting() -> None:
    """Feedback on indicators: true positives, false positives, blocks."""


@sighting.command("report")
@click.option("--subscriber", required=True, metavar="ID", help="Who reports (the subscriber id).")
@click.option("--indicator", "indicator_id", required=True, metavar="ID", help="indicator--<uuid>")
@click.option("--kind", required=True, type=click.Choice(SIGHTING_KIND_VALUES), help="What was seen.")
@click.option("--count", type=click.IntRange(1, 999_999_999), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the envelope sent as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def report(
    obj: CliContext, subscriber: str, indicator_id: str, kind: str, count: int, as_json: bool,
    bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str],
) -> None:  # fmt: skip
    """Publish a STIX Sighting of an indicator to <prefix>sightings (waits for the broker's ack)."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
    envelope = report_sighting(
        settings, subscriber=subscriber, indicator_id=indicator_id, kind=kind, count=count,
        now=datetime.now(UTC),
    )  # fmt: skip
    if as_json:
        print_json(envelope)
    else:
        obj.console.print(
            f"sighting {envelope['sighting_id']}: {subscriber} reports {kind} x{count} on {indicator_id} "
            f"→ {settings.topics.sightings_of(settings.org_id or subscriber)}",
            markup=False,
        )
