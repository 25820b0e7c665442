"""``scamshare exporter``: serve Prometheus metrics (lag, status, pipeline counters, latency, canary)."""

from __future__ import annotations

import signal
import threading
from typing import cast

import click

from pipeline.cli.context import CliContext, connection_options, handle_errors, settings_for_lag
from pipeline.ops.sampling import open_sampler


@click.command("exporter")
@connection_options
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9464, show_default=True, help="0 = any free port."
)
@click.option("--addr", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--interval", type=click.FloatRange(0.5), default=10.0, show_default=True, help="Lag sample period (s)."
)
@click.option(
    "--end-offsets",
    "source",
    type=click.Choice(["list-offsets", "fetch"]),
    default="list-offsets",
    show_default=True,
    help="ListOffsets (right on Apache Kafka) or a fetch high watermark (right on the embedded broker too).",
)
@click.option(
    "--window", type=click.FloatRange(1), default=300.0, show_default=True, help="Status window (s)."
)
@click.option(
    "--slo", type=click.FloatRange(0), default=600.0, show_default=True, help="ERR above this lag (s)."
)
@click.option("--canary", is_flag=True, help="Also run the end-to-end canary (needs a running worker).")
@click.option(
    "--canary-interval", type=click.FloatRange(0.5), default=5.0, show_default=True, help="Seconds."
)
@click.pass_obj
@handle_errors
def exporter(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    port: int,
    addr: str,
    interval: float,
    source: str,
    window: float,
    slo: float,
    canary: bool,
    canary_interval: float,
) -> None:
    """Serve /metrics until SIGINT/SIGTERM: lag and time lag per group/topic/partition, group status, pipeline
    counters and latency histograms from Redis, and with --canary the end-to-end canary's round trip."""
    from pipeline.ops.canary import Canary  # noqa: PLC0415
    from pipeline.ops.lag import EndSource  # noqa: PLC0415
    from pipeline.ops.metrics import Exporter, redis_stats_reader  # noqa: PLC0415
    from pipeline.state.redis_client import sync_redis_from_url  # noqa: PLC0415
    from pipeline.state.redis_store import RedisStore  # noqa: PLC0415

    settings = settings_for_lag(obj, bootstrap, redis_url, kafka_option)
    url = settings.redis_url_value()
    client = sync_redis_from_url(url, cluster=settings.redis_cluster) if url else None
    stats = (
        redis_stats_reader(client, RedisStore.from_url(url, prefix=settings.redis_key_prefix).stats_keys())
        if client is not None and url
        else None
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with open_sampler(settings, cast("EndSource", source), window, slo) as sampler:
        server = Exporter(sampler, stats=stats, interval_s=interval)
        probe = Canary(settings, server.registry, interval_s=canary_interval) if canary else None
        bound = server.start(port, addr)
        try:
            if probe is not None:
                probe.start()
            obj.err.print(
                f"scamshare exporter: http://{addr}:{bound}/metrics (lag every {interval:g} s, end offsets "
                f"from {source}{', canary on' if probe else ''}; Ctrl-C to stop)"
            )
            stop.wait()
        finally:
            if probe is not None:
                probe.stop()
            server.stop()
            if client is not None:
                client.close()
