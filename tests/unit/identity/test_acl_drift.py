"""acl_drift (pure), the conversion between our Acl and confluent-kafka's AclBinding (no broker), and the
gateway's table (gateway_acls)."""

from __future__ import annotations

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Topics
from pipeline.identity.acls import (
    CANARY_ORG,
    Acl,
    exporter_acls,
    gateway_acls,
    org_acls,
    pipeline_acls,
    registry_acls,
)
from pipeline.identity.kafka_admin import acl_drift, describe_binding, from_binding, to_binding
from pipeline.state.org import Organisation
from pipeline.state.subscription import Subscription

TOPICS = Topics("scam.")
BANK = Organisation(id="bank", name="Bank", sector="bank", roles=["producer", "subscriber"])
FEED = Subscription(id="bank-feed", name="Bank feed", sector="bank", organisation="bank")
WRITE_OWN = Acl("User:bank", "topic", "scam.submissions.bank", "literal", "WRITE")
READ_INDICATORS = Acl("User:bank", "topic", "scam.indicators", "literal", "READ")

acls = st.builds(
    Acl,
    principal=st.sampled_from(["User:bank", "User:bank-sg", "User:telco"]),
    resource=st.sampled_from(["topic", "group"]),
    name=st.sampled_from(["scam.submissions.bank", "scam.feed.", "bank.", "*"]),
    pattern=st.sampled_from(["literal", "prefixed"]),
    operation=st.sampled_from(["ALL", "READ", "WRITE", "DESCRIBE", "CREATE"]),
)


def test_no_drift_when_the_broker_holds_exactly_the_table() -> None:
    table = org_acls(BANK, [FEED], TOPICS)
    drift = acl_drift(table, reversed(table))
    assert drift.ok
    assert drift.missing == drift.extra == []


def test_a_deleted_acl_is_missing_and_a_manual_one_is_extra() -> None:
    table = org_acls(BANK, [FEED], TOPICS)
    actual = [acl for acl in table if acl != WRITE_OWN] + [READ_INDICATORS]
    drift = acl_drift(table, actual)
    assert not drift.ok
    assert drift.missing == [WRITE_OWN]
    assert drift.extra == [READ_INDICATORS]


def test_a_prefixed_acl_is_not_the_literal_one() -> None:
    """The trap the table avoids: PREFIXED scam.submissions.bank would also match bank-sg's topic."""
    prefixed = Acl("User:bank", "topic", "scam.submissions.bank", "prefixed", "WRITE")
    drift = acl_drift([WRITE_OWN], [prefixed])
    assert drift.missing == [WRITE_OWN]
    assert drift.extra == [prefixed]


@given(st.lists(acls), st.lists(acls))
def test_drift_is_the_two_set_differences_sorted(expected: list[Acl], actual: list[Acl]) -> None:
    drift = acl_drift(expected, actual)
    assert drift.missing == sorted(set(expected) - set(actual))
    assert drift.extra == sorted(set(actual) - set(expected))
    assert drift.ok == (set(expected) == set(actual))
    assert acl_drift(actual, expected).missing == drift.extra  # symmetric


@given(acls)
def test_binding_round_trip(acl: Acl) -> None:
    binding = to_binding(acl)
    assert binding.permission_type == AclPermissionType.ALLOW
    assert binding.host == "*"
    assert from_binding(binding) == acl


def test_every_acl_of_the_tables_converts() -> None:
    table = [
        *org_acls(BANK, [FEED], TOPICS),
        *pipeline_acls("p", TOPICS, "scamshare"),
        *exporter_acls("e", TOPICS),
        *gateway_acls("g", TOPICS),
    ]
    assert [from_binding(to_binding(acl)) for acl in table] == table


def test_bindings_the_table_cannot_express_are_not_converted() -> None:
    def binding(**changes: object) -> AclBinding:
        fields: dict[str, object] = {
            "restype": ResourceType.TOPIC, "name": "t", "resource_pattern_type": ResourcePatternType.LITERAL,
            "principal": "User:bank", "host": "*", "operation": AclOperation.READ,
            "permission_type": AclPermissionType.ALLOW,
        }  # fmt: skip
        return AclBinding(**{**fields, **changes})

    assert from_binding(binding()) is not None
    for odd in (
        binding(permission_type=AclPermissionType.DENY),
        binding(host="10.0.0.1"),
        binding(restype=ResourceType.BROKER, name="kafka-cluster"),
        binding(restype=ResourceType.TRANSACTIONAL_ID),
        binding(operation=AclOperation.ALTER),
    ):
        assert from_binding(odd) is None
    assert describe_binding(binding(permission_type=AclPermissionType.DENY, host="10.0.0.1")) == (
        "User:bank DENY READ TOPIC:t (LITERAL) host=10.0.0.1"
    )


# --- the gateway's table ----------------------------------------------------------------------------------


def matches(acl: Acl, name: str) -> bool:
    return acl.name == name if acl.pattern == "literal" else name.startswith(acl.name)


def test_the_gateway_writes_and_describes_every_organisations_input_topics() -> None:
    assert gateway_acls("scamshare-gateway", TOPICS) == [
        Acl("User:scamshare-gateway", "topic", "scam.sightings.", "prefixed", "DESCRIBE"),
        Acl("User:scamshare-gateway", "topic", "scam.sightings.", "prefixed", "WRITE"),
        Acl("User:scamshare-gateway", "topic", "scam.submissions.", "prefixed", "DESCRIBE"),
        Acl("User:scamshare-gateway", "topic", "scam.submissions.", "prefixed", "WRITE"),
    ]
    # The prefix follows the topic prefix, as every per-organisation name does (Topics.submissions_of).
    assert {acl.name for acl in gateway_acls("g", Topics("x."))} == {"x.submissions.", "x.sightings."}


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True))
def test_the_gateway_reaches_each_organisations_input_topics_and_nothing_shared(org: str) -> None:
    acls = gateway_acls("g", TOPICS)
    for topic in (TOPICS.submissions_of(org), TOPICS.sightings_of(org)):
        assert {a.operation for a in acls if matches(a, topic)} == {"WRITE", "DESCRIBE"}, topic
    for topic in (TOPICS.submissions, TOPICS.sightings, TOPICS.indicators, TOPICS.dlq, TOPICS.feed(org),
                  f"scamshare-{org}"):  # fmt: skip
        assert not [a for a in acls if matches(a, topic)], topic


def test_the_gateway_never_consumes_nor_creates() -> None:
    for acl in gateway_acls("g", TOPICS):
        assert acl.resource == "topic", acl  # no consumer group
        assert acl.operation in ("WRITE", "DESCRIBE"), acl  # no READ, CREATE or ALL


def test_the_registry_table_holds_the_gateways() -> None:
    canary = Organisation(id=CANARY_ORG, name="Canary", sector="other", roles=["producer"])
    table = registry_acls([BANK, canary], [FEED], TOPICS, app_id="scamshare", pipeline_user="p",
                          exporter_user="e", gateway_user="g")  # fmt: skip
    assert {a for a in table if a.principal == "User:g"} == set(gateway_acls("g", TOPICS))
    assert table == sorted(
        {*pipeline_acls("p", TOPICS, "scamshare"), *exporter_acls("e", TOPICS), *gateway_acls("g", TOPICS),
         *org_acls(BANK, [FEED], TOPICS)}
    )  # fmt: skip
