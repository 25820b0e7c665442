"""acl_drift (pure) and the conversion between our Acl and confluent-kafka's AclBinding (no broker)."""

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
from pipeline.identity.acls import Acl, exporter_acls, org_acls, pipeline_acls
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
