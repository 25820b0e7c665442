"""Client quotas, the pure part (no broker): what the registry implies for each organisation's user, the drift
against what a broker holds, the login options aiokafka gets, and the AlterClientQuotas v0 bytes."""

from __future__ import annotations

import doctest
import struct
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import KafkaError
from pipeline.identity import quotas
from pipeline.identity.quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasRequestV0,
    AlterClientQuotasResponseV0,
    QuotaMismatch,
    aiokafka_options,
    producer_quota,
    quota_drift,
    quota_entity,
    quota_op,
    quota_outcome,
    registry_quotas,
    user_rates,
)
from pipeline.state.org import Organisation, Quotas

BANK = Organisation(id="bank", name="Bank", sector="bank", roles=["producer", "subscriber"])
TELCO = Organisation(
    id="telco", name="Telco", sector="telecom", roles=["producer"], quotas={"producer_byte_rate": None}
)
POLICE = Organisation(
    id="police", name="Police", sector="law-enforcement", roles=["producer"], quotas={"producer_byte_rate": 0}
)


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(quotas, raise_on_error=True).attempted >= 3


def test_each_org_gets_a_user_quota_of_its_producer_byte_rate() -> None:
    assert Quotas().producer_byte_rate == 1_048_576  # the default an exchange ships: 1 MiB/s
    assert producer_quota(BANK) == 1_048_576.0
    assert producer_quota(TELCO) is None  # unlimited: no quota on the broker at all
    assert producer_quota(POLICE) == 0.0  # zero is a quota (it stops the org producing), not "none"
    assert registry_quotas([BANK, TELCO, POLICE]) == {"bank": 1_048_576.0, "telco": None, "police": 0.0}
    assert quota_entity("bank") == [("user", "bank")]


def test_the_op_sets_a_rate_or_removes_the_quota() -> None:
    assert quota_op(2048.0) == ("producer_byte_rate", 2048.0, False)
    assert quota_op(0.0) == ("producer_byte_rate", 0.0, False)
    assert quota_op(None) == ("producer_byte_rate", 0.0, True)


@pytest.mark.parametrize(
    ("expected", "actual", "outcome"),
    [(1024.0, None, "set"), (1024.0, 512.0, "set"), (1024.0, 1024.0, "unchanged"),
     (None, 1024.0, "removed"), (None, None, "unchanged"), (0.0, None, "set")],
)  # fmt: skip
def test_outcome(expected: float | None, actual: float | None, outcome: str) -> None:
    assert quota_outcome(expected, actual) == outcome


def test_drift_names_each_registered_user_whose_quota_differs() -> None:
    expected = registry_quotas([BANK, TELCO, POLICE])
    actual = {"bank": 1_048_576.0, "telco": 10.0, "pipeline": 5.0}  # police has none; pipeline is not an org
    drift = quota_drift(expected, actual)
    assert drift == [QuotaMismatch("police", 0.0, None), QuotaMismatch("telco", None, 10.0)]
    assert [str(m) for m in drift] == [
        "user=police producer_byte_rate: registry 0, broker none",
        "user=telco producer_byte_rate: registry none, broker 10",
    ]
    assert quota_drift(expected, {"bank": 1_048_576.0, "police": 0.0}) == []


rates = st.one_of(st.none(), st.integers(0, 10**9).map(float))
users = st.sampled_from(["bank", "bank-sg", "telco", "police"])


@given(st.dictionaries(users, rates), st.dictionaries(users, st.integers(0, 10**9).map(float)))
def test_drift_is_empty_exactly_when_the_broker_holds_the_registry(
    expected: dict[str, float | None], actual: dict[str, float]
) -> None:
    drift = quota_drift(expected, actual)
    assert {m.user for m in drift} <= set(expected)  # other users' quotas are never the registry's
    assert (drift == []) == all(actual.get(u) == r for u, r in expected.items())
    applied = {u: r for u, r in expected.items() if r is not None}  # what sync_user_quota leaves behind
    assert quota_drift(expected, applied) == []


def test_user_rates_keep_only_named_user_entities() -> None:
    entries = [
        ([("user", "bank")], [("producer_byte_rate", 2048.0)]),
        ([("user", "telco")], [("consumer_byte_rate", 9.0)]),  # not a quota the exchange manages
        ([("user", "bank"), ("client-id", "x")], [("producer_byte_rate", 1.0)]),  # (user, client) pair
        ([("user", None)], [("producer_byte_rate", 3.0)]),  # the default user entity
        ([("client-id", "bank")], [("producer_byte_rate", 4.0)]),
    ]
    assert user_rates(entries) == {"bank": 2048.0}
    assert user_rates(entries, ["telco"]) == {}


def test_alter_request_v0_bytes() -> None:
    """AlterClientQuotas v0 as Kafka's AlterClientQuotasRequest.json lays it out (non-flexible)."""
    request = AlterClientQuotasRequest([(quota_entity("bank"), [quota_op(1024.0)])])
    built = request.prepare({49: (0, 1)})
    assert isinstance(built, AlterClientQuotasRequestV0)

    def string(s: str) -> bytes:
        return struct.pack(">h", len(s)) + s.encode()

    want = (
        struct.pack(">i", 1)  # entries
        + struct.pack(">i", 1) + string("user") + string("bank")  # entity
        + struct.pack(">i", 1) + string("producer_byte_rate") + struct.pack(">d", 1024.0) + b"\x00"  # op
        + b"\x00"  # validate_only
    )  # fmt: skip
    assert built.encode() == want
    removal = AlterClientQuotasRequest([(quota_entity("bank"), [quota_op(None)])]).prepare({49: (0, 1)})
    assert removal.encode().endswith(struct.pack(">d", 0.0) + b"\x01\x00")


def test_alter_response_v0_decodes_per_entity_errors() -> None:
    raw = (
        struct.pack(">i", 0) + struct.pack(">i", 1)
        + struct.pack(">h", 31) + struct.pack(">h", -1)  # CLUSTER_AUTHORIZATION_FAILED, null message
        + struct.pack(">i", 1) + struct.pack(">h", 4) + b"user" + struct.pack(">h", 4) + b"bank"
    )  # fmt: skip
    response = AlterClientQuotasResponseV0.decode(BytesIO(raw))
    assert response.entries == [(31, None, [("user", "bank")])]


def test_a_broker_without_the_request_is_unsupported_not_an_error() -> None:
    """aiokafka refuses to build a request the broker does not advertise (tansu): that is what
    ``_exchange`` turns into QuotasUnsupportedError."""
    from aiokafka.errors import IncompatibleBrokerVersion  # noqa: PLC0415

    with pytest.raises(IncompatibleBrokerVersion):
        AlterClientQuotasRequest([]).prepare({0: (0, 11)})
    assert issubclass(quotas.QuotasUnsupportedError, KafkaError)


def test_aiokafka_options_follow_the_librdkafka_ones() -> None:
    plain = aiokafka_options({"bootstrap.servers": "k1:9092,k2:9092"})
    assert plain == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}
    librdkafka = {
        "bootstrap.servers": "k:9092",
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "admin",
        "sasl.password": "pw",
    }
    assert aiokafka_options(librdkafka) == {
        "bootstrap_servers": "k:9092", "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "admin", "sasl_plain_password": "pw",
    }  # fmt: skip
    tls = aiokafka_options({"bootstrap.servers": "k:9093", "security.protocol": "SSL"})
    assert tls["ssl_context"].check_hostname is True
    with pytest.raises(KafkaError, match=r"sasl\.mechanism OAUTHBEARER is not supported here"):
        aiokafka_options({"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"})
