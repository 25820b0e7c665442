"""Identity on a real, secure Apache Kafka: SCRAM users and ACLs refuse what the exchange forbids.

One secure KRaft node for the module (SASL_PLAINTEXT + SCRAM-SHA-512, StandardAuthorizer, deny by default,
``super.users=User:admin``). The registry is built in code (no Redis): producers+subscribers ``bank`` and
``bank-sg``, subscriber ``telco``; each is provisioned with :func:`provision_org` and its clients log in
with the credentials file :func:`write_credentials` wrote. Every refusal below is the BROKER's, seen the
way a client sees it: a delivery report, a consume error or an admin error. Skipped with the reason when
Java >= 17 or Maven is missing (as the conftest skips the Kafka half).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import KafkaError as ClientError
from confluent_kafka import Producer

from pipeline.config import Settings, Topics, read_credentials
from pipeline.dev.kafka import KafkaCluster, KafkaNode, kafka_uuid, server_properties
from pipeline.dev.kafka_jars import kafka_available
from pipeline.dev.kafka_security import KafkaSecurity
from pipeline.dev.stack import EmbeddedStack
from pipeline.errors import DevStackError, KafkaError
from pipeline.identity.acls import Acl, org_acls, registry_acls
from pipeline.identity.credentials import scram_options, write_credentials
from pipeline.identity.kafka_admin import (
    acl_drift,
    create_acls,
    create_scram_user,
    current_acls,
    delete_acls,
    deprovision_org,
    provision_org,
    provision_service_users,
    scram_users,
)
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import (
    ensure_topics,
    feed_topic_spec,
    input_topic_spec,
    list_topics,
    pipeline_topics,
)
from pipeline.state.org import Organisation
from pipeline.state.subscription import Subscription
from tests.integration.acl_probes import consume_error, produce_error

AVAILABLE, WHY_NOT = kafka_available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not AVAILABLE, reason=f"secure Apache Kafka skipped: {WHY_NOT}"),
]

DENIED_TOPIC = ClientError.TOPIC_AUTHORIZATION_FAILED
DENIED_GROUP = ClientError.GROUP_AUTHORIZATION_FAILED
WAIT_S = 15.0

BANK = Organisation(id="bank", name="Bank", sector="bank", roles=["producer", "subscriber"])
BANK_SG = Organisation(
    id="bank-sg", name="Bank SG", sector="bank", country="SG", roles=["producer", "subscriber"]
)
TELCO = Organisation(id="telco", name="Telco", sector="telecom", roles=["subscriber"])
ORGS = (BANK, BANK_SG, TELCO)
SUBSCRIPTIONS = (
    Subscription(id="telco-feed", name="Telco feed", sector="telecom", organisation="telco"),
    Subscription(id="bank-feed", name="Bank feed", sector="bank", organisation="bank"),
)


@dataclass
class Exchange:
    """The secure cluster, the settings of each login, and where the credentials files are."""

    cluster: KafkaCluster
    admin: Settings  # the super user
    logins: dict[str, Settings]  # org id or service user -> its settings (from its credentials file)
    credentials: dict[str, Path]
    producers: dict[str, Producer] = field(default_factory=dict)

    @property
    def topics(self) -> Topics:
        return self.admin.topics

    def produce(self, user: str, topic: str, *, fresh: bool = False) -> ClientError | None:
        """Produce one record as ``user``; the refusal, None = acknowledged.

        One idempotent producer per user (its first send waits ~0.5 s for a producer id), unless ``fresh``:
        a producer refused a topic keeps refusing it locally until its next metadata refresh.
        """
        if fresh or user not in self.producers:
            settings = self.admin if user == "admin" else self.logins[user]
            producer = build_producer(settings, **{"message.timeout.ms": int(WAIT_S * 1000)})
            if fresh:
                return produce_error(producer, topic)
            self.producers[user] = producer
        return produce_error(self.producers[user], topic)

    def login(self, user: str, password: str, tmp: Path) -> Settings:
        path = write_credentials(
            tmp / f"{user}.json", user, self.cluster.bootstrap, scram_options(user, password)
        )
        self.credentials[user] = path
        self.logins[user] = Settings(credentials_file=path, partitions=1)
        return self.logins[user]


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    tmp = tmp_path_factory.mktemp("kafka-acls")
    with KafkaCluster(tmp / "kafka", brokers=1, secure=True) as cluster:
        assert cluster.security is not None
        admin_settings = Settings(
            bootstrap=cluster.bootstrap, kafka_options=cluster.security.admin_options(), partitions=1
        )
        ex = Exchange(cluster, admin_settings, {}, {})
        admin = build_admin(admin_settings)
        ensure_topics(admin, pipeline_topics(admin_settings))
        for org in ORGS:
            password = provision_org(admin, admin_settings, org, SUBSCRIPTIONS)
            assert password is not None
            ex.login(org.id, password, tmp)
        for user, password in provision_service_users(admin, admin_settings).items():
            ex.login(user, password, tmp)
        pipeline = ex.logins[admin_settings.pipeline_user]
        # The pipeline creates the feeds (CREATE on scam.feed.*), as the worker does.
        feeds = [feed_topic_spec(pipeline, sub.topic(pipeline.topic_prefix)) for sub in SUBSCRIPTIONS]
        assert set(ensure_topics(build_admin(pipeline), feeds).values()) == {"created"}
        t = ex.topics
        seeded = [t.indicators, t.submissions, t.submissions_of("bank"), t.submissions_of("bank-sg"),
                  t.sightings_of("telco"), *(spec.name for spec in feeds)]  # fmt: skip
        assert [ex.produce("admin", topic) for topic in seeded] == [None] * len(seeded), "seeding failed"
        yield ex
        for producer in ex.producers.values():
            producer.flush(5)


# --- client helpers: what a client of the broker sees ----------------------------------------------------


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """ACL changes reach the broker's authorizer a moment after the admin call returns."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g}s")
        time.sleep(0.1)


def login_error(settings: Settings, timeout: float = 10.0) -> ClientError | None:
    """The first error a fresh client reports while logging in (None if none within ``timeout``)."""
    errors: list[ClientError] = []
    producer = build_producer(settings, error_cb=errors.append)
    deadline = time.monotonic() + timeout
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    return errors[0] if errors else None


# --- the mode itself -------------------------------------------------------------------------------------


def test_secure_server_properties() -> None:
    nodes = [KafkaNode(1, 9092, 9093, Path("/tmp/n1"), kafka_uuid())]
    security = KafkaSecurity.generate()
    props = server_properties(nodes[0], nodes, security)
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert props["auto.create.topics.enable"] == "false"
    assert props["listener.security.protocol.map"] == "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert props["listener.name.broker.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert security.admin_password in props["listener.name.broker.scram-sha-512.sasl.jaas.config"]
    assert security.format_args() == [
        "--add-scram",
        f"SCRAM-SHA-512=[name=admin,password={security.admin_password}]",
    ]
    plain = server_properties(nodes[0], nodes)  # the default is unchanged: PLAINTEXT, no authorizer
    assert plain["listener.security.protocol.map"] == "BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "authorizer.class.name" not in plain
    assert KafkaSecurity.generate().admin_password != security.admin_password


def test_the_embedded_broker_has_no_secure_mode() -> None:
    with pytest.raises(DevStackError, match="no ACLs"):
        EmbeddedStack(broker="tansu", secure=True)


def test_nobody_gets_in_without_a_login(exchange: Exchange) -> None:
    anonymous = Settings(bootstrap=exchange.cluster.bootstrap)  # PLAINTEXT: the SASL listener hangs up
    with pytest.raises(KafkaError, match="could not list topics"):
        list_topics(build_admin(anonymous), timeout=3)
    wrong = Settings(bootstrap=exchange.cluster.bootstrap, kafka_options=scram_options("bank", "not-it"))
    err = login_error(wrong)
    assert err is not None and err.code() == ClientError._AUTHENTICATION, err


def test_credentials_files_are_private_and_read_back(exchange: Exchange) -> None:
    path = exchange.credentials["bank"]
    assert path.stat().st_mode & 0o777 == 0o600
    creds = read_credentials(path)
    assert creds.org == "bank"
    assert creds.bootstrap == exchange.cluster.bootstrap
    assert creds.kafka_options["security.protocol"] == "SASL_PLAINTEXT"
    assert creds.kafka_options["sasl.mechanism"] == "SCRAM-SHA-512"
    assert creds.kafka_options["sasl.username"] == "bank"
    assert exchange.logins["bank"].org_id == "bank"


def test_every_user_was_created(exchange: Exchange) -> None:
    admin = build_admin(exchange.admin)
    s = exchange.admin
    assert scram_users(admin) == {
        "admin", "bank", "bank-sg", "telco", s.pipeline_user, s.exporter_user, s.gateway_user,
    }  # fmt: skip


# --- what the broker refuses ------------------------------------------------------------------------------


def test_bank_cannot_write_bank_sg_submissions(exchange: Exchange) -> None:
    """The prefixed-ACL trap: bank's LITERAL ACL on scam.submissions.bank does not match ...bank-sg."""
    err = exchange.produce("bank", exchange.topics.submissions_of("bank-sg"))
    assert err is not None and err.code() == DENIED_TOPIC, err


@pytest.mark.parametrize("org", ["bank", "bank-sg", "telco"])
def test_no_org_writes_the_shared_submissions_topic(exchange: Exchange, org: str) -> None:
    err = exchange.produce(org, exchange.topics.submissions)
    assert err is not None and err.code() == DENIED_TOPIC, err


def test_a_subscriber_cannot_read_another_subscribers_feed(exchange: Exchange) -> None:
    err = consume_error(exchange.logins["telco"], exchange.topics.feed("bank-feed"), "telco.x")
    assert err is not None and err.code() == DENIED_TOPIC, err
    err = consume_error(exchange.logins["bank"], exchange.topics.feed("telco-feed"), "bank.x")
    assert err is not None and err.code() == DENIED_TOPIC, err


@pytest.mark.parametrize(
    "topic", ["scam.indicators", "scam.submissions.bank", "scam.submissions", "scam.sightings.telco"]
)
def test_a_subscriber_cannot_read_the_pipelines_topics(exchange: Exchange, topic: str) -> None:
    err = consume_error(exchange.logins["telco"], topic, "telco.x")
    assert err is not None and err.code() == DENIED_TOPIC, f"{topic}: {err}"


@pytest.mark.parametrize(
    "topic", ["scam.indicators", "scam.feed.bank-feed", "scam.feed.telco-feed", "scam.dlq"]
)
@pytest.mark.parametrize("org", ["bank", "telco"])
def test_no_org_writes_indicators_feeds_or_the_dlq(exchange: Exchange, org: str, topic: str) -> None:
    err = exchange.produce(org, topic)
    assert err is not None and err.code() == DENIED_TOPIC, f"{org} -> {topic}: {err}"


@pytest.mark.parametrize("name", ["scam.submissions.bank2", "scam.feed.bank-feed2", "bank.own"])
def test_an_org_cannot_create_a_topic(exchange: Exchange, name: str) -> None:
    bank = exchange.logins["bank"]
    spec = (
        input_topic_spec(bank, name) if name.startswith("scam.submissions.") else feed_topic_spec(bank, name)
    )
    with pytest.raises(KafkaError, match=r"(?i)authoriz"):
        ensure_topics(build_admin(bank), [spec], timeout=5)
    # ... nor does producing to a missing topic create it (auto.create.topics.enable=false, and no DESCRIBE)
    assert (err := exchange.produce("bank", name)) is not None and err.code() == DENIED_TOPIC, err


def test_an_org_cannot_grant_itself_acls_or_users(exchange: Exchange) -> None:
    bank = build_admin(exchange.logins["bank"])
    with pytest.raises(KafkaError, match=r"not authorised.*CLUSTER_AUTHORIZATION_FAILED"):
        create_acls(bank, [Acl("User:bank", "topic", "scam.indicators", "literal", "READ")], timeout=5)
    with pytest.raises(KafkaError, match="CLUSTER_AUTHORIZATION_FAILED"):
        create_scram_user(bank, "bank-2", timeout=5)
    with pytest.raises(KafkaError, match="may not describe"):
        current_acls(bank, timeout=5)


@pytest.mark.parametrize("group", ["bank.x", "telco-x", "telcox.y", "scamshare", "telco"])
def test_an_org_cannot_use_a_group_outside_its_prefix(exchange: Exchange, group: str) -> None:
    err = consume_error(exchange.logins["telco"], exchange.topics.feed("telco-feed"), group)
    assert err is not None and err.code() == DENIED_GROUP, f"{group}: {err}"


# --- what the broker allows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org", "topic"),
    [("bank", "scam.submissions.bank"), ("bank", "scam.sightings.bank"),
     ("bank-sg", "scam.submissions.bank-sg"), ("telco", "scam.sightings.telco")],
)  # fmt: skip
def test_an_org_writes_its_own_topics(exchange: Exchange, org: str, topic: str) -> None:
    assert exchange.produce(org, topic) is None


def test_a_subscriber_reads_its_own_feed_in_its_group(exchange: Exchange) -> None:
    assert consume_error(exchange.logins["telco"], exchange.topics.feed("telco-feed"), "telco.x") is None
    assert (
        consume_error(exchange.logins["bank"], exchange.topics.feed("bank-feed"), "bank.sub.bank-feed")
        is None
    )


@pytest.mark.parametrize(
    "topic", ["scam.submissions.bank", "scam.submissions.bank-sg", "scam.sightings.telco"]
)
def test_the_pipeline_reads_submissions_and_sightings(exchange: Exchange, topic: str) -> None:
    pipeline = exchange.logins[exchange.admin.pipeline_user]
    assert consume_error(pipeline, topic, exchange.admin.app_id) is None


@pytest.mark.parametrize("topic", ["scam.indicators", "scam.feed.telco-feed", "scam.dlq"])
def test_the_pipeline_writes_indicators_feeds_and_the_dlq(exchange: Exchange, topic: str) -> None:
    assert exchange.produce(exchange.admin.pipeline_user, topic) is None


@pytest.mark.parametrize(
    "topic", ["scam.submissions.bank", "scam.submissions.bank-sg", "scam.sightings.telco"]
)
def test_the_gateway_writes_every_organisations_own_topics(exchange: Exchange, topic: str) -> None:
    assert exchange.produce(exchange.admin.gateway_user, topic) is None


@pytest.mark.parametrize("topic", ["scam.indicators", "scam.feed.telco-feed", "scam.dlq", "scam.submissions"])
def test_the_gateway_writes_nothing_else(exchange: Exchange, topic: str) -> None:
    """The gateway only produces what an organisation could produce itself: never the pipeline's topics."""
    err = exchange.produce(exchange.admin.gateway_user, topic, fresh=True)
    assert err is not None and err.code() == DENIED_TOPIC, f"{topic}: {err}"


@pytest.mark.parametrize("topic", ["scam.submissions.bank", "scam.feed.telco-feed", "scam.indicators"])
def test_the_gateway_reads_nothing(exchange: Exchange, topic: str) -> None:
    err = consume_error(exchange.logins[exchange.admin.gateway_user], topic, "bank.x")
    assert err is not None, topic


# --- drift and deprovisioning -----------------------------------------------------------------------------


def _expected(exchange: Exchange) -> list[Acl]:
    s = exchange.admin
    return registry_acls(ORGS, SUBSCRIPTIONS, s.topics, app_id=s.app_id, pipeline_user=s.pipeline_user,
                         exporter_user=s.exporter_user, gateway_user=s.gateway_user)  # fmt: skip


def test_acl_drift_reports_a_manual_acl_and_a_deleted_one(exchange: Exchange) -> None:
    admin = build_admin(exchange.admin)
    expected = _expected(exchange)
    assert acl_drift(expected, current_acls(admin)).ok
    # The trap, set by hand: a PREFIXED WRITE on scam.submissions.bank also matches ...bank-sg.
    trap = Acl("User:bank", "topic", "scam.submissions.bank", "prefixed", "WRITE")
    gone = Acl("User:telco", "topic", "scam.feed.telco-feed", "literal", "READ")
    create_acls(admin, [trap])
    assert delete_acls(admin, [gone]) == [gone]
    try:
        eventually(lambda: not acl_drift(expected, current_acls(admin)).ok, "drift visible")
        drift = acl_drift(expected, current_acls(admin))
        assert drift.missing == [gone]
        assert drift.extra == [trap]
        # ... and the broker does what the drift says: bank may now write bank-sg's topic, telco not read.
        eventually(
            lambda: exchange.produce("bank", "scam.submissions.bank-sg", fresh=True) is None, "trap open"
        )
        err = consume_error(exchange.logins["telco"], exchange.topics.feed("telco-feed"), "telco.x")
        assert err is not None and err.code() == DENIED_TOPIC, err
    finally:
        delete_acls(admin, [trap])
        create_acls(admin, [gone])
    eventually(lambda: acl_drift(expected, current_acls(admin)).ok, "drift repaired")
    eventually(lambda: (e := exchange.produce("bank", "scam.submissions.bank-sg", fresh=True)) is not None
               and e.code() == DENIED_TOPIC, "trap closed")  # fmt: skip


def test_deprovision_removes_the_user_and_its_acls(exchange: Exchange, tmp_path: Path) -> None:
    admin = build_admin(exchange.admin)
    shop = Organisation(id="shop", name="Shop", sector="platform", roles=["producer"])
    password = provision_org(admin, exchange.admin, shop, [])
    assert password is not None
    settings = exchange.login("shop", password, tmp_path)
    own = exchange.topics.submissions_of("shop")
    live = build_producer(settings, **{"message.timeout.ms": int(WAIT_S * 1000)})
    assert produce_error(live, own) is None  # logged in and allowed
    assert "shop" in scram_users(admin)

    deleted = deprovision_org(admin, exchange.admin, "shop", org_acls(shop, [], exchange.topics))

    assert "SCRAM user shop" in deleted
    assert "shop" not in scram_users(admin)
    assert current_acls(admin, ["User:shop"]) == set()
    err = login_error(settings)  # a new login fails ...
    assert err is not None and err.code() == ClientError._AUTHENTICATION, err
    # ... and a connection that logged in before is refused at once: ACLs are checked on every request.
    eventually(
        lambda: (e := produce_error(live, own)) is not None and e.code() == DENIED_TOPIC,
        "live client refused",
    )
    assert own in build_admin(exchange.admin).list_topics(timeout=10).topics  # its topic is kept
    assert acl_drift(_expected(exchange), current_acls(admin)).ok  # nothing of shop's left behind
