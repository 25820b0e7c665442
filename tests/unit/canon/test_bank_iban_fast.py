"""The IBAN check that skips schwifty's ``IBAN`` object answers exactly what schwifty answers.

``check_iban`` judges an IBAN with the checks schwifty makes (characters, length, the country's format,
mod-97, the national check digits with the bank's method) and leaves everything that fails, and any
national check digit schwifty has no method for, to schwifty itself (``checked_by_schwifty``). A lie here
would let a mistyped account through, or refuse a real one, so it is held equal to schwifty on random
valid IBANs of every IBAN country and on mistyped, swapped, shortened and re-checksummed variants.
"""

from __future__ import annotations

import random
import string
import warnings

import pytest
from schwifty import IBAN, registry
from schwifty.checksum import ISO7064_mod97_10
from schwifty.exceptions import SchwiftyException

from pipeline.canon import bank_iban
from pipeline.canon.bank_iban import NotIban, ValidIban, check_iban, checked_by_schwifty, mod97_check_digits


def _iban_countries() -> list[str]:
    found = []
    for first in string.ascii_uppercase:
        for second in string.ascii_uppercase:
            try:
                registry.get_iban_spec(first + second)
            except SchwiftyException:
                continue
            found.append(first + second)
    return found


_COUNTRIES = _iban_countries()


def _random_ibans(rng: random.Random, country: str, n: int) -> list[str]:
    out: list[str] = []
    for use_registry in (True, False):
        for _ in range(n):
            try:
                out.append(str(IBAN.random(country, random=rng, use_registry=use_registry)))
            except SchwiftyException:
                break
    return out


def _variants(rng: random.Random, good: str) -> list[str]:
    """Mistakes people and forgers make: one character changed, two swapped, one dropped or added, the
    IBAN check digits recomputed over a changed account number (only the national check can catch it)."""
    alphabet = string.digits + string.ascii_uppercase
    at = rng.randrange(4, len(good))
    changed = good[:at] + rng.choice(alphabet.replace(good[at], "")) + good[at + 1 :]
    swap = rng.randrange(4, len(good) - 1)
    swapped = good[:swap] + good[swap + 1] + good[swap] + good[swap + 2 :]
    refixed = changed[:2] + mod97_check_digits(changed[4:] + changed[:2]) + changed[4:]
    return [changed, swapped, good[:-1], good + "0", refixed, good[:2] + "00" + good[4:], "XX" + good[2:]]


def _same(value: str) -> tuple[str, object]:
    fast = check_iban(value)
    code = value[:2]
    try:
        spec = registry.get_iban_spec(code)
    except SchwiftyException:
        assert isinstance(fast, NotIban)
        assert not fast.iban_country
        return "no country", fast
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = checked_by_schwifty(value, spec)
    assert fast == slow, value
    assert type(fast) is type(slow), value
    return ("valid" if isinstance(fast, ValidIban) else "invalid"), fast


def test_every_iban_country_is_judged_as_schwifty_judges_it() -> None:
    rng = random.Random(1513)
    outcomes: dict[str, int] = {"valid": 0, "invalid": 0, "no country": 0}
    refused_refixed = 0
    for country in _COUNTRIES:
        for good in _random_ibans(rng, country, 12):
            outcome, _ = _same(good)
            outcomes[outcome] += 1
            for index, variant in enumerate(_variants(rng, good)):
                outcome, result = _same(variant)
                outcomes[outcome] += 1
                if index == 4 and isinstance(result, NotIban):
                    refused_refixed += 1
    assert outcomes["valid"] > 1000
    assert outcomes["invalid"] > 5000
    assert refused_refixed > 100  # the national check digits caught recomputed mod-97 forgeries


def test_the_shortcut_itself_judges_nearly_every_valid_iban() -> None:
    """Without this, a shortcut that always deferred to schwifty would pass the equality tests."""
    rng = random.Random(7064)
    judged = deferred = 0
    for country in [*_COUNTRIES, *["DE"] * 20]:
        spec = registry.get_iban_spec(country)
        for good in _random_ibans(rng, country, 5):
            judged += 1
            if bank_iban._passes(good, spec) is None:
                deferred += 1
    assert judged > 500
    assert deferred < judged * 0.05


def test_german_accounts_of_banks_with_every_check_method_are_judged_as_schwifty_judges_them() -> None:
    rng = random.Random(49)
    banks = registry.get_banks_by_country("DE")
    methods: dict[str, str] = {}
    for bank in banks:
        methods.setdefault(bank.checksum_algo, bank.bank_code)
    assert len(methods) > 40
    judged = 0
    for bank_code in methods.values():
        for _ in range(6):
            try:
                good = str(IBAN.random("DE", random=rng, bank_code=bank_code))
            except SchwiftyException:
                break
            for value in [good, *_variants(rng, good)]:
                _same(value)
                judged += 1
    assert judged > 1500


def test_a_valid_iban_reads_as_schwifty_reads_it() -> None:
    result = check_iban("DE89370400440532013000")
    assert isinstance(result, ValidIban)
    iban = IBAN("DE89370400440532013000")
    assert (result.compact, result.country_code, result.bank_code) == (
        "DE89370400440532013000",
        "DE",
        "37040044",
    )
    assert result.bank == iban.bank
    assert result.bank is not None
    assert result.bank.name == "Commerzbank"


@pytest.mark.parametrize(
    "value", ["DE٨٩370400440532013000", "DE89３70400440532013000", "de89370400440532013000"]
)
def test_text_outside_ascii_capitals_and_digits_never_passes_the_shortcut(value: str) -> None:
    spec = registry.get_iban_spec("DE")
    assert bank_iban._passes(value, spec) is None


def test_mod97_check_digits_are_iso_7064s() -> None:
    rng = random.Random(97)
    algorithm = ISO7064_mod97_10()
    for _ in range(2000):
        bban = "".join(rng.choice(string.digits + string.ascii_uppercase) for _ in range(rng.randint(8, 30)))
        country = rng.choice(_COUNTRIES)
        assert mod97_check_digits(bban + country) == algorithm.compute([bban, country])
