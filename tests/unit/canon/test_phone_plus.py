"""``parse_plus_digits`` answers what ``phonenumbers.parse`` answers, or leaves the text to it.

For every text it answers, the library's parse with the same hint gives an equal number, field by field
(``vars``); for every text the library refuses, it gives ``None``. The texts: every region's and every
non-geographic calling code's example numbers of every type, written E.164, international, with the
national prefix after the calling code (``+44 (0)20…``, ``+66 0 81…``) and with other separators, under
hints that are none, the number's own region, another region, a lower-case one, ``001`` and an unknown one;
then random texts of digits, ``+`` and the separators.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from pipeline.canon import phone
from pipeline.canon.phone_plus import parse_plus_digits

_TYPES = [value for name, value in vars(PhoneNumberType).items() if name.isupper() and name != "UNKNOWN"]


def _library(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _agree(text: str, region: str | None) -> bool:
    """Assert the two agree on ``text``; whether the fast path answered."""
    fast = parse_plus_digits(text, region)
    slow = _library(text, region)
    if fast is None:
        return False
    assert slow is not None, (text, region, fast)
    assert vars(fast) == vars(slow), (text, region)
    return True


def _examples() -> list[tuple[PhoneNumber, str]]:
    found: list[tuple[PhoneNumber, str]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((number, region))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append((number, "001"))
    return found


def _writings(number: PhoneNumber) -> list[str]:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    code = str(number.country_code)
    digits = "".join(c for c in national if c.isdigit())
    return [
        e164,
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        f"+{code} (0){e164[1 + len(code) :]}",  # the national prefix some regions write after the code
        f"+{code} {national}",  # the national form (its prefix, its brackets) after the code
        f"+{code}{digits}",
        f"({e164[:3]}) {e164[3:6]}.{e164[6:]}",
        f"+{code}/{e164[1 + len(code) :]}-",
    ]


def test_the_example_numbers_of_every_region_parse_as_the_library_parses_them() -> None:
    answered = asked = 0
    for number, region in _examples():
        for text in _writings(number):
            for hint in (None, region, region.lower(), "US", "TH", "001", "XX"):
                asked += 1
                answered += _agree(text, hint)
    # 1,383 numbers, 67,767 texts: it answers every one of them, so none of the comparisons is empty
    assert asked > 60_000
    assert answered == asked


@pytest.mark.parametrize("seed", range(4))
def test_random_texts_of_its_characters_parse_as_the_library_parses_them(seed: int) -> None:
    rng = random.Random(seed)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    answered = 0
    for _ in range(5_000):
        body = "".join(rng.choice("0123456789" * 4 + "+ ()./-") for _ in range(rng.randint(0, 24)))
        text = rng.choice(["+", "+", "", " (+", "00"]) + body
        answered += _agree(text, rng.choice([None, None, rng.choice(regions), "001"]))
    assert answered > 500


@pytest.mark.parametrize(
    "text",
    [
        "+66 81 234 5678 ext. 12",  # an extension: the library drops it, this does not read it
        "tel:+66812345678",
        "+66 81 234 5678;phone-context=+66",
        "++66812345678",
        "0066812345678",
        "+0 66 81 234 5678",
        "+99 123 456",  # no such calling code: the library retries without the '+'
        "+66 8",  # too short after the code
        "+66 81 234 5678 91 234 5678 9",  # a national number over 17 digits
        "+٦٦٨١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "+66\u00a081 234 5678",  # a no-break space
    ],
)
def test_what_it_does_not_read_is_left_to_the_library(text: str) -> None:
    assert parse_plus_digits(text, None) is None


def test_the_canonicaliser_asks_it_first() -> None:
    assert phone._parse("+44 (0)20 7946 0958", None) == phonenumbers.parse("+442079460958")
    assert phone.canonicalize.__wrapped__("+44 (0)20 7946 0958", None).value == "+442079460958"
