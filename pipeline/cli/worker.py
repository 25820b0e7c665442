"""``scamshare worker``: run the stream processors (a faust worker) until SIGINT/SIGTERM."""

from __future__ import annotations

import click

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, override


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
) -> None:
    """Run the processors: validate → merge → score → scam.indicators → subscriber feeds.

    Start several on different machines with the same --app-id to share the partitions.
    """
    import faust  # noqa: PLC0415  (slow import; keep `--help` fast)

    from pipeline.kafka.clients import build_admin  # noqa: PLC0415
    from pipeline.kafka.topics import ensure_topics, pipeline_topics  # noqa: PLC0415
    from pipeline.worker.app import create_app  # noqa: PLC0415

    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    settings = override(settings, app_id=app_id, worker_batch_size=batch_size)
    if create_topics:
        ensure_topics(build_admin(settings), pipeline_topics(settings))
    app = create_app(settings)
    obj.err.print(
        f"scamshare worker: app_id={settings.app_id} bootstrap={settings.bootstrap} "
        f"topics={settings.topic_prefix}* (Ctrl-C to stop)"
    )
    faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()
