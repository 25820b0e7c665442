"""Identity end to end on a secure Apache Kafka: a real worker logged in as the pipeline user, organisations
registered with the real CLI, and every client logged in with its own credentials file.

One secure KRaft node (SASL_PLAINTEXT + SCRAM-SHA-512, StandardAuthorizer, deny by default) and one Redis for
the module (:class:`EmbeddedStack`). The operator's steps, in order: ``topics create`` as ``admin``; the
pipeline's and exporter's users (:func:`provision_service_users`); ``orgs add`` of a bank ``bank-sg`` and a
telecom ``telco-th`` (producers and subscribers, one subscription each) and of ``police-au`` (producer only),
each ``--credentials-out`` its own file; then ``scamshare worker`` with the pipeline's credentials file.

The tests run in file order and build on each other's counters (each says what it adds), so counts are
exact. Two kinds of refusal: the BROKER's (a client sees an authorisation error) and the PIPELINE's (a
message the broker let in that does not count: dead-lettered with its reason, counted as rejected). Skipped
with the reason when Java >= 17 or Maven is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka import KafkaError as ClientError
from pydantic import SecretStr

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.dev.kafka_jars import kafka_available
from pipeline.dev.stack import EmbeddedStack
from pipeline.errors import DeliveryError
from pipeline.errors import KafkaError as ScamshareKafkaError
from pipeline.identity.acls import Acl
from pipeline.identity.credentials import scram_options, write_credentials
from pipeline.identity.kafka_admin import (
    create_acls,
    current_acls,
    delete_acls,
    provision_service_users,
    scram_users,
)
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import ensure_topics, input_topic_spec
from pipeline.producers.publisher import Publisher, build_submission
from pipeline.state.redis_store import RedisStore
from pipeline.subscribers.consumer import FeedConsumer
from pipeline.subscribers.sightings import report_sighting
from tests.integration.acl_probes import consume_error, produce_error

from .helpers import canon, read_records, stop_worker

AVAILABLE, WHY_NOT = kafka_available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not AVAILABLE, reason=f"secure Apache Kafka skipped: {WHY_NOT}"),
]

DENIED_TOPIC = ClientError.TOPIC_AUTHORIZATION_FAILED
WAIT_S = 15.0
ORGS: dict[str, list[str]] = {
    "bank-sg": ["--name", "Bank SG", "--sector", "bank", "--country", "SG", "--trust", "0.8"],
    "telco-th": ["--name", "Telco TH", "--sector", "telecom", "--country", "TH", "--trust", "0.7"],
    "police-au": ["--name", "Police AU", "--sector", "law-enforcement", "--country", "AU", "--trust", "0.9"],
}
BOTH = ["producer", "subscriber"]
ROLES = {"bank-sg": BOTH, "telco-th": BOTH, "police-au": ["producer"]}
#: subscription -> (owner, extra `subscribers add` options): the bank takes everything, the telecom phones.
SUBS = {"bank-sg-all": ("bank-sg", ["--sector", "bank"]),
        "telco-th-phones": ("telco-th", ["--sector", "telecom", "--types", "phone"])}  # fmt: skip

PHONE_SG = canon("phone", "+65 9123 4567")
DOMAIN_SG = canon("domain", "dbs-sg-verify-login.com")
PHONE_TH = canon("phone", "+66 81 234 5678")
URL_TH = canon("url", "https://th-post-parcel-fee.com/pay")
PHONE_AU = canon("phone", "+61 412 345 678")
REPORTS = {"bank-sg": [PHONE_SG, DOMAIN_SG], "telco-th": [PHONE_TH, URL_TH], "police-au": [PHONE_AU]}


@dataclass
class Exchange:
    stack: EmbeddedStack
    tmp: Path
    env: dict[str, str | None]  # the CLI's environment: Redis, state dir, no stray SCAMSHARE_* of the caller
    admin_file: Path
    admin: Settings
    worker: subprocess.Popen[bytes]
    worker_log: Path

    def cli(self, *args: str) -> Result:
        """Run ``scamshare ARGS --credentials <admin's file>`` in process (click's runner)."""
        argv = [*args, "--credentials", str(self.admin_file)]
        return CliRunner().invoke(cli, argv, env=self.env, catch_exceptions=False)

    def login(self, org: str) -> Settings:
        """An organisation's client settings: its credentials file and nothing else."""
        return Settings(credentials_file=self.tmp / f"{org}.json")

    def stats(self) -> dict[str, int]:
        return asyncio.run(_stats(self.admin))

    def log_tail(self) -> str:
        return self.worker_log.read_text(errors="replace")[-3000:]


async def _stats(settings: Settings) -> dict[str, int]:
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    try:
        return await store.stats()
    finally:
        await store.close()


def _cli_env(redis_url: str, state_dir: Path) -> dict[str, str | None]:
    scrub: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SCAMSHARE_")}
    return {**scrub, "SCAMSHARE_REDIS_URL": redis_url, "SCAMSHARE_STATE_DIR": str(state_dir),
            "SCAMSHARE_PARTITIONS": "1"}  # fmt: skip


def _start_worker(env: dict[str, str | None], pipeline_file: Path, log: Path) -> subprocess.Popen[bytes]:
    """``scamshare worker`` logged in as the pipeline user: its credentials file only (bootstrap included)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    child |= {k: v for k, v in env.items() if v is not None}
    child |= {"SCAMSHARE_CREDENTIALS_FILE": str(pipeline_file), "SCAMSHARE_REGISTRY_REFRESH_S": "1"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "pipeline", "worker"], env=child, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    tmp = tmp_path_factory.mktemp("identity")
    with EmbeddedStack(tmp / "stack", broker="kafka", secure=True) as stack:
        cluster = stack.cluster
        assert cluster is not None and cluster.security is not None
        env = _cli_env(stack.redis_url, tmp / "state")
        admin_file = write_credentials(tmp / "admin.json", "admin", cluster.bootstrap,
                                       cluster.security.admin_options())  # fmt: skip
        admin = Settings(credentials_file=admin_file, redis_url=SecretStr(stack.redis_url), partitions=1)
        runner = CliRunner()

        def run(*args: str) -> None:
            result = runner.invoke(cli, [*args, "--credentials", str(admin_file)], env=env)
            assert result.exit_code == 0, f"{args}: {result.output}"

        run("topics", "create")
        for user, password in provision_service_users(build_admin(admin), admin).items():
            write_credentials(tmp / f"{user}.json", user, cluster.bootstrap, scram_options(user, password))
        for org, fields in ORGS.items():
            roles = [arg for role in ROLES[org] for arg in ("--role", role)]
            run("orgs", "add", org, *fields, *roles, "--credentials-out", str(tmp / f"{org}.json"))
        for sub, (owner, fields) in SUBS.items():
            run("subscribers", "add", sub, "--name", sub, "--org", owner, *fields)
        log = tmp / "worker.log"
        worker = _start_worker(env, tmp / f"{admin.pipeline_user}.json", log)
        try:
            yield Exchange(stack, tmp, env, admin_file, admin, worker, log)
        finally:
            stop_worker(worker)


# --- helpers: what a client sees, and waiting for the worker -------------------------------------------


def eventually(check: Callable[[], bool], what: str, ex: Exchange, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert ex.worker.poll() is None, f"the worker exited:\n{ex.log_tail()}"
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g}s; stats {ex.stats()}\n{ex.log_tail()}")
        time.sleep(0.2)


def counted(ex: Exchange, want: dict[str, int]) -> dict[str, int]:
    """Wait until the stats hold at least ``want``; returns them."""
    eventually(lambda: all(ex.stats().get(k, 0) >= v for k, v in want.items()), f"counters {want}", ex)
    return ex.stats()


def read_feed(settings: Settings, sub: str, count: int) -> list[tuple[str, int, bool]]:
    """``count`` items of ``sub``'s feed read in its default group, then nothing more for a moment."""
    got: list[tuple[str, int, bool]] = []
    with FeedConsumer(settings, sub) as feed:
        assert feed.group_id == f"{SUBS[sub][0]}.sub.{sub}"
        deadline = time.monotonic() + 45
        while len(got) < count and time.monotonic() < deadline:
            item = feed.poll(0.5)
            if item is not None:
                got.append((item.indicator_id, item.version, item.revoked))
                feed.ack(item)
        extra = feed.poll(1.5)
        assert extra is None, f"{sub}: more than {count} items ({extra})"
    return got


def sight(ex: Exchange, org: str, indicator_id: str, kind: str) -> None:
    """``org`` reports a sighting on telco-th's subscription, logged in as itself (waits for the ack)."""
    report_sighting(ex.login(org), subscriber="telco-th-phones", indicator_id=indicator_id, kind=kind,
                    now=datetime.now(UTC), timeout_s=WAIT_S)  # fmt: skip


def submission(domain: str, producer: str) -> bytes:
    """A well-formed submission of ``domain`` whose envelope, header and bundle name ``producer``."""
    return build_submission(canon("domain", domain), producer=producer, now=datetime.now(UTC)).value


def dlq_reasons(ex: Exchange) -> list[str]:
    records = read_records(ex.admin, ex.admin.topics.dlq)
    return sorted(r.headers["scamshare-reason"].decode().split(":", 1)[0] for r in records)


# --- provisioning -------------------------------------------------------------------------------------


def test_each_org_got_its_own_private_credentials_and_no_drift(exchange: Exchange) -> None:
    for org in ORGS:
        path = exchange.tmp / f"{org}.json"
        assert path.stat().st_mode & 0o777 == 0o600
        doc = json.loads(path.read_text())
        assert doc["org"] == org and doc["kafka_options"]["sasl.username"] == org
        assert doc["kafka_options"]["security.protocol"] == "SASL_PLAINTEXT"
        assert doc["bootstrap"] == exchange.stack.bootstrap
    admin = build_admin(exchange.admin)
    s = exchange.admin
    assert scram_users(admin) == {"admin", *ORGS, s.pipeline_user, s.exporter_user, s.gateway_user}
    check = exchange.cli("orgs", "check", "--json")
    assert check.exit_code == 0, check.output
    assert json.loads(check.output) == {
        "acls_enforced": True, "ok": True, "missing": [], "extra": [],
        "quotas_supported": True, "quota_drift": [],
    }  # fmt: skip


# --- the legitimate path ------------------------------------------------------------------------------


def test_reports_on_own_channels_are_accepted_and_reach_each_feed(exchange: Exchange) -> None:
    for org, values in REPORTS.items():
        with Publisher(exchange.login(org)) as pub:
            assert pub.topic == f"scam.submissions.{org}"
            for c in values:
                pub.publish(c, confidence=80)
    stats = counted(exchange, {"accepted": 5, "indicators": 5})
    assert (stats["accepted"], stats["indicators"], stats.get("rejected", 0)) == (5, 5, 0)

    everything = {c.indicator_id for values in REPORTS.values() for c in values}
    phones = {PHONE_SG.indicator_id, PHONE_TH.indicator_id, PHONE_AU.indicator_id}
    bank = read_feed(exchange.login("bank-sg"), "bank-sg-all", len(everything))
    telco = read_feed(exchange.login("telco-th"), "telco-th-phones", len(phones))
    assert sorted(bank) == sorted((i, 1, False) for i in everything)
    assert sorted(telco) == sorted((i, 1, False) for i in phones)
    counted(exchange, {"delivered:bank-sg-all": 5, "delivered:telco-th-phones": 3})
    # A legitimate sighting: telco-th received PHONE_TH on its own subscription.
    sight(exchange, "telco-th", PHONE_TH.indicator_id, "true_positive")
    stats = counted(exchange, {"sightings": 1})
    assert (stats["sightings"], stats.get("sightings_rejected", 0)) == (1, 0)
    assert (stats["delivered:bank-sg-all"], stats["delivered:telco-th-phones"]) == (5, 3)


# --- what the broker refuses ---------------------------------------------------------------------------


def test_the_broker_refuses_another_orgs_topics(exchange: Exchange) -> None:
    bank = build_producer(exchange.login("bank-sg"), **{"message.timeout.ms": int(WAIT_S * 1000)})
    telco = build_producer(exchange.login("telco-th"), **{"message.timeout.ms": int(WAIT_S * 1000)})
    refused = {
        "bank-sg -> scam.submissions.telco-th": produce_error(bank, "scam.submissions.telco-th"),
        "bank-sg -> scam.indicators": produce_error(bank, "scam.indicators"),
        "bank-sg -> scam.feed.bank-sg-all": produce_error(bank, "scam.feed.bank-sg-all"),
        "telco-th -> scam.feed.telco-th-phones": produce_error(telco, "scam.feed.telco-th-phones"),
    }
    assert {k: e.code() if e else None for k, e in refused.items()} == dict.fromkeys(refused, DENIED_TOPIC)
    telco_login = exchange.login("telco-th")
    for topic in ("scam.feed.bank-sg-all", "scam.indicators"):
        err = consume_error(telco_login, topic, "telco-th.sub.x")  # its own group prefix
        assert err is not None and err.code() == DENIED_TOPIC, f"{topic}: {err}"
    # The subscriber SDK says so instead of waiting for ever for a feed that never arrives.
    feed = FeedConsumer(telco_login, "bank-sg-all", "telco-th.sub.x")
    try:
        with pytest.raises(ScamshareKafkaError, match=r"(?i)authori[sz]"):  # noqa: PT012
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                feed.poll(0.5)
    finally:
        feed.close()


# --- what the pipeline refuses (the broker let it in) ---------------------------------------------------


def test_what_the_pipeline_refuses_is_dead_lettered_and_not_counted(exchange: Exchange) -> None:
    admin = build_admin(exchange.admin)
    before = exchange.stats()
    # An unregistered organisation's topic (the admin made and wrote it): the worker never subscribes to it.
    ghost = "scam.submissions.ghost"
    ensure_topics(admin, [input_topic_spec(exchange.admin, ghost)])
    as_admin = build_producer(exchange.admin)
    assert produce_error(as_admin, ghost, submission("ghost-org-report.com", "ghost")) is None
    ghost_written = time.monotonic()

    # A report on bank-sg's own channel that names telco-th as its producer.
    bank = build_producer(exchange.login("bank-sg"))
    assert (
        produce_error(bank, "scam.submissions.bank-sg", submission("claims-to-be-telco.com", "telco-th"))
        is None
    )
    # A sighting of an indicator telco-th's subscription never received (DOMAIN_SG: no phone).
    sight(exchange, "telco-th", DOMAIN_SG.indicator_id, "false_positive")
    # police-au is no subscriber: it has no sightings topic and no ACL, so the broker refuses the write.
    with pytest.raises(DeliveryError, match=r"(?i)authori[sz]"):
        sight(exchange, "police-au", PHONE_AU.indicator_id, "true_positive")

    counted(exchange, {"rejected:identity_mismatch": 1, "sightings_rejected:not_received": 1})
    time.sleep(max(0.0, 3.0 - (time.monotonic() - ghost_written)))  # 3 registry refreshes for the ghost
    stats = exchange.stats()
    changed = {k: v - before.get(k, 0) for k, v in stats.items() if v != before.get(k, 0)}
    # Nothing accepted, no indicator, nothing of the ghost's.
    assert changed == {
        "rejected": 1, "rejected:identity_mismatch": 1,
        "sightings_rejected": 1, "sightings_rejected:not_received": 1,
    }, changed  # fmt: skip
    assert dlq_reasons(exchange) == ["identity_mismatch", "not_received"]
    group = ConsumerGroupTopicPartitions(exchange.admin.app_id, [TopicPartition(ghost, 0)])
    answer = admin.list_consumer_group_offsets([group])[exchange.admin.app_id].result(WAIT_S)
    [offsets] = answer.topic_partitions
    assert offsets.offset < 0, f"the pipeline committed {offsets} on the ghost topic"


# --- drift and removal ----------------------------------------------------------------------------------


def test_orgs_check_reports_an_acl_added_by_hand(exchange: Exchange) -> None:
    admin = build_admin(exchange.admin)
    extra = Acl("User:telco-th", "topic", "scam.indicators", "literal", "READ")
    create_acls(admin, [extra])
    try:
        check = exchange.cli("orgs", "check", "--json")
        assert check.exit_code == 1, check.output
        assert json.loads(check.output) == {
            "acls_enforced": True, "ok": False, "missing": [], "extra": [str(extra)],
            "quotas_supported": True, "quota_drift": [],
        }  # fmt: skip
    finally:
        delete_acls(admin, [extra])
    assert exchange.cli("orgs", "check").exit_code == 0


def test_orgs_remove_deletes_the_acls_and_the_user(exchange: Exchange) -> None:
    admin = build_admin(exchange.admin)
    assert current_acls(admin, ["User:police-au"]) != set()
    refused = exchange.cli("orgs", "remove", "bank-sg")  # owns a subscription: refused, nothing touched
    assert refused.exit_code == 1 and "bank-sg-all" in refused.output
    removed = exchange.cli("orgs", "remove", "police-au")
    assert removed.exit_code == 0, removed.output
    assert "police-au" in removed.output and "user deleted" in removed.output
    assert current_acls(admin, ["User:police-au"]) == set()
    assert "police-au" not in scram_users(admin)
    errors: list[ClientError] = []
    producer = build_producer(exchange.login("police-au"), error_cb=errors.append)
    deadline = time.monotonic() + WAIT_S
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    assert errors and errors[0].code() == ClientError._AUTHENTICATION, errors
    check = exchange.cli("orgs", "check")
    assert check.exit_code == 0, check.output


def test_the_worker_ran_throughout(exchange: Exchange) -> None:
    assert exchange.worker.poll() is None, exchange.log_tail()
    stats = exchange.stats()
    totals = ("accepted", "rejected", "sightings", "sightings_rejected")
    assert tuple(stats[k] for k in totals) == (5, 1, 1, 1)
