"""Every MISP document shape is recognised and read, with JSON-path locations (samples in data/misp/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.producers.misp_input import is_misp_document, read_misp
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    Skipped,
    to_canonical_report,
)
from pipeline.stix.tlp import TLP

DATA = Path(__file__).parent / "data" / "misp"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _summary(items: list[ReadItem]) -> list[tuple[str, str, str]]:
    """(class, location, kind:value or category) per item: one line per entry, in order."""
    rows = []
    for item in items:
        where = item.source.split(":", 1)[1]
        if isinstance(item, ReportInput):
            rows.append(("report", where, f"{item.kind}={item.value}"))
        elif isinstance(item, Skipped):
            rows.append(("skipped", where, item.category))
        else:
            rows.append(("rejected", where, item.reason))
    return rows


_ATTRIBUTE = {"type": "domain", "category": "Network activity", "to_ids": True, "value": "a.example.com"}


@pytest.mark.parametrize(
    "doc",
    [
        {"Event": {"Attribute": []}},
        {"Attribute": []},
        {"response": []},
        {"response": [{"Event": {}}]},
        {"response": [{"Object": {"name": "url", "Attribute": []}}]},
        {"response": {"Attribute": []}},
        [{"Event": {}}],
        [{"Object": {"name": "url", "Attribute": []}}],
        {"Object": {"name": "url", "Attribute": []}},
        [_ATTRIBUTE],
    ],
)
def test_every_shape_is_recognised(doc: Any) -> None:
    assert is_misp_document(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "bundle", "id": "bundle--1", "objects": []},
        [{"type": "indicator", "id": "indicator--1", "spec_version": "2.1", "pattern": "[x:value = 'a']"}],
        {"type": "domain", "value": "a.example.com"},  # a JSON Lines record
        [{"type": "domain", "value": "a.example.com"}],  # records without MISP's attribute keys
        [{"type": "domain", "value": "a", "category": "x", "spec_version": "2.1"}],
        {"response": {"status": "ok"}},
        {"response": [{"status": "ok"}]},
        {"hello": "world"},
        [],
        "text",
    ],
)
def test_other_json_is_not_taken_for_misp(doc: Any) -> None:
    assert not is_misp_document(doc)


def test_attributes_restsearch() -> None:
    doc = _load("attributes_restsearch.json")
    assert is_misp_document(doc)
    items = list(read_misp(doc, "a.json", ReadOptions(country="AU")))
    assert _summary(items) == [
        ("report", "response.Attribute[0]", "domain=secure-refund.example.net"),
        ("skipped", "response.Attribute[1]", "ip-dst"),
        ("skipped", "response.Attribute[2]", "md5"),
        ("skipped", "response.Attribute[3]", "to_ids-false"),
        # object 77 (a bank account): the swift at [5] travels with the IBAN; the account name is text
        ("report", "response.Attribute[4]", "bank-account=GB82 WEST 1234 5698 7654 32"),
        ("skipped", "response.Attribute[6]", "text"),
        # object 78 (an e-mail): the recipient is a victim; the sender is read by its type
        ("skipped", "response.Attribute[7]", "recipient"),
        ("report", "response.Attribute[8]", "email=refunds@secure-refund.example.net"),
        ("report", "response.Attribute[9]", "phone=0412 345 678"),
    ]
    domain, iban, phone = items[0], items[4], items[8]
    assert isinstance(domain, ReportInput)
    assert (domain.tlp, domain.description) == (TLP.AMBER, "Tax refund SMS wave")  # the attribute's Event
    assert isinstance(iban, ReportInput)
    assert iban.bic == "NWBKGB2L"
    assert isinstance(phone, ReportInput)
    assert (phone.country, phone.description) == ("AU", "Parcel redelivery calls")
    assert phone.first_seen == datetime(2026, 11, 19, tzinfo=UTC)
    accepted = to_canonical_report(phone)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "+61412345678"


def test_attributes_restsearch_object_with_a_name_is_mapped_once() -> None:
    summary = {"id": "9", "name": "twitter-account", "distribution": "5"}
    attrs = [
        {"type": "text", "category": "Social network", "object_id": "9", "object_relation": "name",
         "to_ids": False, "value": "ScamDesk", "Object": summary},
        {"type": "text", "category": "Social network", "object_id": "9", "object_relation": "id",
         "to_ids": False, "value": "12345", "Object": summary},
    ]  # fmt: skip
    items = list(read_misp({"response": {"Attribute": attrs}}, "a.json"))
    assert _summary(items) == [("report", "response.Attribute[0]", "social=x:ScamDesk")]


def test_objects_restsearch() -> None:
    doc = _load("objects_restsearch.json")
    assert is_misp_document(doc)
    items = list(read_misp(doc, "o.json"))
    assert _summary(items) == [
        ("report", "response[0].Object.Attribute[0]", "social=x:GiveawayDesk_X"),
        ("skipped", "response[0].Object.Attribute[3]", "twitter-account:embedded-link"),
        ("skipped", "response[1].Object", "user-account:unix"),
        ("report", "response[2].Object.Attribute[0]", "domain=claim-double.example.org"),
        ("skipped", "response[2].Object.Attribute[1]", "ip-dst"),
        ("skipped", "response[2].Object.Attribute[2]", "ip-dst"),
        ("skipped", "response[3].Object", "object:file"),
        ("report", "response[4].Object.Attribute[0]", "wallet=0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
    ]
    social, wallet = items[0], items[7]
    assert isinstance(social, ReportInput)
    assert social.description == "Crypto giveaway impersonation accounts"  # the object's Event
    assert isinstance(wallet, ReportInput)
    assert wallet.chain == "ethereum"  # the symbol ETH, not the btc type of the template's address relation
    unix = items[2]
    assert isinstance(unix, Skipped)
    assert "credential, typically a victim's" in unix.reason


def test_events_restsearch() -> None:
    doc = _load("events_restsearch.json")
    assert is_misp_document(doc)
    items = list(read_misp(doc, "e.json", ReadOptions(country="AU")))
    assert _summary(items) == [
        ("report", "response[0].Attribute[0]", "url=https://secure-login.bank-verify.example.com/otp"),
        ("skipped", "response[0].Attribute[1]", "sha256"),
        ("skipped", "response[0].Attribute[2]", "yara"),
        ("skipped", "response[0].Attribute[3]", "comment"),
        ("report", "response[0].Object[0].Attribute[1]", "email=realbank.security@mail-desk.example.net"),
        ("skipped", "response[0].Object[0].Attribute[0]", "email:from"),
        ("skipped", "response[0].Object[0].Attribute[2]", "recipient"),
        ("report", "response[0].Object[1].Attribute[0]", "phone=020 7946 0958"),
        ("report", "response[0].Object[2].Attribute[0]", "bank-account=123-4-56789-0"),
        ("report", "response[1].Object[0].Attribute[0]", "phone=0412 345 678"),
        ("skipped", "response[1].Object[0].Attribute[1]", "recipient"),
    ]
    phone, account, sms = items[7], items[8], items[9]
    assert isinstance(phone, ReportInput)
    assert (phone.country, phone.tlp, phone.description) == ("GB", TLP.GREEN, "spoofed fraud-team caller ID")
    assert isinstance(account, ReportInput)
    assert (account.country, account.bic) == ("TH", "BKKBTHBK")  # the country is the BIC's
    accepted = to_canonical_report(account)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "TH:1234567890 BKKBTHBKXXX"
    assert isinstance(sms, ReportInput)
    assert (sms.country, sms.first_seen) == ("AU", datetime(2026, 11, 22, tzinfo=UTC))


def test_bare_attribute_list() -> None:
    doc = [_ATTRIBUTE, {**_ATTRIBUTE, "type": "ip-dst", "value": "203.0.113.1"}]
    assert _summary(list(read_misp(doc, "l.json"))) == [
        ("report", "[0]", "domain=a.example.com"),
        ("skipped", "[1]", "ip-dst"),
    ]


def test_list_of_objects_and_a_single_object() -> None:
    obj = {
        "name": "url",
        "Attribute": [{"type": "url", "object_relation": "url", "value": "https://a.example.com/x"}],
    }
    assert _summary(list(read_misp([{"Object": obj}], "l.json"))) == [
        ("report", "[0].Object.Attribute[0]", "url=https://a.example.com/x")
    ]
    assert _summary(list(read_misp({"Object": obj}, "o.json"))) == [
        ("report", "Object.Attribute[0]", "url=https://a.example.com/x")
    ]


def test_pymisp_attribute_search_without_response() -> None:
    attr = {**_ATTRIBUTE, "Event": {"id": "1", "info": "from the summary", "date": "2026-01-02"}}
    (item,) = read_misp({"Attribute": [attr]}, "p.json")
    assert isinstance(item, ReportInput)
    assert (item.source, item.description) == ("p.json:Attribute[0]", "from the summary")
    assert item.first_seen == datetime(2026, 1, 2, tzinfo=UTC)


def test_empty_search_answer_reads_nothing() -> None:
    assert list(read_misp({"response": []}, "e.json")) == []
    assert list(read_misp({"response": {"Attribute": []}}, "e.json")) == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"response": {"status": "ok"}}, "'response' must be a list of events or objects"),
        ({"response": [5]}, r"response\[0\] is not a MISP event or object"),
        ([{"Event": []}], r"\[0\] is not a MISP event"),
        ("text", "not a MISP event"),
    ],
)
def test_a_document_that_is_not_misp_is_a_file_error(doc: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(read_misp(doc, "e.json"))


def test_attributes_restsearch_attribute_list_must_be_a_list() -> None:
    (item,) = read_misp({"response": {"Attribute": {}}}, "a.json")
    assert item == Rejected("a.json:response.Attribute", "'Attribute' must be a list")
