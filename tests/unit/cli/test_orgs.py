"""``scamshare orgs``: bad definitions are refused naming the field before any connection; the rest against a
real broker and Redis (``integration``; the embedded broker has no ACLs, so identity there is by topic)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from rich.console import Console

from pipeline.cli.context import CliContext
from pipeline.cli.orgs import UNLIMITED, _fields, describe_quotas, orgs
from pipeline.config import Settings
from pipeline.identity.quotas import UNSUPPORTED
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics
from pipeline.state.org import Organisation, Quotas, apply_org_update, load_orgs_file, parse_org

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
        (
            ["--default-confidence", "101"],
            "field 'default_confidence': Input should be less than or equal to 100",
        ),
        (
            ["--quota-reports-per-second", "-1"],
            "field 'quotas.reports_per_second': Input should be greater than",
        ),
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


def test_a_quota_that_is_not_a_number_is_refused_by_the_option(offline: Settings) -> None:
    result = run(offline, "add", "bank-sg", *BANK, "--quota-sightings-per-hour", "lots")
    assert result.exit_code == 2
    assert "'lots' is not a whole number or 'none'" in result.stderr


def test_the_options_give_quotas_with_none_for_unlimited() -> None:
    unset = {"quota_new_indicators_per_hour": None, "quota_reports_per_second": None,
             "quota_sightings_per_hour": None, "quota_producer_byte_rate": None}  # fmt: skip
    assert _fields((), name="Bank", default_confidence=None, **unset) == {"name": "Bank"}
    given = {**unset, "quota_reports_per_second": 7, "quota_producer_byte_rate": UNLIMITED}
    fields = _fields(("producer",), default_confidence=80, **given)
    assert fields == {"default_confidence": 80, "roles": ["producer"],
                      "quotas": {"reports_per_second": 7, "producer_byte_rate": None}}  # fmt: skip
    org = parse_org({"id": "bank", "name": "Bank", "sector": "bank", **fields})
    assert org.default_confidence == 80
    assert org.quotas == Quotas(reports_per_second=7, producer_byte_rate=None)  # the others keep defaults


def test_the_defaults_an_exchange_ships() -> None:
    org = parse_org({"id": "bank", "name": "Bank", "sector": "bank", "roles": ["producer"]})
    assert org.default_confidence == 50
    assert org.quotas.model_dump() == {
        "new_indicators_per_hour": 10_000,
        "reports_per_second": 200,
        "sightings_per_hour": 5_000,
        "producer_byte_rate": 1_048_576,
    }
    assert describe_quotas(org.quotas) == "10000 new/h, 200 reports/s, 5000 sightings/h, 1048576 B/s"
    assert "unlimited B/s" in describe_quotas(Quotas(producer_byte_rate=None))


def test_update_merges_quotas_key_by_key() -> None:
    current = parse_org({"id": "bank", "name": "Bank", "sector": "bank", "roles": ["producer"],
                         "quotas": {"sightings_per_hour": 9}})  # fmt: skip
    new = apply_org_update(current, {"quotas": {"producer_byte_rate": None}, "default_confidence": 90})
    assert new.quotas == Quotas(sightings_per_hour=9, producer_byte_rate=None)
    assert (new.default_confidence, new.trust) == (90, current.trust)


def test_the_sample_file_carries_confidence_and_quotas() -> None:
    by_id = {o.id: o for o in load_orgs_file(ORGS)}
    assert by_id["bank-sg"].default_confidence == 70
    assert by_id["bank-sg"].quotas == Quotas(reports_per_second=500, producer_byte_rate=2_097_152)
    assert by_id["telco-th"].quotas == Quotas() and by_id["telco-th"].default_confidence == 50


def test_retired_quota_fields_are_refused_in_a_file_but_a_stored_record_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "orgs.yaml"
    old.write_text(ORGS.read_text().replace("reports_per_second: 500", "reports_per_hour: 500"))
    with pytest.raises(Exception, match=r"entry 2 \(bank-sg\): field 'quotas': retired field\(s\) "
                       r"\['reports_per_hour'\]; use reports_per_hour → reports_per_second"):  # fmt: skip
        load_orgs_file(old)
    # What an earlier release stored in Redis: every retired field, all null (or set: never enforced).
    stored = {
        "id": "bank",
        "name": "Bank",
        "sector": "bank",
        "roles": ["producer"],
        "default_tlp": "amber",
        "quotas": {"reports_per_hour": 5000, "new_indicators_per_day": None, "reports_per_message": None},
    }
    org = Organisation.model_validate(stored)
    assert org.quotas == Quotas() and org.default_confidence == 50
    assert Organisation.model_validate(org.to_json()) == org  # the Redis round trip carries every field


@pytest.mark.integration
def test_add_list_update_remove_on_the_embedded_broker(
    settings: Settings, redis_client: redis.Redis, broker: str
) -> None:
    result = run(
        settings,
        "add",
        "bank-sg",
        *BANK,
        "--trust",
        "0.8",
        "--default-confidence",
        "65",
        "--quota-reports-per-second",
        "300",
        "--quota-sightings-per-hour",
        "none",
        "--json",
    )
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert (added["id"], added["trust"], added["default_tlp"], added["roles"]) == (
        "bank-sg", 0.8, "amber", ["producer", "subscriber"],
    )  # fmt: skip
    assert added["default_confidence"] == 65
    assert added["quotas"] == {"new_indicators_per_hour": 10_000, "reports_per_second": 300,
                               "sightings_per_hour": None, "producer_byte_rate": 1_048_576}  # fmt: skip
    assert added["acls_enforced"] is False and added["user_created"] is None  # tansu: no ACLs, no users
    if broker == "tansu":  # no client quotas either: said, not failed
        assert added["quotas_supported"] is False and UNSUPPORTED in added["summary"]
    own = {f"{settings.topic_prefix}submissions.bank-sg", f"{settings.topic_prefix}sightings.bank-sg"}
    assert own <= set(list_topics(build_admin(settings), settings.topic_prefix))

    again = run(settings, "add", "bank-sg", *BANK)
    assert again.exit_code == 1 and "exists: use `scamshare orgs update bank-sg`" in again.stderr
    updated = json.loads(run(settings, "update", "bank-sg", "--trust", "0.3", "--json").stdout)
    assert (updated["trust"], updated["sector"]) == (0.3, "bank")
    listed = json.loads(run(settings, "list", "--json").stdout)
    assert [(o["id"], o["trust"], o["default_confidence"]) for o in listed] == [("bank-sg", 0.3, 65)]
    assert listed[0]["quotas"]["reports_per_second"] == 300
    wide = CliContext(settings, console=Console(width=250, highlight=False))  # one row, nothing folded
    table = CliRunner().invoke(orgs, ["list"], obj=wide).stdout
    assert "default conf" in table and "10000 new/h, 300 reports/s, unlimited sightings/h" in table
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
