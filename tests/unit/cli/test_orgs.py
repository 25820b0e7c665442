"""``scamshare orgs``: bad definitions are refused naming the field before any connection; the rest against a
real broker and Redis (``integration``; the embedded broker has no ACLs, so identity there is by topic)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from pipeline.cli.context import CliContext
from pipeline.cli.orgs import orgs
from pipeline.config import Settings
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics

ORGS = Path(__file__).resolve().parents[3] / "pipeline" / "data" / "samples" / "orgs.yaml"
BANK = [
    "--name",
    "Bank SG",
    "--sector",
    "bank",
    "--country",
    "sg",
    "--role",
    "producer",
    "--role",
    "subscriber",
]


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(orgs, list(args), obj=CliContext(settings))


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / ".scamshare")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--trust", "1.5"], "field 'trust': Input should be less than or equal to 1"),
        (["--default-tlp", "purple"], "field 'default_tlp': 'purple' is not a TLP level"),
        (["--country", "Singapore"], "field 'country': 'Singapore' is not an ISO 3166 alpha-2"),
        (["--auth", "mtls"], "auth mtls needs cert_cn"),
    ],
)
def test_add_refuses_a_bad_definition_naming_the_field(
    offline: Settings, args: list[str], problem: str
) -> None:
    result = run(offline, "add", "bank-sg", *BANK, *args)
    assert result.exit_code == 1
    assert problem in result.stderr


def test_ids_with_dots_or_upper_case_are_refused(offline: Settings) -> None:
    """``bank`` and ``bank.sg`` would share the group prefix ``bank.``: ids have no dots."""
    for bad in ("bank.sg", "Bank", "bank sg"):
        result = run(offline, "add", bad, *BANK)
        assert result.exit_code == 1 and "field 'id'" in result.stderr, bad


def test_a_role_is_required(offline: Settings) -> None:
    result = run(offline, "add", "bank-sg", "--name", "Bank", "--sector", "bank")
    assert result.exit_code == 1
    assert "field 'roles': is required" in result.stderr


def test_load_refuses_a_bad_file_naming_file_line_and_entry(offline: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "orgs.yaml"
    bad.write_text(ORGS.read_text().replace("trust: 0.7", "trust: 7"))
    result = run(offline, "load", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr and "entry 2 (bank-sg): field 'trust'" in result.stderr


@pytest.mark.integration
def test_add_list_update_remove_on_the_embedded_broker(settings: Settings, redis_client: redis.Redis) -> None:
    result = run(settings, "add", "bank-sg", *BANK, "--trust", "0.8", "--json")
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert (added["id"], added["trust"], added["default_tlp"], added["roles"]) == (
        "bank-sg", 0.8, "amber", ["producer", "subscriber"],
    )  # fmt: skip
    assert added["acls_enforced"] is False and added["user_created"] is None  # tansu: no ACLs, no users
    own = {f"{settings.topic_prefix}submissions.bank-sg", f"{settings.topic_prefix}sightings.bank-sg"}
    assert own <= set(list_topics(build_admin(settings), settings.topic_prefix))

    again = run(settings, "add", "bank-sg", *BANK)
    assert again.exit_code == 1 and "exists: use `scamshare orgs update bank-sg`" in again.stderr
    updated = json.loads(run(settings, "update", "bank-sg", "--trust", "0.3", "--json").stdout)
    assert (updated["trust"], updated["sector"]) == (0.3, "bank")
    listed = json.loads(run(settings, "list", "--json").stdout)
    assert [(o["id"], o["trust"]) for o in listed] == [("bank-sg", 0.3)]
    check = run(settings, "check", "--json")
    assert check.exit_code == 0 and json.loads(check.stdout)["acls_enforced"] is False

    assert run(settings, "remove", "bank-sg").exit_code == 0
    missing = run(settings, "remove", "bank-sg")
    assert missing.exit_code == 1 and "no organisation 'bank-sg'" in missing.stderr


@pytest.mark.integration
def test_load_then_a_subscription_keeps_its_organisation(
    settings: Settings, redis_client: redis.Redis
) -> None:
    result = run(settings, "load", str(ORGS), "--json")
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.stdout)] == ["added"] * 5
    assert [r["result"] for r in json.loads(run(settings, "load", str(ORGS), "--json").stdout)] == [
        "replaced"
    ] * 5
    from pipeline.cli.subscribers import subscribers  # noqa: PLC0415

    sub = ["add", "bank-feed", "--name", "B", "--sector", "bank", "--org", "bank-sg"]
    assert CliRunner().invoke(subscribers, sub, obj=CliContext(settings)).exit_code == 0
    refused = run(settings, "remove", "bank-sg")
    assert refused.exit_code == 1 and "still owns subscription(s) bank-feed" in refused.stderr
    # An organisation without the subscriber role cannot own a subscription.
    sub = ["add", "buggy-feed", "--name", "X", "--sector", "other", "--org", "buggy-producer"]
    no_role = CliRunner().invoke(subscribers, sub, obj=CliContext(settings))
    assert no_role.exit_code == 1 and "has no subscriber role" in no_role.stderr
