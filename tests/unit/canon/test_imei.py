"""IMEI canonicalisation: 15 digits with a Luhn check digit; IMEISV and separated forms become the IMEI."""

from __future__ import annotations

import pytest

from pipeline.canon.imei import luhn_digit
from tests.unit.canon.helpers import bad, ok

IMEI = "352099001761481"


@pytest.mark.parametrize(
    "raw",
    [
        IMEI,
        "35-209900-176148-1",
        "35 209900 176148 1",
        "35/209900/176148/1",
        "35.209900.176148.1",
        "  352099 001761 481 ",
        "IMEI: 35-209900-176148-1",
        "imei 352099001761481",
    ],
)
def test_written_forms_give_the_15_digit_imei(raw: str) -> None:
    c = ok("imei", raw)
    assert c.value == IMEI
    assert c.props == {"value": IMEI}
    assert c.id_props == {"value": IMEI}
    assert c.pattern == f"[imei:value = '{IMEI}']"
    assert c.sco_type == "imei"
    assert c.sco_id.startswith("imei--")


@pytest.mark.parametrize("raw", ["3520990017614823", "35-209900-176148-23", "IMEISV 35209900 176148 99"])
def test_imeisv_becomes_the_imei_of_the_same_handset(raw: str) -> None:
    assert ok("imei", raw) == ok("imei", IMEI)


def test_the_tac_is_a_fact() -> None:
    assert ok("imei", IMEI).facts == {"tac": "35209900"}


def test_canonical_value_is_a_fixed_point() -> None:
    c = ok("imei", "35 209900 176148 23")
    assert ok("imei", c.value) == c
    assert ok("imei", c.value, "TH") == c  # the country hint means nothing to an IMEI


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("352099001761483", "IMEI check digit is 3, expected 1"),
        ("35-209900-176148-7", "IMEI check digit is 7, expected 1"),
        ("35209900176148", "IMEI has 14 digits; expected 15 (IMEI) or 16 (IMEISV)"),
        ("35-209900-17614", "IMEI has 13 digits; expected 15 (IMEI) or 16 (IMEISV)"),
        ("35209900176148123", "IMEI has 17 digits; expected 15 (IMEI) or 16 (IMEISV)"),
        ("35209900176148A", "an IMEI is digits only (spaces, dashes and slashes are ignored); found 'A'"),
        ("+352099001761481", "an IMEI is digits only (spaces, dashes and slashes are ignored); found '+'"),
    ],
)
def test_rejections_say_what_is_wrong(raw: str, reason: str) -> None:
    assert bad("imei", raw).reason == reason


@pytest.mark.parametrize(
    ("payload", "digit"),
    [("35209900176148", 1), ("49015420323751", 8), ("00000000000000", 0), ("7992739871", 3)],
)
def test_luhn_digit(payload: str, digit: int) -> None:
    assert luhn_digit(payload) == digit
