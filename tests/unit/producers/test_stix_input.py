"""Reading reports from STIX 2.1 bundles and object lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.canon import Canonical, canonicalize
from pipeline.errors import InputError
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    Skipped,
    to_canonical_report,
)
from pipeline.producers.stix_input import read_stix
from pipeline.stix.build import report_bundle
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.markings import PAP_EXTENSION_ID
from pipeline.stix.tlp import TLP, TLP2_EXTENSION_ID

DATA = Path(__file__).parent / "data"
UNKNOWN = "marking-definition--00000000-0000-4000-8000-00000000abcd"
CUSTOM = "marking-definition--7b9d2a3e-1f44-4d6b-9c0e-5a8f3e2d1c00"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _items(doc: Any, name: str = "b.json") -> list[ReadItem]:
    return list(read_stix(doc, name))


def _indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "id": "indicator--1", "pattern": pattern, "pattern_type": "stix", **extra}


def test_sample_bundle() -> None:
    items = _items(json.loads((DATA / "bundle.json").read_text()))
    by_source = {i.source.removeprefix("b.json:"): i for i in items}
    assert sorted(by_source) == sorted(
        [*(f"objects[{n}]" for n in (2, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16)), "objects[13].pattern[1]"]
    ), "covered SCOs (objects[3], objects[17]), identities and markings yield nothing"

    phone = by_source["objects[2]"]
    assert isinstance(phone, ReportInput)
    assert (phone.kind, phone.value, phone.tlp, phone.confidence, phone.country) == (
        "phone",
        "+61412345678",
        TLP.AMBER,
        80,
        "AU",
    )
    assert phone.scam_types == ("bank-impersonation",)
    assert phone.first_seen == datetime(2026, 10, 30, 12, tzinfo=UTC)
    assert phone.description == "Bank impersonation calls"
    assert phone.location == "objects[2]"

    domain = by_source["objects[5]"]
    assert isinstance(domain, ReportInput)
    assert domain.tlp is TLP.RED  # TLP 1.0 id
    assert domain.scam_types == ("phishing",)  # the label that is not a scam type name is dropped

    social = by_source["objects[6]"]
    assert isinstance(social, ReportInput)
    assert (social.kind, social.value) == ("social", "telegram:fake_support_bot")

    bank = by_source["objects[7]"]
    assert isinstance(bank, ReportInput)
    assert (bank.kind, bank.value, bank.bic) == ("bank-account", "DE89370400440532013000", "COBADEFFXXX")

    email = by_source["objects[10]"]
    assert isinstance(email, ReportInput)
    assert (email.kind, email.tlp) == ("email", TLP.AMBER)  # custom marking definition naming TLP amber

    wallet = by_source["objects[15]"]
    assert isinstance(wallet, ReportInput)
    assert (wallet.kind, wallet.chain) == ("wallet", "ethereum")

    withdrawn = by_source["objects[9]"]  # a revoked Indicator: the producer withdraws its report
    assert isinstance(withdrawn, ReportInput)
    assert (withdrawn.kind, withdrawn.value, withdrawn.revoked) == ("domain", "old-scam.example.com", True)
    # An OR of two domains is two reports; the ipv4 indicator and SCO are skipped, not rejected.
    assert [
        (by_source[loc].kind, by_source[loc].value) for loc in ("objects[13]", "objects[13].pattern[1]")
    ] == [
        ("domain", "a.example.com"),
        ("domain", "b.example.com"),
    ]
    assert by_source["objects[13].pattern[1]"].location == "objects[13].pattern[1]"
    for loc, category in [("objects[8]", "indicator:ipv4-addr"), ("objects[12]", "ipv4-addr")]:
        item = by_source[loc]
        assert isinstance(item, Skipped)
        assert item.category == category
    assert isinstance(by_source["objects[14]"], Rejected)
    assert "not a STIX object" in by_source["objects[14]"].reason


def test_our_own_report_bundle_round_trips() -> None:
    c = canonicalize("phone", "+14155552671")
    assert isinstance(c, Canonical)
    bundle = report_bundle(
        c,
        producer="telco-us",
        now=NOW,
        tlp=TLP.AMBER_STRICT,
        confidence=70,
        scam_types=["tech-support"],
        country_hint="US",
    )
    (item,) = _items(bundle)
    assert isinstance(item, ReportInput)
    assert (item.kind, item.value, item.tlp, item.confidence, item.scam_types, item.country) == (
        "phone",
        "+14155552671",
        TLP.AMBER_STRICT,
        70,
        ("tech-support",),
        "US",
    )
    accepted = to_canonical_report(item)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.indicator_id == c.indicator_id


def test_list_of_objects_uses_index_locations() -> None:
    items = _items([{"type": "domain-name", "id": "domain-name--1", "value": "example.com"}], "l.json")
    assert [i.source for i in items] == ["l.json:[0]"]


def test_single_object() -> None:
    (item,) = _items(_indicator("[url:value = 'http://example.com/x']"))
    assert isinstance(item, ReportInput)
    assert item.kind == "url"


def test_extension_scam_types_are_strict_labels_lenient() -> None:
    ext = {INDICATOR_EXTENSION_ID: {"extension_type": "property-extension", "scam_types": ["$$$"]}}
    (strict,) = _items(_indicator("[domain-name:value = 'example.com']", extensions=ext))
    assert isinstance(strict, Rejected)
    assert "scam type '$$$'" in strict.reason
    (lenient,) = _items(_indicator("[domain-name:value = 'example.com']", labels=["$$$", "romance"]))
    assert isinstance(lenient, ReportInput)
    assert lenient.scam_types == ("romance",)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"type": "indicator", "id": "indicator--1"}, "indicator has no 'pattern' string"),
        (_indicator("[user-account:account_login = 'bob']"), "user-account needs account_type"),
        (_indicator("[domain-name:value = 'a.com']", confidence=200), "confidence must be between 0 and 100"),
        (
            _indicator("[domain-name:value = 'a.com']", object_marking_refs="x"),
            "'object_marking_refs' must be a list",
        ),
        (_indicator("[domain-name:value = 'a.com']", valid_from="yesterday"), "first_seen 'yesterday'"),
        ({"type": "bank-account", "id": "bank-account--1", "bic": "COBADEFF"}, "none of value, iban"),
        ({"type": "bank-account", "id": "bank-account--1", "account_number": "1"}, "bank-account needs iban"),
    ],
)
def test_bad_objects_are_rejected_with_reasons(obj: dict[str, Any], reason: str) -> None:
    (item,) = _items({"type": "bundle", "id": "bundle--1", "objects": [obj]})
    assert isinstance(item, Rejected)
    assert item.source == "b.json:objects[0]"
    assert reason in item.reason


def test_relationship_in_either_direction_covers_the_sco() -> None:
    objects = [
        _indicator("[domain-name:value = 'a.example.com']"),
        {"type": "domain-name", "id": "domain-name--x", "value": "different.example.com"},
        {
            "type": "relationship",
            "id": "relationship--1",
            "relationship_type": "related-to",
            "source_ref": "domain-name--x",
            "target_ref": "indicator--1",
        },
    ]
    assert [i.source for i in _items(objects)] == ["b.json:[0]"]


def test_unknown_marking_id_rejects_the_indicator_instead_of_leaving_tlp_unset() -> None:
    # Was test_unrecognised_markings_leave_tlp_unset: an unknown ref used to pass as unmarked (fail open).
    (item,) = _items(_indicator("[domain-name:value = 'a.com']", object_marking_refs=[UNKNOWN]))
    assert isinstance(item, Rejected)
    assert item.reason.startswith("uninterpretable marking: ") and UNKNOWN in item.reason


def test_most_restrictive_marking_wins() -> None:
    refs = [TLP.GREEN.marking_id, TLP.RED.marking_id, TLP.AMBER.marking_id]
    (item,) = _items(_indicator("[domain-name:value = 'a.com']", object_marking_refs=refs))
    assert isinstance(item, ReportInput)
    assert item.tlp is TLP.RED


@pytest.mark.parametrize("doc", [{"type": "bundle", "objects": {}}, "just a string", 42])
def test_not_stix_is_a_file_error(doc: Any) -> None:
    with pytest.raises(InputError, match=r"^b.json: "):
        _items(doc)


# --- markings fail closed (pipeline.stix.markings): the same resolver as the worker ---------------------


def _domain(**extra: Any) -> dict[str, Any]:
    return {"type": "domain-name", "id": "domain-name--d", "value": "sco.example.com", **extra}


def _based_on(**extra: Any) -> dict[str, Any]:
    return {
        "type": "relationship",
        "id": "relationship--r",
        "relationship_type": "based-on",
        "source_ref": "indicator--1",
        "target_ref": "domain-name--d",
        **extra,
    }


def _marking(**fields: Any) -> dict[str, Any]:
    return {"type": "marking-definition", "id": CUSTOM, **fields}


def _one_report(*objects: dict[str, Any]) -> ReportInput:
    reports = _items(list(objects))
    assert len(reports) == 1, reports
    assert isinstance(reports[0], ReportInput), reports[0]
    return reports[0]


def _one_rejected(*objects: dict[str, Any]) -> Rejected:
    (item,) = [i for i in _items(list(objects)) if isinstance(i, Rejected)]
    return item


def test_statement_marking_rejects_the_indicator() -> None:
    statement = _marking(definition_type="statement", definition={"statement": "Internal only"})
    item = _one_rejected(statement, _indicator("[domain-name:value = 'a.com']", object_marking_refs=[CUSTOM]))
    assert "statement" in item.reason and CUSTOM in item.reason


def test_granular_red_on_the_indicator_is_red() -> None:
    granular = [{"marking_ref": TLP.RED.marking_id, "selectors": ["pattern"]}]
    assert _one_report(_indicator("[domain-name:value = 'a.com']", granular_markings=granular)).tlp is TLP.RED


def test_marking_only_on_the_related_sco_applies_to_the_indicator() -> None:
    ind = _indicator("[domain-name:value = 'a.com']", object_marking_refs=[TLP.GREEN.marking_id])
    item = _one_report(ind, _based_on(), _domain(object_marking_refs=[TLP.RED.marking_id]))
    assert (item.value, item.tlp) == ("a.com", TLP.RED)  # the covered SCO yields no report of its own


def test_marking_only_on_the_relationship_applies_to_the_indicator() -> None:
    ind = _indicator("[domain-name:value = 'a.com']")
    assert _one_report(ind, _based_on(object_marking_refs=[TLP.AMBER.marking_id]), _domain()).tlp is TLP.AMBER


@pytest.mark.parametrize(
    "fields",
    [
        {"definition_type": "TLP", "definition": {"TLP": "RED"}},
        {"definition_type": "tlp", "definition": {"tlp": "red"}},
        {"x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:RED"},
        {"extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "red"}}},
    ],
    ids=["opencti4", "lower-case", "x_opencti", "tlp2-extension"],
)
def test_custom_red_defined_in_the_file_is_red(fields: dict[str, Any]) -> None:
    ind = _indicator("[domain-name:value = 'a.com']", object_marking_refs=[CUSTOM])
    assert _one_report(_marking(**fields), ind).tlp is TLP.RED


def test_pap_red_alongside_tlp_green_is_green() -> None:
    pap = _marking(name="PAP:RED", extensions={PAP_EXTENSION_ID: {"pap": "red"}})
    ind = _indicator("[domain-name:value = 'a.com']", object_marking_refs=[TLP.GREEN.marking_id, CUSTOM])
    assert _one_report(pap, ind).tlp is TLP.GREEN


def test_unmarked_and_tlp1_white() -> None:
    assert _one_report(_indicator("[domain-name:value = 'a.com']")).tlp is None
    white = _indicator("[domain-name:value = 'a.com']", object_marking_refs=[TLP1_WHITE])
    assert _one_report(white).tlp is TLP.CLEAR


def test_a_bare_sco_is_its_own_indicator_for_markings() -> None:
    granular = [{"marking_ref": TLP.RED.marking_id, "selectors": ["value"]}]
    assert _one_report(_domain(granular_markings=granular)).tlp is TLP.RED
    red = _marking(definition_type="TLP", definition={"TLP": "RED"})
    assert _one_report(red, _domain(object_marking_refs=[CUSTOM])).tlp is TLP.RED
    item = _one_rejected(_domain(object_marking_refs=[UNKNOWN]))
    assert item.source == "b.json:[0]"
    assert item.reason.startswith("uninterpretable marking: ") and "domain-name--d" in item.reason
    statement = _marking(definition_type="statement", definition={"statement": "x"})
    assert "statement" in _one_rejected(statement, _domain(object_marking_refs=[CUSTOM])).reason


# --- whole patterns: OR/AND, references, skipped parts (issue: real-world inputs) ------------------------


def _reports(items: list[ReadItem]) -> list[tuple[str, str]]:
    return [(i.kind, i.value) for i in items if isinstance(i, ReportInput)]


def _skipped(items: list[ReadItem]) -> list[str]:
    return [i.category for i in items if isinstance(i, Skipped)]


@pytest.mark.parametrize("pattern_type", ["yara", "sigma", "snort", "suricata"])
def test_other_pattern_languages_are_skipped_by_type_not_rejected(pattern_type: str) -> None:
    items = _items(_indicator("rule x { condition: true }", pattern_type=pattern_type))
    assert _skipped(items) == [f"indicator:{pattern_type}"]
    assert not any(isinstance(i, Rejected) for i in items)


def test_an_or_of_carried_observables_is_one_report_each_and_the_rest_is_skipped() -> None:
    # The shape of the OASIS poisonivy sample: hashes OR'ed with domains, in several observations.
    pattern = (
        "([file:hashes.'SHA-256' = 'aa' OR domain-name:value = 'a.example.com'] OR "
        "[domain-name:value = 'b.example.com' OR ipv4-addr:value = '198.51.100.1']) WITHIN 600 SECONDS"
    )
    items = _items(_indicator(pattern))
    assert _reports(items) == [("domain", "a.example.com"), ("domain", "b.example.com")]
    assert _skipped(items) == ["pattern:file", "pattern:ipv4-addr"]
    assert [i.source for i in items if isinstance(i, ReportInput)] == ["b.json:[0]", "b.json:[0].pattern[1]"]


def test_and_of_one_observables_properties_is_one_report_and_in_lists_expand() -> None:
    items = _items(
        _indicator("[bank-account:account_number = '12345678' AND bank-account:country IN ('GB', 'IE')]")
    )
    assert _reports(items) == [("bank-account", "GB:12345678"), ("bank-account", "IE:12345678")]


def test_an_email_senders_reference_is_the_email_address_and_its_subject_is_skipped() -> None:
    items = _items(
        _indicator(
            "[email-message:from_ref.value = 'billing@paypa1-secure.com' AND email-message:subject = 'x']"
        )
    )
    assert _reports(items) == [("email", "billing@paypa1-secure.com")]
    assert _skipped(items) == ["pattern:email-message"]


@pytest.mark.parametrize(
    ("pattern", "category"),
    [
        ("[domain-name:value LIKE '%.evil.example']", "indicator:LIKE"),
        ("[domain-name:value NOT = 'good.example']", "indicator:NOT"),
        ("[domain-name:value != 'good.example']", "indicator:!="),
        ("[email-message:to_refs[*].value = 'victim@example.org']", "indicator:email-message"),
    ],
)
def test_comparisons_the_exchange_cannot_carry_are_skipped(pattern: str, category: str) -> None:
    assert _skipped(_items(_indicator(pattern))) == [category]


def test_a_pattern_that_does_not_parse_is_still_rejected() -> None:
    (item,) = _items(_indicator("[domain-name:value = 'a.com' OR"))
    assert isinstance(item, Rejected)
    assert "invalid pattern" in item.reason


def test_sdos_and_other_scos_are_skipped_and_structure_is_not_counted() -> None:
    objects = [
        {"type": "identity", "id": "identity--1", "name": "x"},
        {"type": "malware", "id": "malware--1", "name": "poison ivy", "is_family": True},
        {"type": "file", "id": "file--1", "hashes": {"MD5": "00"}},
        {
            "type": "relationship",
            "id": "relationship--1",
            "source_ref": "malware--1",
            "target_ref": "file--1",
        },
    ]
    assert _skipped(_items(objects)) == ["malware", "file"]


@pytest.mark.parametrize("value", ["66812345678", "+66812345678"])
def test_e164_phone_numbers_with_or_without_the_plus(value: str) -> None:
    sco = {"type": "phone-number", "id": "phone-number--1", "value": value}
    assert _reports(_items([sco])) == [("phone", "+66812345678")]
    assert _reports(_items(_indicator(f"[phone-number:value = '{value}']"))) == [("phone", "+66812345678")]


def test_a_national_phone_number_takes_the_country_option() -> None:
    sco = {"type": "phone-number", "id": "phone-number--1", "value": "0812345678"}
    (item,) = list(read_stix([sco], "b.json", ReadOptions(country="TH")))
    assert isinstance(item, ReportInput)
    accepted = to_canonical_report(item)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "+66812345678"


# --- found in review -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "objects",
    [
        [{"type": "domain-name", "id": {}, "value": "a.com"}],
        [{"type": "indicator", "id": [], "pattern": "[domain-name:value = 'a.com']", "pattern_type": "stix"}],
        [{"type": "relationship", "id": "relationship--1", "source_ref": [], "target_ref": {}}],
    ],
)
def test_ids_and_refs_that_are_not_strings_never_crash(objects: list[dict[str, Any]]) -> None:
    for item in _items(objects):
        assert isinstance(item, ReportInput | Rejected | Skipped)


def test_one_observable_spelt_several_ways_is_one_report() -> None:
    objects = [
        _indicator(
            "[domain-name:value = 'a.com' OR domain-name:value = 'A.COM' OR domain-name:value = 'www.a.com']"
        ),
        {"type": "domain-name", "id": "domain-name--2", "value": "www.A.com"},
        _indicator("[phone-number:value = '61412345678']") | {"id": "indicator--2"},
        {"type": "phone-number", "id": "phone-number--2", "value": "+61412345678"},
    ]
    assert _reports(_items(objects)) == [("domain", "a.com"), ("phone", "+61412345678")]


def test_an_and_of_two_values_of_one_property_is_rejected_not_half_read() -> None:
    (item,) = _items(_indicator("[domain-name:value = 'a.com' AND domain-name:value = 'b.com']"))
    assert isinstance(item, Rejected)
    assert "both 'a.com' and 'b.com'" in item.reason


def test_an_in_list_counts_against_the_limit_of_alternatives() -> None:
    values = ", ".join(f"'a{n}.com'" for n in range(2000))  # about 20 KB
    (item,) = _items(_indicator(f"[domain-name:value IN ({values})]"))
    assert isinstance(item, Rejected)
    assert "more than 1024 alternatives" in item.reason
