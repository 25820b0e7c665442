"""Deterministic ids: ours equal python-stix2's for the standard SCOs; indicator ids are stable."""

from __future__ import annotations

import json
import uuid

import stix2
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import Canonical, simple
from pipeline.stix.ids import (
    SCAMSHARE_NAMESPACE,
    STIX_NAMESPACE,
    canonical_json,
    escape_pattern_value,
    indicator_id,
    pattern_for,
    producer_identity_id,
    relationship_id,
    sco_id,
    uuid5,
    value_ids,
)
from pipeline.stix.pattern import is_valid_stix_pattern, parse_simple_pattern

# Any text STIX can carry; surrogates cannot be encoded as UTF-8 at all, so no producer can send them.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


def test_documented_example() -> None:
    assert sco_id("domain-name", {"value": "example.com"}) == stix2.DomainName(value="example.com").id


@settings(max_examples=60, deadline=None)
@given(value=TEXT)
def test_domain_url_email_ids_equal_stix2(value: str) -> None:
    assert sco_id("domain-name", {"value": value}) == stix2.DomainName(value=value).id
    assert sco_id("url", {"value": value}) == stix2.URL(value=value).id
    assert sco_id("email-addr", {"value": value}) == stix2.EmailAddress(value=value).id


@settings(max_examples=40, deadline=None)
@given(account_type=st.sampled_from(["telegram", "facebook", "whatsapp"]), login=TEXT, user_id=TEXT)
def test_user_account_ids_equal_stix2(account_type: str, login: str, user_id: str) -> None:
    both = {"account_type": account_type, "account_login": login, "user_id": user_id}
    assert sco_id("user-account", both) == stix2.UserAccount(**both).id
    login_only = {"account_type": account_type, "account_login": login}
    assert sco_id("user-account", login_only) == stix2.UserAccount(**login_only).id


def test_canonical_sco_ids_equal_stix2_objects() -> None:
    social = Canonical(
        kind="social",
        value="telegram:scam_support",
        props={"account_type": "telegram", "account_login": "scam_support"},
        id_props={"account_type": "telegram", "account_login": "scam_support"},
        pattern_props={"account_type": "telegram", "account_login": "scam_support"},
    )
    assert social.sco_id == stix2.UserAccount(account_type="telegram", account_login="scam_support").id
    assert simple("url", "https://a.example/").sco_id == stix2.URL(value="https://a.example/").id
    assert simple("email", "a@b.example").sco_id == stix2.EmailAddress(value="a@b.example").id


def test_sco_ids_are_uuid5_in_the_stix_namespace() -> None:
    ident = sco_id("phone-number", {"value": "+14155552671"})
    assert ident.startswith("phone-number--")
    expected = uuid.uuid5(STIX_NAMESPACE, '{"value":"+14155552671"}')
    assert ident == f"phone-number--{expected}"
    assert uuid.UUID(ident.split("--")[1]).version == 5


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": "ü", "a": 'x"y'}) == '{"a":"x\\"y","b":"ü"}'


def test_indicator_ids_are_deterministic() -> None:
    a1 = simple("domain", "scam.example")
    a2 = simple("domain", "scam.example")
    b = simple("domain", "scam2.example")
    assert a1.indicator_id == a2.indicator_id == indicator_id("[domain-name:value = 'scam.example']")
    assert a1.indicator_id != b.indicator_id
    # The same value under another SCO type is another indicator.
    assert simple("url", "scam.example").indicator_id != a1.indicator_id


def test_indicator_id_differs_from_sco_id() -> None:
    c = simple("phone", "+14155552671")
    assert c.indicator_id.split("--")[1] != c.sco_id.split("--")[1]


def test_relationship_ids_are_deterministic_and_directional() -> None:
    a = relationship_id("indicator--1", "based-on", "domain-name--2")
    assert a == relationship_id("indicator--1", "based-on", "domain-name--2")
    assert a != relationship_id("domain-name--2", "based-on", "indicator--1")
    assert a.startswith("relationship--")


def test_pattern_escaping() -> None:
    assert escape_pattern_value("it's") == "it\\'s"
    assert escape_pattern_value("a\\b") == "a\\\\b"
    # The backslash is escaped first, so an escaped quote is not escaped twice.
    assert escape_pattern_value("\\'") == "\\\\\\'"
    pattern = pattern_for("url", {"value": "https://x.example/?q='a'\\b"})
    assert pattern == "[url:value = 'https://x.example/?q=\\'a\\'\\\\b']"
    assert is_valid_stix_pattern(pattern)
    assert parse_simple_pattern(pattern) == [("url", "value", "https://x.example/?q='a'\\b")]


def test_pattern_for_sorts_properties() -> None:
    pattern = pattern_for("bank-account", {"country": "AU", "account_number": "123"})
    assert pattern == "[bank-account:account_number = '123' AND bank-account:country = 'AU']"
    assert is_valid_stix_pattern(pattern)


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(["value", "iban", "account_type", "x"]), st.text(), min_size=1))
def test_fast_uuid5_and_canonical_json_match_the_standard_library(props: dict[str, str]) -> None:
    reference = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(props) == reference
    assert uuid5(SCAMSHARE_NAMESPACE, reference) == str(uuid.uuid5(SCAMSHARE_NAMESPACE, reference))


@given(st.text(max_size=80), st.sampled_from([STIX_NAMESPACE, uuid.NAMESPACE_URL, uuid.NAMESPACE_DNS]))
def test_the_fast_uuid5_is_rfc_4122_uuid5(name: str, namespace: uuid.UUID) -> None:
    assert uuid5(namespace, name) == str(uuid.uuid5(namespace, name))


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["value", "iban", "account_type", "account_login", "x"]), TEXT, min_size=1
    ),
    st.sampled_from(["phone-number", "user-account", "bank-account"]),
)
def test_the_fast_ids_and_patterns_equal_their_definitions(props: dict[str, str], sco_type: str) -> None:
    # sco_id and indicator_id hash orjson's bytes directly, pattern_for skips sorting one property: each
    # must still be exactly the id the definition gives (JCS text, UUIDv5) and the sorted pattern.
    jcs = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert sco_id(sco_type, props) == f"{sco_type}--{uuid.uuid5(STIX_NAMESPACE, jcs)}"
    parts = [f"{sco_type}:{k} = '{escape_pattern_value(v)}'" for k, v in sorted(props.items())]
    pattern = "[" + " AND ".join(parts) + "]"
    assert pattern_for(sco_type, props) == pattern
    jcs_pattern = json.dumps({"pattern": pattern}, separators=(",", ":"), ensure_ascii=False)
    assert indicator_id(pattern) == f"indicator--{uuid.uuid5(SCAMSHARE_NAMESPACE, jcs_pattern)}"
    source = sco_id(sco_type, props)
    jcs_rel = json.dumps(
        {"source_ref": source, "relationship_type": "based-on", "target_ref": pattern},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    assert (
        relationship_id(source, "based-on", pattern)
        == f"relationship--{uuid.uuid5(SCAMSHARE_NAMESPACE, jcs_rel)}"
    )


@settings(max_examples=300)
@given(TEXT, st.sampled_from(["phone-number", "domain-name", "url", "email-addr", "imei"]))
def test_the_ids_of_a_value_alone_equal_their_definitions(value: str, sco_type: str) -> None:
    props = {"value": value}
    assert value_ids(sco_type, value) == (
        sco_id(sco_type, props),
        pattern_for(sco_type, props),
        indicator_id(pattern_for(sco_type, props)),
    )
    jcs = json.dumps(props, separators=(",", ":"), ensure_ascii=False)
    assert value_ids(sco_type, value)[0] == f"{sco_type}--{uuid.uuid5(STIX_NAMESPACE, jcs)}"


@given(TEXT)
def test_producer_identity_ids_are_uuid5_of_the_producer_in_scamshares_namespace(producer: str) -> None:
    expected = uuid.uuid5(SCAMSHARE_NAMESPACE, "scamshare/producer:" + producer)
    assert producer_identity_id(producer) == f"identity--{expected}"


def test_the_shared_hash_states_are_copied_never_consumed() -> None:
    # The ids hash from SHA-1 states that have taken the namespace (and a key) once: a state updated in place
    # would make every later id depend on the ones before it.
    from pipeline.stix import ids  # noqa: PLC0415

    states = [ids._STIX_NS, ids._OWN_NS, ids._STIX_VALUE, ids._OWN_PATTERN]
    before = [s.hexdigest() for s in states]
    first = [value_ids("domain-name", "example.com"), relationship_id("a--1", "uses", "b--2")]
    first.append(sco_id("user-account", {"account_login": "x", "account_type": "telegram"}))
    first.append(uuid5(SCAMSHARE_NAMESPACE, "n"))
    again = [value_ids("domain-name", "example.com"), relationship_id("a--1", "uses", "b--2")]
    again.append(sco_id("user-account", {"account_login": "x", "account_type": "telegram"}))
    again.append(uuid5(SCAMSHARE_NAMESPACE, "n"))
    assert first == again
    assert [s.hexdigest() for s in states] == before
    assert first[0][0] == "domain-name--" + str(uuid.uuid5(STIX_NAMESPACE, '{"value":"example.com"}'))
