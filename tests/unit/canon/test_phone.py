"""Phone numbers: E.164, country hints, international prefixes, rejects with reasons."""

from __future__ import annotations

import pytest

from pipeline.canon import canonicalize
from tests.unit.canon.helpers import bad, ok

ACCEPTED = [
    # (raw, country hint, E.164)
    ("0812345678", "TH", "+66812345678"),
    ("081-234-5678", "TH", "+66812345678"),
    ("081 234 5678", "TH", "+66812345678"),
    ("0066812345678", "TH", "+66812345678"),
    ("0066812345678", None, "+66812345678"),
    ("0066812345678", "US", "+66812345678"),
    ("00 66 81 234 5678", "GB", "+66812345678"),
    ("+66 81 234 5678", None, "+66812345678"),
    ("+66 (0) 81 234 5678", None, "+66812345678"),
    ("+66.81.234.5678", None, "+66812345678"),
    ("  +66812345678\n", "TH", "+66812345678"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("tel:+1-415-555-2671", None, "+14155552671"),
    ("tel:+1-415-555-2671;ext=12", None, "+14155552671"),
    ("+1 415 555 2671 x123", None, "+14155552671"),
    ("011 66 81 234 5678", "US", "+66812345678"),
    ("1-800-FLOWERS", "US", "+18003569377"),
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("+800 1234 5678", None, "+80012345678"),
    ("+66812345678", "de", "+66812345678"),  # the hint is irrelevant for international forms
    ("https://wa.me/66812345678", None, "+66812345678"),
    ("https://api.whatsapp.com/send?phone=66812345678&text=hi", None, "+66812345678"),
]


@pytest.mark.parametrize(("raw", "country", "e164"), ACCEPTED)
def test_accepted(raw: str, country: str | None, e164: str) -> None:
    c = ok("phone", raw, country)
    assert c.value == e164
    assert c.sco_type == "phone-number"
    assert dict(c.props) == {"value": e164}
    assert dict(c.id_props) == {"value": e164}
    assert c.pattern == f"[phone-number:value = '{e164}']"


REJECTED = [
    # (raw, country hint, reason substring)
    ("0812345678", None, "give a country hint"),
    ("0812345678", "XX", "unknown country hint 'XX'"),
    ("+66 81 234", None, "not a possible number for TH"),
    ("+1 415 555 0000 0000", None, "too long"),
    ("+1 200 555 0100", None, "not a valid number"),
    ("+66 0 0000 0000", None, "not a valid number for TH"),
    ("hello", None, "no digits"),
    ("+999 1234567", None, "unknown country calling code"),
    ("1", None, "not a phone number"),
    ("++--", None, "no digits"),
]


@pytest.mark.parametrize(("raw", "country", "reason"), REJECTED)
def test_rejected(raw: str, country: str | None, reason: str) -> None:
    assert reason in bad("phone", raw, country).reason


def test_facts_of_a_thai_mobile() -> None:
    facts = ok("phone", "0812345678", "TH").facts
    assert facts["country"] == "TH"
    assert facts["calling_code"] == "66"
    assert facts["line_type"] == "mobile"
    assert facts["carrier"]  # offline carrier data names the operator the range belongs to
    assert facts["region"] == "Thailand"


@pytest.mark.parametrize(
    ("raw", "line_type"),
    [("+18003569377", "toll-free"), ("+442079460958", "fixed"), ("+19005550199", "premium")],
)
def test_line_types(raw: str, line_type: str) -> None:
    assert ok("phone", raw).facts["line_type"] == line_type


def test_non_geographic_number_has_no_country() -> None:
    facts = ok("phone", "+80012345678").facts
    assert "country" not in facts
    assert facts["calling_code"] == "800"


def test_empty_value_is_rejected_by_the_dispatcher() -> None:
    result = canonicalize("phone", "   ")
    assert not hasattr(result, "sco_id")
    assert "empty" in getattr(result, "reason", "")
