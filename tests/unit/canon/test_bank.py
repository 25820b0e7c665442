"""Bank accounts: IBAN (mod-97), BIC, national numbers with a country, rejects with reasons."""

from __future__ import annotations

import pytest

from tests.unit.canon.helpers import bad, ok

IBAN_DE = "DE89370400440532013000"

ACCEPTED = [
    # (raw, country hint, canonical value)
    ("DE89 3704 0044 0532 0130 00", None, IBAN_DE),
    ("IBAN: DE89370400440532013000", None, IBAN_DE),
    ("iban de89-3704-0044-0532-0130-00", None, IBAN_DE),
    ("DE89370400440532013000", "TH", IBAN_DE),  # an IBAN carries its own country
    ("DE89370400440532013000 COBADEFFXXX", None, f"{IBAN_DE} COBADEFFXXX"),
    ("DE89 3704 0044 0532 0130 00 / BIC: COBADEFF", None, f"{IBAN_DE} COBADEFFXXX"),
    ("DE89370400440532013000;SWIFT cobadeff", None, f"{IBAN_DE} COBADEFFXXX"),
    ("COBADEFF:DE89370400440532013000", None, f"{IBAN_DE} COBADEFFXXX"),
    ("GB82 WEST 1234 5698 7654 32", None, "GB82WEST12345698765432"),
    ("NL91ABNA0417164300", None, "NL91ABNA0417164300"),
    ("TH:123-4-56789-0", None, "TH:1234567890"),
    ("th : 123 456 7890", None, "TH:1234567890"),
    ("123-4-56789-0", "TH", "TH:1234567890"),
    ("BKKBTHBK:1234567890", None, "TH:1234567890 BKKBTHBKXXX"),
    ("1234567890 BKKBTHBK", None, "TH:1234567890 BKKBTHBKXXX"),
]


@pytest.mark.parametrize(("raw", "country", "value"), ACCEPTED)
def test_accepted(raw: str, country: str | None, value: str) -> None:
    c = ok("bank-account", raw, country)
    assert c.value == value
    assert c.sco_type == "bank-account"


REJECTED = [
    ("DE89370400440532013001", None, "the IBAN check digits are wrong (mod-97 fails)"),
    ("DE89370400440532013001", "DE", "the IBAN check digits are wrong (mod-97 fails)"),
    ("DE8937040044053201300", None, "DE (Germany) IBANs have 22 characters; this one has 21"),
    ("1234567890", None, "give a country hint"),
    ("XX:1234567890", None, "unknown country 'XX'"),
    ("TH:12", None, "4 to 34 letters and digits"),
    ("TH:12#45$78", None, "4 to 34 letters and digits"),
    ("DE89370400440532013000 COBAXXFF", None, "BIC 'COBAXXFF' is not valid: its letters 5-6 ('XX') are not"),
    ("COBAXXFF:1234567890", None, "BIC 'COBAXXFF' is not valid"),
    ("COBADEFF:1234567890 DEUTDEFF", None, "two different BICs"),
]


@pytest.mark.parametrize(("raw", "country", "reason"), REJECTED)
def test_rejected(raw: str, country: str | None, reason: str) -> None:
    assert reason in bad("bank-account", raw, country).reason


def test_iban_id_ignores_the_bic() -> None:
    plain = ok("bank-account", IBAN_DE)
    with_bic = ok("bank-account", f"{IBAN_DE} COBADEFF")
    assert plain.sco_id == with_bic.sco_id
    assert plain.indicator_id == with_bic.indicator_id
    assert dict(plain.id_props) == {"iban": IBAN_DE}
    assert plain.pattern == f"[bank-account:iban = '{IBAN_DE}']"
    assert dict(with_bic.props) == {"iban": IBAN_DE, "country": "DE", "bic": "COBADEFFXXX"}


def test_national_account_identity_is_number_and_country() -> None:
    c = ok("bank-account", "TH:1234567890")
    assert dict(c.props) == {"account_number": "1234567890", "country": "TH"}
    assert dict(c.id_props) == {"account_number": "1234567890", "country": "TH"}
    assert c.pattern == "[bank-account:account_number = '1234567890' AND bank-account:country = 'TH']"
    assert c.sco_id != ok("bank-account", "VN:1234567890").sco_id


def test_facts_from_the_offline_bank_registry() -> None:
    facts = ok("bank-account", IBAN_DE).facts
    assert facts["country"] == "DE"
    assert facts["bank_code"] == "37040044"
    assert facts["bank_name"] == "Commerzbank"
    assert facts["bic"] == "COBADEFFXXX"
