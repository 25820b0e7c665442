"""Client quotas on a real, secure Apache Kafka: ``scamshare orgs`` sets each organisation's producer byte
rate as a quota of its user, ``check`` reports drift, ``remove`` clears it, and the broker describes it back.

One secure KRaft node (SASL_PLAINTEXT + SCRAM-SHA-512, StandardAuthorizer, deny by default) and one Redis for
the module (:class:`EmbeddedStack`); the CLI runs in process logged in as the super user ``admin``. Quotas are
read back with DescribeClientQuotas (:func:`describe_user_quotas`), never from what the CLI said. The tests
run in file order and build on each other (each says what it leaves). Skipped with the reason when Java >= 17
or Maven is missing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import ThrottleEvent
from pydantic import SecretStr

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.dev.kafka_jars import kafka_available
from pipeline.dev.stack import EmbeddedStack
from pipeline.errors import KafkaError
from pipeline.identity.credentials import write_credentials
from pipeline.identity.kafka_admin import provision_service_users
from pipeline.identity.quotas import alter_user_quotas, describe_user_quotas, sync_user_quota
from pipeline.kafka.clients import build_admin, build_producer

AVAILABLE, WHY_NOT = kafka_available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not AVAILABLE, reason=f"secure Apache Kafka skipped: {WHY_NOT}"),
]

BANK = [
    "--name",
    "Bank SG",
    "--sector",
    "bank",
    "--country",
    "SG",
    "--role",
    "producer",
    "--role",
    "subscriber",
]


@dataclass
class Exchange:
    tmp: Path
    env: dict[str, str | None]
    admin_file: Path
    admin: Settings

    def cli(self, *args: str) -> Result:
        """``scamshare ARGS --credentials <admin's file>`` in process."""
        return CliRunner().invoke(cli, [*args, "--credentials", str(self.admin_file)], env=self.env)

    def ok(self, *args: str) -> dict[str, object]:
        """Run a ``--json`` command that must succeed; its output."""
        result = self.cli(*args, "--json")
        assert result.exit_code == 0, f"{args}: {result.output}"
        parsed: dict[str, object] = json.loads(result.stdout)
        return parsed

    def broker_quotas(self, *users: str) -> dict[str, float]:
        return describe_user_quotas(self.admin, users or None)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    tmp = tmp_path_factory.mktemp("quotas")
    with EmbeddedStack(tmp / "stack", broker="kafka", secure=True) as stack:
        cluster = stack.cluster
        assert cluster is not None and cluster.security is not None
        scrub: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SCAMSHARE_")}
        env = {**scrub, "SCAMSHARE_REDIS_URL": stack.redis_url, "SCAMSHARE_STATE_DIR": str(tmp / "state"),
               "SCAMSHARE_PARTITIONS": "1"}  # fmt: skip
        admin_file = write_credentials(tmp / "admin.json", "admin", cluster.bootstrap,
                                       cluster.security.admin_options())  # fmt: skip
        admin = Settings(credentials_file=admin_file, redis_url=SecretStr(stack.redis_url), partitions=1)
        ex = Exchange(tmp, env, admin_file, admin)
        result = ex.cli("topics", "create")
        assert result.exit_code == 0, result.output
        provision_service_users(build_admin(admin), admin)  # so that `orgs check` sees no ACL drift
        yield ex


def test_orgs_add_sets_the_producer_quota_of_the_orgs_user(exchange: Exchange) -> None:
    """Leaves bank-sg registered with 2048 B/s on the broker."""
    assert exchange.broker_quotas() == {}
    out = exchange.tmp / "bank-sg.json"
    added = exchange.ok("orgs", "add", "bank-sg", *BANK, "--quota-producer-byte-rate", "2048",
                        "--credentials-out", str(out))  # fmt: skip
    assert out.exists()
    assert (added["quotas_supported"], added["producer_byte_rate"]) == (True, 2048.0)
    assert "producer quota 2048 B/s set" in str(added["summary"])
    assert exchange.broker_quotas("bank-sg") == {"bank-sg": 2048.0}
    # The quota is of user=bank-sg alone: no default entity, nobody else throttled.
    assert exchange.broker_quotas() == {"bank-sg": 2048.0}
    check = exchange.ok("orgs", "check")
    assert (check["ok"], check["quotas_supported"], check["quota_drift"]) == (True, True, [])


def test_orgs_check_reports_a_quota_changed_by_hand_and_update_restores_it(exchange: Exchange) -> None:
    """Leaves bank-sg at 4096 B/s."""
    alter_user_quotas(exchange.admin, {"bank-sg": 999.0})
    result = exchange.cli("orgs", "check")
    assert result.exit_code == 1
    assert "quota   user=bank-sg producer_byte_rate: registry 2048, broker 999" in result.stdout
    updated = exchange.ok("orgs", "update", "bank-sg", "--quota-producer-byte-rate", "4096")
    assert "producer quota 4096 B/s set" in str(updated["summary"])
    assert exchange.broker_quotas("bank-sg") == {"bank-sg": 4096.0}
    again = exchange.ok("orgs", "update", "bank-sg", "--trust", "0.6")  # no quota change: left as it is
    assert "producer quota 4096 B/s unchanged" in str(again["summary"])
    assert exchange.ok("orgs", "check")["ok"] is True


def test_the_broker_throttles_the_orgs_own_login(exchange: Exchange) -> None:
    """The quota's entity is the org's SCRAM principal: its producer is throttled at 4096 B/s."""
    login = Settings(credentials_file=exchange.tmp / "bank-sg.json")
    throttled: list[ThrottleEvent] = []
    producer = build_producer(login, throttle_cb=throttled.append, **{"linger.ms": 0})
    topic = login.topics.submissions_of("bank-sg")
    errors: list[object] = []
    for _ in range(8):  # 80 KB that do not compress: twenty seconds of its quota
        producer.produce(
            topic, os.urandom(10_000), on_delivery=lambda err, _msg: errors.append(err) if err else None
        )
        producer.poll(0)
    deadline = time.monotonic() + 30
    while (producer.flush(0.5) or not throttled) and time.monotonic() < deadline:
        pass
    assert errors == []
    assert throttled and max(e.throttle_time for e in throttled) > 0, "the broker never throttled bank-sg"


def test_an_unlimited_org_has_no_quota_on_the_broker(exchange: Exchange) -> None:
    """Leaves bank-sg at 4096 B/s and telco-th registered, unlimited."""
    yaml = exchange.tmp / "orgs.yaml"
    yaml.write_text(
        "organisations:\n"
        "  - {id: telco-th, name: Telco, sector: telecom, roles: [producer],\n"
        "     quotas: {producer_byte_rate: 512}}\n"
    )
    loaded = exchange.cli("orgs", "load", str(yaml), "--credentials-dir", str(exchange.tmp), "--json")
    assert loaded.exit_code == 0, loaded.output
    assert exchange.broker_quotas() == {"bank-sg": 4096.0, "telco-th": 512.0}
    exchange.ok("orgs", "update", "telco-th", "--quota-producer-byte-rate", "none")
    assert exchange.broker_quotas() == {"bank-sg": 4096.0}  # removed, not set to 0
    listed = {o["id"]: o for o in json.loads(exchange.cli("orgs", "list", "--json").stdout)}
    assert listed["telco-th"]["quotas"]["producer_byte_rate"] is None
    assert exchange.ok("orgs", "check")["ok"] is True


def test_only_a_super_user_may_describe_or_alter_quotas(exchange: Exchange) -> None:
    bank = Settings(credentials_file=exchange.tmp / "bank-sg.json")
    with pytest.raises(KafkaError, match="could not describe client quotas: not authorised"):
        describe_user_quotas(bank)
    with pytest.raises(KafkaError, match="could not alter client quotas: user=bank-sg: not authorised"):
        alter_user_quotas(bank, {"bank-sg": None})
    assert sync_user_quota(exchange.admin, "bank-sg", 4096.0) == "unchanged"


def test_orgs_remove_clears_the_quota(exchange: Exchange) -> None:
    result = exchange.cli("orgs", "remove", "bank-sg")
    assert result.exit_code == 0, result.output
    assert "producer quota removed" in result.stdout
    assert exchange.broker_quotas() == {}
    gone = exchange.cli("orgs", "remove", "telco-th")
    assert gone.exit_code == 0 and "no producer quota" in gone.stdout
    assert exchange.ok("orgs", "check")["ok"] is True
