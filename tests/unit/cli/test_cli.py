"""Every command is registered and answers --help without touching Kafka or Redis."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.cli import cli

COMMANDS = [
    ["audit"], ["bench", "pipeline"], ["config"], ["consume"], ["demo"], ["dev", "up"], ["dev", "down"],
    ["dev", "status"], ["erase"], ["exporter"], ["lag"],
    ["normalize"], ["orgs", "add"], ["orgs", "update"], ["orgs", "remove"], ["orgs", "list"],
    ["orgs", "load"], ["orgs", "check"], ["publish"], ["sighting", "report"], ["subscribers", "add"],
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
