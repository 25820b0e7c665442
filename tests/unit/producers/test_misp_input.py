"""Reading reports from MISP event JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.producers.misp_input import read_misp
from pipeline.producers.records import Accepted, ReadItem, Rejected, ReportInput, Skipped, to_canonical_report
from pipeline.stix.tlp import TLP

DATA = Path(__file__).parent / "data"


def _items(doc: Any, name: str = "e.json") -> list[ReadItem]:
    return list(read_misp(doc, name))


def _event(*attributes: dict[str, Any], **event: Any) -> dict[str, Any]:
    return {"Event": {"Attribute": list(attributes), **event}}


def test_sample_event() -> None:
    items = _items(json.loads((DATA / "misp_event.json").read_text()))
    by_loc = {i.source.removeprefix("e.json:"): i for i in items}
    # Attribute[3] is ip-dst: not a scamshare kind, ignored without a trace; holder-name text likewise.
    assert list(by_loc) == [
        "Attribute[0]",
        "Attribute[1]",
        "Attribute[2]",
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

    domain = by_loc["Attribute[2]"]
    assert isinstance(domain, ReportInput)
    assert domain.tlp is TLP.RED  # the attribute's tag is more restrictive than the event's
    assert domain.description == "Investment scam wave, November 2026"  # event info when no comment

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

    assert isinstance(by_loc["Attribute[8]"], Skipped)
    assert "deleted" in by_loc["Attribute[8]"].reason

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
