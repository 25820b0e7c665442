"""The ``scamshare`` command line: one click group; each command lives in its own module.

Commands are imported when they run, not when the group is built: ``scamshare --help`` and
``scamshare normalize`` must not pay for faust, the Kafka clients and Redis (the whole tree imports in
about 1.4 s; one command in a fraction of that). :data:`COMMANDS` names each command's module and its
one-line help, which ``--help`` prints without importing anything; a unit test keeps the lines equal to
the commands' own.
"""

from __future__ import annotations

import importlib
from typing import Final

import click

from pipeline.cli.context import CliContext, configure_logging, print_json

#: name → (module, attribute, short help). The order of ``--help`` is alphabetical, as click's.
COMMANDS: Final[dict[str, tuple[str, str, str]]] = {
    "audit": (
        "pipeline.cli.erase",
        "audit_cmd",
        "Print the audit log of erasures, oldest first (indicator ids, never values).",
    ),
    "bench": ("pipeline.cli.bench", "bench", "Benchmarks; each prints one JSON object with --json."),
    "consume": (
        "pipeline.cli.consume",
        "consume",
        "Print the indicators SUBSCRIBER receives (revocations marked), oldest first.",
    ),
    "demo": (
        "pipeline.cli.demo",
        "demo",
        "Publish the bundled sample set from 4 producers, process it, fan it out to 4 subscribers, report.",
    ),
    "dev": ("pipeline.cli.dev", "dev", "Run a local broker (tansu, in memory) and Redis for development."),
    "erase": (
        "pipeline.cli.erase",
        "erase_cmd",
        "Erase VALUE of TYPE everywhere the exchange holds it; it can never be reported again.",
    ),
    "exporter": (
        "pipeline.cli.exporter",
        "exporter",
        "Serve /metrics until SIGINT/SIGTERM: lag and time lag per group/topic/partition, group status, "
        "pipeline counters and latency histograms from Redis, and with --canary the end-to-end canary's "
        "round trip.",
    ),
    "gateway": (
        "pipeline.cli.gateway",
        "gateway",
        "Serve the HTTP gateway: TAXII 2.1 feeds, /v1/lookup, /v1/submissions and /v1/sightings.",
    ),
    "lag": (
        "pipeline.cli.lag",
        "lag",
        "Per group and partition: committed and end offsets, lag, time lag (s) and a Burrow-style status.",
    ),
    "normalize": (
        "pipeline.cli.normalize",
        "normalize",
        "Canonicalise VALUE of TYPE and print its canonical form, STIX ids and pattern.",
    ),
    "orgs": (
        "pipeline.cli.orgs",
        "orgs",
        "Manage organisations: who may publish and subscribe, with what trust (and their Kafka identity).",
    ),
    "publish": ("pipeline.cli.publish", "publish", "Publish scam reports from FILE..."),
    "sighting": (
        "pipeline.cli.sighting",
        "sighting",
        "Feedback on indicators: true positives, false positives, blocks.",
    ),
    "state": (
        "pipeline.cli.state",
        "state",
        "The state in Redis: its key layout, and the migration from an earlier one.",
    ),
    "subscribers": (
        "pipeline.cli.subscribers",
        "subscribers",
        "Manage subscriptions: who receives which indicators (changes apply to running workers).",
    ),
    "topics": ("pipeline.cli.dev", "topics", "Create and list the pipeline's Kafka topics."),
    "worker": (
        "pipeline.cli.worker",
        "worker",
        "Run the processors: validate → merge → score → scam.indicators → subscriber feeds.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands in :data:`COMMANDS` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            eager = self.commands.get(name)
            text = eager.get_short_help_str(limit) if eager is not None else _short(COMMANDS[name][2], limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv: include faust/aiokafka).")
@click.version_option(package_name="scamshare")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """scamshare: share scam indicators (STIX 2.1) across platforms, telecoms, banks and police."""
    configure_logging(verbose)
    ctx.obj = CliContext()  # the settings are built when a command first reads them


@cli.command("config")
@click.pass_obj
def config_cmd(obj: CliContext) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    print_json(obj.settings.redacted())


def main() -> None:
    cli(prog_name="scamshare")
