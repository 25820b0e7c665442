"""The ``scamshare`` command line: one click group; each command lives in its own module."""

from __future__ import annotations

import click

from pipeline.cli.context import CliContext, configure_logging, print_json
from pipeline.config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv: include faust/aiokafka).")
@click.version_option(package_name="scamshare")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """scamshare: share scam indicators (STIX 2.1) across platforms, telecoms, banks and police."""
    configure_logging(verbose)
    ctx.obj = CliContext(settings=Settings())


@cli.command("config")
@click.pass_obj
def config_cmd(obj: CliContext) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    print_json(obj.settings.redacted())


def _register() -> None:
    from pipeline.cli import (  # noqa: PLC0415  (keeps the import of this module cheap)
        bench,
        consume,
        demo,
        dev,
        erase,
        exporter,
        lag,
        normalize,
        orgs,
        publish,
        sighting,
        subscribers,
        worker,
    )

    for command in (
        dev.dev,
        dev.topics,
        normalize.normalize,
        publish.publish,
        worker.worker,
        orgs.orgs,
        subscribers.subscribers,
        consume.consume,
        sighting.sighting,
        lag.lag,
        erase.erase_cmd,
        erase.audit_cmd,
        exporter.exporter,
        bench.bench,
        demo.demo,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="scamshare")
