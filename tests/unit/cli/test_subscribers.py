"""``scamshare subscribers``: bad definitions are refused before any connection; the rest against a real
broker and Redis (``integration``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from pipeline.cli.context import CliContext
from pipeline.cli.orgs import orgs
from pipeline.cli.subscribers import subscribers
from pipeline.config import Settings
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics

SAMPLES = Path(__file__).resolve().parents[3] / "pipeline" / "data" / "samples" / "subscribers.yaml"
ORGS = SAMPLES.with_name("orgs.yaml")
NEW = ["--name", "Bank", "--sector", "bank", "--org", "bank-sg"]


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(subscribers, list(args), obj=CliContext(settings))


def register(settings: Settings) -> None:
    """The sample organisations, registered with the real `scamshare orgs load`."""
    result = CliRunner().invoke(orgs, ["load", str(ORGS)], obj=CliContext(settings))
    assert result.exit_code == 0, result.output


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    # No addresses and no dev stack in tmp_path: anything that tried to connect would fail with exit 2.
    return Settings(state_dir=tmp_path / ".scamshare")


def test_add_refuses_a_bad_definition_naming_the_field(offline: Settings) -> None:
    result = run(offline, "add", "bank-sg", *NEW, "--tlp", "red")
    assert result.exit_code == 1
    assert "field 'tlp': no subscriber can be cleared for TLP:RED" in result.stderr


def test_add_refuses_missing_fields(offline: Settings) -> None:
    result = run(offline, "add", "bank-sg", "--name", "Bank")
    assert result.exit_code == 1
    assert "field 'sector': is required" in result.stderr
    assert "field 'organisation': is required" in result.stderr


def test_add_refuses_bad_lists(offline: Settings) -> None:
    result = run(offline, "add", "x", *NEW, "--types", "phone,fax", "--countries", "SG,Singapore")
    assert result.exit_code == 1
    assert "field 'countries'" in result.stderr and "field 'types'" in result.stderr


def test_load_refuses_a_bad_file_naming_file_line_and_entry(offline: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "subs.yaml"
    bad.write_text(SAMPLES.read_text().replace("min_score: 30", "min_score: 300"))
    result = run(offline, "load", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr
    assert "entry 3 (platform-socialnet): field 'min_score'" in result.stderr


def test_without_a_stack_it_says_how_to_get_one(offline: Settings) -> None:
    result = run(offline, "list")
    assert result.exit_code == 2
    assert "scamshare dev up" in result.stderr


@pytest.mark.integration
def test_add_list_update_remove(settings: Settings, redis_client: redis.Redis) -> None:
    # A subscription belongs to a registered organisation with the subscriber role.
    refused = run(settings, "add", "bank-sg", *NEW)
    assert refused.exit_code == 1
    assert "organisation 'bank-sg' is not registered: `scamshare orgs add bank-sg" in refused.stderr
    register(settings)
    result = run(settings, "add", "bank-sg", *NEW, "--types", "phone,wallet", "--countries", "sg")
    assert result.exit_code == 0, result.output
    assert f"added bank-sg → {settings.topic_prefix}feed.bank-sg" in result.stdout
    assert f"{settings.topic_prefix}feed.bank-sg" in list_topics(build_admin(settings), settings.topic_prefix)

    again = run(settings, "add", "bank-sg", *NEW)
    assert again.exit_code == 1
    assert "exists: use `scamshare subscribers update bank-sg`" in again.stderr

    result = run(settings, "update", "bank-sg", "--min-score", "40", "--countries", "any", "--json")
    assert result.exit_code == 0, result.output
    updated = json.loads(result.stdout)
    assert (updated["min_score"], updated["countries"], updated["types"]) == (40, [], ["phone", "wallet"])

    bad = run(settings, "update", "bank-sg", "--min-score", "101")
    assert bad.exit_code == 1
    assert "field 'min_score'" in bad.stderr

    listed = json.loads(run(settings, "list", "--json").stdout)
    assert [(s["id"], s["min_score"], s["tlp"]) for s in listed] == [("bank-sg", 40, "green")]
    table = run(settings, "list")
    assert "bank-sg" in table.stdout and "1 subscriber(s)" in table.stdout

    assert run(settings, "remove", "bank-sg").exit_code == 0
    missing = run(settings, "remove", "bank-sg")
    assert missing.exit_code == 1
    assert "no subscriber 'bank-sg'" in missing.stderr
    assert json.loads(run(settings, "list", "--json").stdout) == []
    assert run(settings, "update", "bank-sg", "--min-score", "1").exit_code == 1


@pytest.mark.integration
def test_load_creates_feeds_and_replaces(settings: Settings, redis_client: redis.Redis) -> None:
    register(settings)
    result = run(settings, "load", str(SAMPLES), "--json")
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.stdout)] == ["added"] * 4
    topics = list_topics(build_admin(settings), f"{settings.topic_prefix}feed.")
    assert len(topics) == 4
    again = json.loads(run(settings, "load", str(SAMPLES), "--json").stdout)
    assert [r["result"] for r in again] == ["replaced"] * 4
    assert len(json.loads(run(settings, "list", "--json").stdout)) == 4


@pytest.mark.integration
def test_backfill_unknown_subscriber(settings: Settings, redis_client: redis.Redis) -> None:
    result = run(settings, "backfill", "nobody")
    assert result.exit_code == 1
    assert "no subscriber 'nobody'" in result.stderr
