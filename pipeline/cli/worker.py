"""``scamshare worker``: run the stream processors (a faust worker) until SIGINT/SIGTERM."""

from __future__ import annotations

import click

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, override
from pipeline.config import Settings
from pipeline.errors import ConfigError

LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def refuse_plaintext(settings: Settings) -> None:
    """Refuse PLAINTEXT to a non-loopback broker unless ``--insecure``: without authentication the broker
    cannot bind a topic to its organisation, so anyone on the network could write any organisation's topic."""
    conf = settings.librdkafka()
    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    hosts = [h.strip() for h in str(conf.get("bootstrap.servers", "")).split(",") if h.strip()]
    remote = [h for h in hosts if not h.startswith(LOOPBACK)]
    if protocol == "PLAINTEXT" and remote and not settings.insecure:
        raise ConfigError(
            f"refusing PLAINTEXT to {', '.join(remote)}: nobody is authenticated there, so any client could "
            "speak for any organisation. Use SASL_SSL/SSL (-X security.protocol=...), or pass --insecure "
            "(SCAMSHARE_INSECURE=true) if you accept that."
        )


@click.command("worker")
@connection_options
@click.option("--app-id", default=None, help="Consumer-group id of the processors [SCAMSHARE_APP_ID].")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None, help="Messages per batch.")
@click.option(
    "--create-topics/--no-create-topics",
    default=True,
    show_default=True,
    help="Create missing pipeline topics first (with the configured partitions and configs).",
)
@click.option("--loglevel", default="warning", show_default=True, help="faust worker log level.")
@click.option(
    "--insecure",
    is_flag=True,
    default=None,
    help="Allow PLAINTEXT to a broker that is not on loopback: no one's identity is checked by the broker.",
)
@click.pass_obj
@handle_errors
def worker(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    app_id: str | None,
    batch_size: int | None,
    create_topics: bool,
    loglevel: str,
    insecure: bool | None,
) -> None:
    """Run the processors: validate → merge → score → scam.indicators → subscriber feeds.

    Start several on different machines with the same --app-id to share the partitions.
    """
    import faust  # noqa: PLC0415  (slow import; keep `--help` fast)

    from pipeline.kafka.clients import build_admin  # noqa: PLC0415
    from pipeline.kafka.topics import (  # noqa: PLC0415
        ensure_topics,
        leader_topic_spec,
        list_topics,
        pipeline_topics,
    )
    from pipeline.worker.app import create_app  # noqa: PLC0415

    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    settings = override(settings, app_id=app_id, worker_batch_size=batch_size, insecure=insecure)
    refuse_plaintext(settings)
    if create_topics:
        # Only the missing ones: the worker's own user (ACLs) may describe the core topics, not create them.
        admin = build_admin(settings)
        existing = set(list_topics(admin))
        wanted = [*pipeline_topics(settings), leader_topic_spec(settings)]
        missing = [spec for spec in wanted if spec.name not in existing]
        if missing:
            ensure_topics(admin, missing)
    import asyncio  # noqa: PLC0415

    from pipeline.worker.inputs import registered_inputs  # noqa: PLC0415

    # Subscribe to the registered organisations' topics from the start (one rebalance, not two). Without
    # Redis the worker still starts: it follows the registry, and retries its batches, once Redis is back.
    # A Redis it must not write (an earlier key layout, the wrong cluster mode) stops it here (exit 2).
    try:
        inputs = asyncio.run(registered_inputs(settings))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001
        obj.err.print(f"registry not readable yet ({exc!r}): subscribing to organisations' topics later")
        inputs = None
    app = create_app(settings, inputs=inputs)
    obj.err.print(
        f"scamshare worker: app_id={settings.app_id} bootstrap={settings.librdkafka()['bootstrap.servers']} "
        f"topics={settings.topic_prefix}* (Ctrl-C to stop)"
    )
    faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()
