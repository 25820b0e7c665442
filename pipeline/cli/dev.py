"""``scamshare dev`` (the embedded broker and Redis) and ``scamshare topics`` (the pipeline's topics)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.dev import control as devstack
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, list_topics, pipeline_topics, topic_drift


@click.group("dev")
def dev() -> None:
    """Run a local broker (tansu, in memory) and Redis for development.

    State lives in SCAMSHARE_STATE_DIR (default ./.scamshare); other commands find the servers there.
    """


@dev.command("up")
@click.option(
    "--broker-bin",
    envvar="SCAMSHARE_BROKER_BIN",
    default=None,
    metavar="PATH",
    help="Kafka-protocol broker binary [env SCAMSHARE_BROKER_BIN; default: tansu from scamshare[embedded]].",
)
@click.option(
    "--broker",
    "engine",
    type=click.Choice(["tansu", "kafka"]),
    default="tansu",
    show_default=True,
    help="tansu: embedded, in memory, no Java. kafka: Apache Kafka (KRaft) from Maven Central (Java, mvn).",
)
@click.option(
    "--brokers",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Apache Kafka nodes (3: a 3-voter quorum; topics get replication 3, min.insync.replicas 2).",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Apache Kafka only: SASL/SCRAM logins and ACLs (deny by default); writes credentials files for "
    "admin, pipeline and exporter under <state dir>/credentials/.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@click.pass_obj
@handle_errors
def up_cmd(
    obj: CliContext, broker_bin: str | None, engine: str, brokers: int, secure: bool, as_json: bool
) -> None:
    """Start the broker and Redis in the background (idempotent: prints the running stack)."""
    state_dir = obj.settings.state_dir
    before = devstack.read_state(obj.settings.dev_file)
    kind: devstack.Engine = "kafka" if engine == "kafka" else "tansu"
    state = devstack.up(
        state_dir, broker_bin, broker=kind, brokers=brokers, kafka_cache=obj.settings.kafka_cache,
        secure=secure, settings=obj.settings,
    )  # fmt: skip
    already = before is not None and before == state
    if as_json:
        # "broker" (the first node) as before Apache Kafka joined the dev stack; "brokers" lists every node.
        print_json({
            "already_running": already, **state.to_dict(), "broker": state.to_dict()["brokers"][0],
            "authenticated": state.secure,
        })  # fmt: skip
        return
    obj.console.print("[bold]dev stack already running[/]" if already else "[bold green]dev stack started[/]")
    obj.console.print(_state_table(state))
    if state.secure:
        _print_logins(obj, state)
    else:
        obj.console.print(
            "[yellow]unauthenticated[/]: this stack runs PLAINTEXT with no ACLs, so identity is by topic "
            "only (any local client can write any organisation's scam.submissions.<org>). Production: Apache "
            "Kafka with SCRAM and ACLs (README, 'Identity'); `dev up --broker kafka --secure` tries it here."
        )
    obj.console.print(f"Commands run here find it through {obj.settings.dev_file}; elsewhere set:")
    if not state.secure:
        obj.console.print(f"  export SCAMSHARE_BOOTSTRAP={state.bootstrap}", soft_wrap=True)
    obj.console.print(f"  export SCAMSHARE_REDIS_URL={state.redis_url}", soft_wrap=True)
    if state.replication_factor > 1:
        obj.console.print(f"  export SCAMSHARE_REPLICATION_FACTOR={state.replication_factor}", soft_wrap=True)
    gone = "topics live in memory: they go with it" if state.engine == "tansu" else "the next up starts empty"
    obj.console.print(f"Stop it with `scamshare dev down` ({gone}).")


def _print_logins(obj: CliContext, state: devstack.DevState) -> None:
    """How to log in to a secure dev stack: each credentials file and a command that uses it."""
    files = {name: _shown(path) for name, path in state.credentials.items()}
    obj.console.print(
        "[green]authenticated[/]: SASL/SCRAM-SHA-512 with ACLs, deny by default. Every client logs in; "
        "the credentials files (mode 0600, the admin's password exists nowhere else):"
    )
    for name, path in files.items():
        obj.console.print(f"  {name:<9} {path}", soft_wrap=True, markup=False)
    admin = files.get("admin", "<admin.json>")
    examples = [
        f"scamshare orgs add bank --name Bank --sector bank --role producer --role subscriber "
        f"--credentials {admin} --credentials-out bank.json",
        f"scamshare worker --credentials {files.get('pipeline', '<pipeline.json>')}",
        f"scamshare exporter --credentials {files.get('exporter', '<exporter.json>')}",
        "scamshare publish ... --credentials bank.json",
    ]
    obj.console.print("Use them with --credentials FILE (bootstrap included), e.g.:")
    for line in examples:
        obj.console.print(f"  {line}", soft_wrap=True, markup=False)


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (shorter to copy)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


@dev.command("down")
@click.pass_obj
@handle_errors
def down_cmd(obj: CliContext) -> None:
    """Stop the broker and Redis that `dev up` started (nothing else)."""
    stopped = devstack.down(obj.settings.state_dir)
    if not stopped:
        obj.console.print("nothing to stop: no dev stack recorded in " + str(obj.settings.dev_file))
        return
    for what in stopped:
        obj.console.print(f"stopped {what}")


@dev.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
@handle_errors
def status_cmd(obj: CliContext, as_json: bool) -> None:
    """Show whether the dev stack runs. Exit code 0 when it does, 1 when it does not."""
    report = devstack.status(obj.settings.state_dir)
    if as_json:
        print_json(report.to_dict())
    elif report.state is None:
        obj.console.print(f"not running (no state in {report.state_file})")
    else:
        word = "[green]running[/]" if report.running else "[red]not running[/]"
        obj.console.print(f"dev stack {word}")
        obj.console.print(
            _state_table(report.state, brokers=report.brokers_running, redis=report.redis_running)
        )
    if not report.running:
        sys.exit(1)


def _state_table(
    state: devstack.DevState, *, brokers: tuple[bool, ...] | None = None, redis: bool = True
) -> Table:
    table = Table("server", "address", "pid", "up")
    table.add_column("log", overflow="fold")
    up = brokers if brokers is not None else (True,) * len(state.brokers)
    for record, running in zip(state.brokers, up, strict=True):
        name = "broker (tansu)" if state.engine == "tansu" else f"{record.name} (Apache Kafka)"
        table.add_row(name, record.address, str(record.pid), _yes(running), record.log)
    table.add_row("redis", state.redis_url, str(state.redis.pid), _yes(redis), state.redis.log)
    return table


def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]no[/]"


@click.group("topics")
def topics() -> None:
    """Create and list the pipeline's Kafka topics."""


@topics.command("create")
@connection_options
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait for the broker.")
@click.option("--json", "as_json", is_flag=True, help="Print {topic: created|exists} as JSON.")
@click.option(
    "--check",
    is_flag=True,
    help="Create nothing: report how existing topics differ from the settings (exit 1 on drift).",
)
@click.pass_obj
@handle_errors
def create_cmd(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    timeout: float,
    as_json: bool,
    check: bool,
) -> None:
    """Create every pipeline topic that does not exist yet (idempotent), with replication,
    min.insync.replicas, retention and max.message.bytes from the settings (indicators: compacted)."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
    specs = pipeline_topics(settings)
    if check:
        drift = topic_drift(build_admin(settings), specs, timeout=timeout)
        if as_json:
            print_json({"drift": drift})
        elif drift:
            for line in drift:
                obj.console.print(f"[yellow]drift[/] {line}")
        else:
            obj.console.print(f"{len(specs)} topics match the settings")
        sys.exit(1 if drift else 0)
    outcome = ensure_topics(build_admin(settings), specs, timeout=timeout)
    if as_json:
        print_json(outcome)
        return
    table = Table("topic", "partitions", "replication", "config", "result")
    for spec in specs:
        config = ", ".join(f"{k}={v}" for k, v in spec.config.items())
        colour = "green" if outcome[spec.name] == "created" else "dim"
        table.add_row(
            spec.name,
            str(spec.partitions),
            str(spec.replication_factor),
            config,
            f"[{colour}]{outcome[spec.name]}[/]",
        )
    obj.console.print(table)


@topics.command("list")
@connection_options
@click.option("--prefix", default=None, help="Only topics starting with this [default: the topic prefix].")
@click.option("--all", "show_all", is_flag=True, help="Every topic, whatever its prefix.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the broker.")
@click.option("--json", "as_json", is_flag=True, help="Print {topic: partitions} as JSON.")
@click.pass_obj
@handle_errors
def list_cmd(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    prefix: str | None,
    show_all: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """List topics with their partition counts."""
    settings = connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
    chosen = "" if show_all else (prefix if prefix is not None else settings.topic_prefix)
    found = list_topics(build_admin(settings), chosen, timeout=timeout)
    if as_json:
        print_json(found)
        return
    if not found:
        obj.console.print(f"no topics starting with {chosen!r}: create them with `scamshare topics create`")
        return
    table = Table("topic", "partitions")
    for name, partitions in found.items():
        table.add_row(name, str(partitions))
    obj.console.print(table)


__all__ = ["dev", "topics"]
