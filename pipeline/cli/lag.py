"""``scamshare lag``: lag, time lag and status of every consumer group on the pipeline's topics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

import click

from pipeline.cli.context import (
    CliContext,
    connection_options,
    handle_errors,
    print_json,
    settings_for_lag,
)
from pipeline.ops.sampler import TimeSource
from pipeline.ops.sampling import open_sampler

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.ops.lag import EndSource
    from pipeline.ops.sampler import LagSampler
    from pipeline.ops.timelag import LagSnapshot

STATUS_STYLE = {
    "OK": "green",
    "WARN": "yellow",
    "REWIND": "cyan",
    "STALL": "magenta",
    "STOP": "bold red",
    "ERR": "bold red",
}

SOURCE_NOTE = {
    "list-offsets": "end offsets: ListOffsets (read_committed: last stable offset). The embedded broker "
    "(tansu) under-reports it when producers batch, hiding lag: use --end-offsets fetch there.",
    "fetch": "end offsets: high watermark from a fetch (exact on the embedded broker too).",
}


def render(snapshot: LagSnapshot) -> Table:
    """The snapshot as a rich table: one bold row per group, then its partitions."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="consumer lag", title_justify="left", caption=SOURCE_NOTE[snapshot.source])
    for col in ("group / topic", "partition", "committed", "end", "lag", "lag s", "status", "note"):
        table.add_column(col, justify="left" if col in ("group / topic", "status", "note") else "right")
    for g in snapshot.groups:
        style = STATUS_STYLE[g.status.value]
        seconds = "-" if g.lag_seconds is None else f"{g.lag_seconds:.1f}"
        note = ", ".join(x for x in (g.note, g.state) if x)
        table.add_row(
            f"[bold]{g.group}[/bold]", "", "", "", f"[bold]{g.lag}[/bold]", seconds,
            f"[{style}]{g.status.value}[/{style}]", note,
        )  # fmt: skip
        for p in g.partitions:
            row = p.lag
            pstyle = STATUS_STYLE[p.status.value]
            table.add_row(
                f"  {row.topic}",
                str(row.partition),
                "-" if row.committed is None else str(row.committed),
                str(row.end),
                str(row.lag),
                "-" if p.lag_seconds is None else f"{p.lag_seconds:.1f}",
                f"[{pstyle}]{p.status.value}[/{pstyle}]",
                ", ".join((*row.labels, p.reason) if p.status.value != "OK" else row.labels),
            )
    return table


@click.command("lag")
@connection_options
@click.option("--group", "group", default=None, metavar="G", help="Only this consumer group.")
@click.option("--watch", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(0.2), default=2.0, show_default=True, help="Seconds.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (per refresh with --watch).")
@click.option(
    "--end-offsets",
    "source",
    type=click.Choice(["list-offsets", "fetch"]),
    default="list-offsets",
    show_default=True,
    help="Where end offsets come from: ListOffsets (right on Apache Kafka) or a fetch's high watermark "
    "(right on the embedded broker too).",
)
@click.option(
    "--window", type=click.FloatRange(1), default=300.0, show_default=True, help="Status window, seconds."
)
@click.option(
    "--slo", type=click.FloatRange(0), default=600.0, show_default=True, help="ERR above this time lag (s)."
)
@click.option("--count", type=click.IntRange(1), default=None, help="With --watch: stop after N refreshes.")
@click.option(
    "--time-source",
    type=click.Choice(["interpolated", "broker"]),
    default="interpolated",
    show_default=True,
    help="Time lag from sampled end offsets, or the age (broker timestamp) of each group's next record: "
    "exact on LogAppendTime topics of Apache Kafka.",
)
@click.pass_obj
@handle_errors
def lag(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    group: str | None,
    watch: bool,
    interval: float,
    as_json: bool,
    source: str,
    window: float,
    slo: float,
    count: int | None,
    time_source: str,
) -> None:
    """Per group and partition: committed and end offsets, lag, time lag (s) and a Burrow-style status.

    Groups: the processors' (SCAMSHARE_APP_ID), each subscriber's reader (<app_id>.sub.<subscriber>) and
    any other group that committed on a topic with the pipeline's prefix. Time lag needs earlier samples:
    they are kept in Redis (shared with `scamshare exporter`), so the first run may show "-".
    """
    settings = settings_for_lag(obj, bootstrap, redis_url, kafka_option)
    end_source = cast("EndSource", source)  # click.Choice allows only its values
    kind: TimeSource = "broker" if time_source == "broker" else "interpolated"
    with open_sampler(settings, end_source, window, slo, kind) as sampler:
        if not watch:
            snapshot = sampler.sample(group)
            if as_json:
                print_json(snapshot.to_json())
            else:
                obj.console.print(render(snapshot))
            return
        watch_loop(obj, sampler, group, interval, as_json, count)


def watch_loop(
    obj: CliContext, sampler: LagSampler, group: str | None, interval: float, as_json: bool, count: int | None
) -> None:
    """Sample every ``interval`` seconds until Ctrl-C (or ``count`` samples)."""
    from rich.live import Live  # noqa: PLC0415

    done = 0
    live = None if as_json else Live(console=obj.console, auto_refresh=False)
    try:
        if live is not None:
            live.start()
        while count is None or done < count:
            started = time.monotonic()
            snapshot = sampler.sample(group)
            if live is not None:
                live.update(render(snapshot), refresh=True)
            else:
                print_json(snapshot.to_json())
            done += 1
            if count is not None and done >= count:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
