"""Every command is registered and answers --help without touching Kafka or Redis."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import COMMANDS as LAZY_COMMANDS
from pipeline.cli import cli

COMMANDS = [
    ["audit"], ["bench", "pipeline"], ["config"], ["consume"], ["demo"], ["dev", "up"], ["dev", "down"],
    ["dev", "status"], ["erase"], ["exporter"], ["gateway"], ["lag"],
    ["normalize"], ["orgs", "add"], ["orgs", "update"], ["orgs", "remove"], ["orgs", "list"],
    ["orgs", "load"], ["orgs", "check"], ["orgs", "key", "create"], ["orgs", "key", "list"],
    ["orgs", "key", "revoke"], ["bench", "gateway"], ["publish"], ["sighting", "report"],
    ["state", "layout"], ["state", "migrate"], ["subscribers", "add"],
    ["subscribers", "update"],
    ["subscribers", "remove"], ["subscribers", "list"], ["subscribers", "load"], ["subscribers", "backfill"],
    ["topics", "create"], ["topics", "list"], ["worker"],
]  # fmt: skip


def test_the_group_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {c[0] for c in COMMANDS}


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAMSHARE_REDIS_URL", "redis://:hunter2@redis:6379/0")
    monkeypatch.setenv("SCAMSHARE_SASL_PASSWORD", "s3cret")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output and "s3cret" not in result.output
    assert "redis://:**********@redis:6379/0" in result.output


def test_the_lazy_command_table_matches_the_commands_it_names() -> None:
    """``--help`` prints COMMANDS' one-liners without importing the commands: they must stay theirs."""
    for name, (module, attribute, short) in LAZY_COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), name
        assert command.name == name, name
        assert command.get_short_help_str(limit=10_000) == short, name


def test_help_and_normalize_import_neither_the_broker_client_nor_faust() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from pipeline.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0 and 'normalize' in r.output, r.output\n"
        "r = CliRunner().invoke(cli, ['normalize', 'domain', 'example.com'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ('confluent_kafka', 'faust', 'redis', 'aiokafka', 'pydantic_settings')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
