"""Reading reports from MISP event JSON: attributes, skips by type, to_ids, country."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.producers.misp_input import read_misp
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

DATA = Path(__file__).parent / "data"


def _items(doc: Any, name: str = "e.json") -> list[ReadItem]:
    return list(read_misp(doc, name))


def _event(*attributes: dict[str, Any], **event: Any) -> dict[str, Any]:
    return {"Event": {"Attribute": list(attributes), **event}}


def test_sample_event() -> None:
    items = _items(json.loads((DATA / "misp_event.json").read_text()))
    by_loc = {i.source.removeprefix("e.json:"): i for i in items}
    # The bank-account object's holder-name is context of its one report (text, to_ids false): no item.
    assert list(by_loc) == [
        "Attribute[0]",
        "Attribute[1]",
        "Attribute[2]",
        "Attribute[3]",
        "Attribute[4]",
        "Attribute[5]",
        "Attribute[6]",
        "Attribute[7]",
        "Attribute[8]",
        "Attribute[9]",
        "Object[0].Attribute[0]",
        "Object[1].Attribute[0]",
    ]
    phone = by_loc["Attribute[0]"]
    assert isinstance(phone, ReportInput)
    assert (phone.kind, phone.tlp, phone.description, phone.first_seen) == (
        "phone",
        TLP.AMBER,
        "Caller ID seen by victims",
        datetime(2026, 11, 5, tzinfo=UTC),
    )
    victim = by_loc["Attribute[1]"]
    assert isinstance(victim, Skipped)
    assert "to_ids false" in victim.reason
    assert victim.category == "to_ids-false"

    domain = by_loc["Attribute[2]"]
    assert isinstance(domain, ReportInput)
    assert domain.tlp is TLP.RED  # the attribute's tag is more restrictive than the event's
    assert domain.description == "Investment scam wave, November 2026"  # event info when no comment

    ip = by_loc["Attribute[3]"]  # ip-dst: not carried, counted as skipped under its MISP type
    assert isinstance(ip, Skipped)
    assert ip.category == "ip-dst"

    url = by_loc["Attribute[4]"]
    assert isinstance(url, ReportInput)
    assert url.first_seen == datetime(2026, 11, 4, 10, tzinfo=UTC)

    email = by_loc["Attribute[5]"]
    assert isinstance(email, ReportInput)  # to_ids "1" (string) counts as true
    assert email.kind == "email"

    btc = by_loc["Attribute[6]"]
    assert isinstance(btc, ReportInput)
    assert (btc.kind, btc.chain) == ("wallet", "bitcoin")

    lone_bic = by_loc["Attribute[7]"]
    assert isinstance(lone_bic, Rejected)
    assert "a BIC alone is not a report" in lone_bic.reason

    deleted = by_loc["Attribute[8]"]
    assert isinstance(deleted, Skipped)
    assert (deleted.category, "deleted" in deleted.reason) == ("deleted", True)

    host = by_loc["Attribute[9]"]
    assert isinstance(host, ReportInput)
    assert host.value == "pay.invest-quick.example.com"  # hostname|port: the hostname part

    iban = by_loc["Object[0].Attribute[0]"]
    assert isinstance(iban, ReportInput)
    assert (iban.kind, iban.bic) == ("bank-account", "COBADEFF")
    accepted = to_canonical_report(iban)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.props["bic"] == "COBADEFFXXX"

    bic_without_iban = by_loc["Object[1].Attribute[0]"]
    assert isinstance(bic_without_iban, Rejected)
    assert "holds no IBAN" in bic_without_iban.reason


def test_bare_event_and_missing_to_ids() -> None:
    (item,) = _items({"Attribute": [{"type": "domain", "value": "example.com"}]})
    assert isinstance(item, ReportInput)
    assert item.source == "e.json:Attribute[0]"
    assert item.tlp is None


def test_rest_response_with_several_events() -> None:
    doc = {
        "response": [
            _event({"type": "url", "value": "http://a.example.com/"}, Tag=[{"name": "TLP:GREEN"}]),
            _event({"type": "domain", "value": "b.example.com"}),
        ]
    }
    items = _items(doc)
    assert [i.source for i in items] == ["e.json:response[0].Attribute[0]", "e.json:response[1].Attribute[0]"]
    assert isinstance(items[0], ReportInput)
    assert items[0].tlp is TLP.GREEN


def test_list_of_events() -> None:
    items = _items([_event({"type": "domain", "value": "a.example.com"})])
    assert [i.source for i in items] == ["e.json:[0].Attribute[0]"]


def test_non_tlp_tags_are_ignored() -> None:
    (item,) = _items(
        _event({"type": "domain", "value": "a.com"}, Tag=[{"name": "red"}, {"name": "tlp:ex:chr"}])
    )
    assert isinstance(item, ReportInput)
    assert item.tlp is None


def test_second_different_bic_in_an_object_is_rejected() -> None:
    obj = {
        "Attribute": [
            {"type": "iban", "value": "DE89370400440532013000"},
            {"type": "bic", "value": "COBADEFF"},
            {"type": "bic", "value": "DEUTDEFF"},
        ]
    }
    items = _items({"Event": {"Object": [obj]}})
    assert [(type(i).__name__, i.source) for i in items] == [
        ("Rejected", "e.json:Object[0].Attribute[2]"),
        ("ReportInput", "e.json:Object[0].Attribute[0]"),
    ]


@pytest.mark.parametrize(
    ("doc", "where", "reason"),
    [
        ({"Event": {"Attribute": {}}}, "e.json:Attribute", "'Attribute' must be a list"),
        ({"Event": {"Object": [5]}}, "e.json:Object[0]", "a MISP object must be a JSON object"),
        (_event("x"), "e.json:Attribute[0]", "a MISP attribute must be a JSON object"),
        (_event({"type": "domain", "value": 5}), "e.json:Attribute[0]", "'value' must be a string"),
    ],
)
def test_malformed_parts_are_rejected(doc: Any, where: str, reason: str) -> None:
    (item,) = _items(doc)
    assert isinstance(item, Rejected)
    assert (item.source, reason in item.reason) == (where, True)


def test_event_that_is_not_an_object_is_a_file_error() -> None:
    with pytest.raises(InputError, match="'Event' is not a JSON object"):
        _items({"Event": []})


@pytest.mark.parametrize(
    ("misp_type", "value"),
    [
        ("ip-dst", "203.0.113.9"),
        ("ip-src", "198.51.100.4"),
        ("md5", "9e107d9d372bb6826bd81d3542a419d6"),
        ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("yara", "rule x { condition: true }"),
        ("sigma", "title: x"),
        ("comment", "seen on a forum"),
        ("text", "free text"),
        ("link", "https://news.example.com/story"),
    ],
)
def test_types_the_exchange_does_not_carry_are_skipped_by_type(misp_type: str, value: str) -> None:
    (item,) = _items(_event({"type": misp_type, "value": value, "to_ids": True}))
    assert item == Skipped(
        "e.json:Attribute[0]",
        f"MISP type {misp_type!r} is not an indicator kind the exchange carries",
        misp_type,
    )


def test_deleted_wins_over_type_and_to_ids() -> None:
    items = _items(_event({"type": "ip-dst", "value": "203.0.113.9", "deleted": True, "to_ids": False}))
    assert [(type(i).__name__, getattr(i, "category", None)) for i in items] == [("Skipped", "deleted")]


def test_include_non_ids_keeps_a_to_ids_false_attribute() -> None:
    event = _event({"type": "phone-number", "value": "+44 20 7946 0958", "to_ids": False})
    (skipped,) = _items(event)
    assert isinstance(skipped, Skipped)
    assert skipped.category == "to_ids-false"
    (kept,) = read_misp(event, "e.json", ReadOptions(include_non_ids=True))
    assert isinstance(kept, ReportInput)
    assert (kept.kind, kept.value) == ("phone", "+44 20 7946 0958")


def test_country_option_is_the_country_of_national_numbers() -> None:
    event = _event({"type": "phone-number", "value": "0412 345 678", "to_ids": True})
    (report,) = read_misp(event, "e.json", ReadOptions(country="AU"))
    assert isinstance(report, ReportInput)
    assert report.country == "AU"
    accepted = to_canonical_report(report)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "+61412345678"
    (no_country,) = _items(event)
    assert isinstance(no_country, ReportInput)
    assert no_country.country is None


def test_a_country_the_object_gives_wins_over_the_option() -> None:
    obj = {
        "name": "phone-number",
        "Attribute": [
            {
                "type": "phone-number",
                "object_relation": "phone-number",
                "value": "020 7946 0958",
                "to_ids": True,
            },
            {"type": "text", "object_relation": "country-code", "value": "GB", "to_ids": False},
        ],
    }
    (report,) = read_misp({"Event": {"Object": [obj]}}, "e.json", ReadOptions(country="AU"))
    assert isinstance(report, ReportInput)
    assert (report.source, report.country) == ("e.json:Object[0].Attribute[0]", "GB")
    accepted = to_canonical_report(report)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "+442079460958"


def test_attribute_without_a_type_is_rejected() -> None:
    (item,) = _items(_event({"value": "a.example.com"}))
    assert item == Rejected("e.json:Attribute[0]", "a MISP attribute needs a 'type'")


def test_nameless_object_recipient_is_skipped() -> None:
    obj = {
        "Attribute": [
            {"type": "email-src", "object_relation": "from", "value": "x@scam.example.com"},
            {"type": "email-dst", "object_relation": "to", "value": "victim@mail.example.org"},
        ]
    }
    items = _items({"Event": {"Object": [obj]}})
    assert [(type(i).__name__, i.source) for i in items] == [
        ("ReportInput", "e.json:Object[0].Attribute[0]"),
        ("Skipped", "e.json:Object[0].Attribute[1]"),
    ]
    assert isinstance(items[1], Skipped)
    assert items[1].category == "recipient"


@pytest.mark.parametrize(("flag", "published"), [("FALSE", False), ("", False), ("0", False), ("True", True)])
def test_to_ids_written_as_text_in_any_case(flag: str, published: bool) -> None:
    (item,) = _items(_event({"type": "domain", "value": "evil-bank.com", "to_ids": flag}))
    assert isinstance(item, ReportInput) is published
    assert isinstance(item, Skipped) is not published


def test_an_empty_deleted_flag_is_not_deleted() -> None:
    (item,) = _items(_event({"type": "domain", "value": "evil-bank.com", "to_ids": True, "deleted": ""}))
    assert isinstance(item, ReportInput)
