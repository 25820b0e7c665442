"""IBAN national check digits and the plain-language reasons for a refused IBAN.

The test IBANs are built here: national check digits with independent implementations of the Spanish,
French, Belgian and Portuguese rules (so they also cross-check schwifty), IBAN check digits with mod-97.
A "wrong national check digit" IBAN has a valid mod-97, as a fabricated account number would: only the
national check can catch it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import bank_iban
from pipeline.canon.bank_iban import NATIONAL_CHECKSUM_COUNTRIES, check_iban
from tests.unit.canon.helpers import bad, ok

_LETTER_DIGITS = {c: str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def iban(country: str, bban: str) -> str:
    """``country`` + ISO 7064 mod-97-10 check digits + ``bban``."""
    numeric = "".join(_LETTER_DIGITS.get(c, c) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def es_bban(bank: str, branch: str, account: str) -> str:
    """Spain's CCC: two check digits, over ``00`` + bank + branch and over the account (weights mod 11)."""
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)

    def digit(ten: str) -> str:
        r = 11 - sum(w * int(c) for w, c in zip(weights, ten, strict=True)) % 11
        return str({11: 0, 10: 1}.get(r, r))

    return bank + branch + digit("00" + bank + branch) + digit(account) + account


def fr_bban(bank: str, branch: str, account: str) -> str:
    """France's RIB key: 97 - (89 bank + 15 branch + 3 account) mod 97, letters as 1-9 (A-I, J-R, S-Z)."""
    letters = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "12345678912345678923456789", strict=True))
    number = int("".join(letters.get(c, c) for c in account))
    return f"{bank}{branch}{account}{97 - (89 * int(bank) + 15 * int(branch) + 3 * number) % 97:02d}"


def be_bban(first10: str) -> str:
    """Belgium: the last two digits are the first ten mod 97 (97 for 0)."""
    return f"{first10}{int(first10) % 97 or 97:02d}"


def pt_bban(first19: str) -> str:
    """Portugal's NIB: 98 - (first 19 digits x 100) mod 97."""
    return f"{first19}{98 - int(first19) * 100 % 97:02d}"


def wrong_last(text: str) -> str:
    """``text`` with its last digit changed."""
    return text[:-1] + str((int(text[-1]) + 1) % 10)


ES = iban("ES", es_bban("2100", "0418", "0200051332"))
FR = iban("FR", fr_bban("20041", "01005", "0500013M026"))
BE = iban("BE", be_bban("5390075470"))
PT = iban("PT", pt_bban("0002012312345678901"))

# The same bank, branch and account with national check digits one off, and mod-97 recomputed.
ES_WRONG = iban("ES", ES[4:12] + wrong_last(ES[12]) + ES[13:])
FR_WRONG = iban("FR", wrong_last(FR[4:]))
BE_WRONG = iban("BE", wrong_last(BE[4:]))
PT_WRONG = iban("PT", wrong_last(PT[4:]))
DE_WRONG = iban("DE", "37040044" + "0532113000")  # DE89 3704 0044 0532 0130 00 with one digit changed


def test_the_test_ibans_are_the_published_examples() -> None:
    """The helpers agree with the IBAN registry's examples, so they compute what the banks do."""
    assert ES == "ES9121000418450200051332"
    assert FR == "FR1420041010050500013M02606"
    assert BE == "BE68539007547034"
    assert PT == "PT50000201231234567890154"


@pytest.mark.parametrize("value", [ES, FR, BE, PT, "IT60X0542811101000000123456", "DE89370400440532013000"])
def test_ibans_with_right_national_check_digits_pass(value: str) -> None:
    assert ok("bank-account", value).value == value


NATIONAL_REFUSED = [
    (ES_WRONG, "the national check digits of this ES (Spain) IBAN do not match its bank code, branch code "
     "and account number (a mistyped digit?)"),
    (FR_WRONG, "the national check digits of this FR (France) IBAN do not match its bank code, branch code "
     "and account number (a mistyped digit?)"),
    (BE_WRONG, "the national check digits of this BE (Belgium) IBAN do not match its bank code and account "
     "number (a mistyped digit?)"),
    (PT_WRONG, "the national check digits of this PT (Portugal) IBAN do not match its bank code, branch code "
     "and account number (a mistyped digit?)"),
    (DE_WRONG, "the account number of this DE (Germany) IBAN fails its bank's check-digit rule "
     "(a mistyped digit?)"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "reason"), NATIONAL_REFUSED)
def test_wrong_national_check_digits_are_refused_even_with_a_valid_mod97(value: str, reason: str) -> None:
    assert bad("bank-account", value).reason == reason


@pytest.mark.parametrize(("value", "reason"), NATIONAL_REFUSED)
def test_an_iban_with_its_country_prefix_is_still_judged_as_an_iban(value: str, reason: str) -> None:
    """``ES:ES29...`` must not slip through as a Spanish national account number."""
    assert bad("bank-account", f"{value[:2]}:{value}").reason == reason


REASONS = [
    (ES[:-1], "ES (Spain) IBANs have 24 characters; this one has 23"),
    (iban("ES", ES[4:8] + "X" + ES[9:]),
     "ES (Spain) IBANs hold 20 digits after the check digits; this one has a letter at position 9"),
    (wrong_last(ES),
     "the IBAN check digits are wrong (mod-97 fails): a mistyped or swapped character?"),
    (iban("GB", "WES1" + "12345698765432"),
     "GB (United Kingdom) IBANs hold 4 letters, then 14 digits after the check digits; this one has a digit "
     "at position 8"),
    (iban("IT", "6" + "0542811101000000123456"),
     "IT (Italy) IBANs hold 1 letter, then 10 digits, then 12 letters or digits after the check digits; this "
     "one has a digit at position 5"),
    ("DE8937040044053201300", "DE (Germany) IBANs have 22 characters; this one has 21"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "reason"), REASONS)
def test_reasons_name_the_country_and_what_was_expected(value: str, reason: str) -> None:
    assert bad("bank-account", value).reason == reason


_RAW_SCHWIFTY = re.compile(r"\d+![nac]|doesn't match|Invalid |BBAN structure")


@settings(max_examples=200, deadline=None)
@given(
    country=st.sampled_from(["ES", "FR", "IT", "BE", "PT", "DE", "GB", "NL", "PL", "NO", "CZ", "HU", "SE"]),
    body=st.text(alphabet="0123456789ABCXYZ", min_size=8, max_size=30),
    fix_mod97=st.booleans(),
)
def test_no_schwifty_text_reaches_a_user(country: str, body: str, fix_mod97: bool) -> None:
    value = iban(country, body) if fix_mod97 else f"{country}00{body}"
    result = check_iban(value)
    if isinstance(result, bank_iban.NotIban):
        assert not _RAW_SCHWIFTY.search(result.reason), result.reason


def test_the_docstrings_list_the_countries_schwifty_checks() -> None:
    """An upgrade of schwifty that adds a country shows up here, to be documented."""
    listed = "BA BE CZ DE EE ES FI FR IS IT MC ME MK MR NO PL PT RS SI SK SM TL TN"
    assert " ".join(sorted(NATIONAL_CHECKSUM_COUNTRIES)) == listed
    from pipeline.canon import bank  # noqa: PLC0415

    for doc in (bank.__doc__ or "", bank_iban.__doc__ or ""):
        assert listed in " ".join(doc.split())
