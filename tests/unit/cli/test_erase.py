"""``scamshare erase``: what is refused before anything is touched (no broker, no Redis here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.cli import erase as erase_module
from pipeline.cli.context import CliContext
from pipeline.config import Settings

REASON = ["--reason", "ticket DPO-1: a customer's own number"]


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    # No addresses and no dev stack in tmp_path: anything that tried to connect would fail (exit 2).
    return Settings(state_dir=tmp_path / ".scamshare")


def run(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(erase_module.erase_cmd, list(args), obj=CliContext(settings), input=stdin)


def test_an_invalid_value_exits_2_with_the_reason(offline: Settings) -> None:
    result = run(offline, "phone", "12", *REASON, "--yes")
    assert result.exit_code == 2
    assert "cannot erase this phone" in result.stderr


def test_a_reason_that_repeats_the_value_is_refused(offline: Settings) -> None:
    result = run(
        offline, "phone", "081 234 5678", "--country", "TH", "--reason", "+66812345678 is mine", "--yes"
    )
    assert result.exit_code == 2
    assert "--reason contains the value" in result.stderr


def test_an_empty_reason_is_refused(offline: Settings) -> None:
    result = run(offline, "phone", "+66812345678", "--reason", "  ", "--yes")
    assert result.exit_code == 2
    assert "--reason is empty" in result.stderr


def test_without_yes_and_without_a_terminal_it_refuses(offline: Settings) -> None:
    result = run(offline, "phone", "+66812345678", *REASON)
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr


def test_a_person_who_says_no_changes_nothing(offline: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erase_module, "interactive", lambda: True)
    result = run(offline, "phone", "+66812345678", *REASON, stdin="n\n")
    assert result.exit_code == 1  # click's Abort, before any connection
    assert "Erase phone +66812345678 (indicator--" in result.output
    assert "Aborted" in result.stderr


def test_erase_and_audit_are_commands_of_the_cli() -> None:
    assert {"erase", "audit"} <= set(cli.commands)
    result = CliRunner().invoke(cli, ["erase", "--help"])
    assert result.exit_code == 0 and "--reason" in result.output
