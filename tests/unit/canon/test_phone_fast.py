"""The phone canonicaliser's two shortcuts answer exactly what the slower code answered.

1. ``normalize_digits_only``, which libphonenumber calls for every parse, is replaced in its module by one
   that handles ASCII text with a regex: it must equal the library's loop on every ASCII character and on
   mixed text, and leave non-ASCII text to that loop.
2. ``00...`` without a country hint parses the ``+`` reading first: the first reading (no region, no ``+``)
   is never a number, so the answers, rejections' reasons included, are those of the order it replaced.
3. ``_maybe_strip_extension``, which every parse calls, answers at once for text of digits, ``+``, spaces
   and ``()./-``: the library's extension pattern finds nothing in such text.
"""

from __future__ import annotations

import random
import string

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumber, phonenumberutil

from pipeline.canon import phone
from pipeline.canon.core import Canonical, Invalid


def test_the_library_calls_the_replacement_and_its_export_stays_its_own() -> None:
    assert phonenumberutil.normalize_digits_only is phone._normalize_digits_only
    assert phonenumbers.normalize_digits_only is phone._DIGITS_OF


@pytest.mark.parametrize("keep", [False, True])
def test_every_ascii_character_normalises_as_the_library_does(keep: bool) -> None:
    for code in range(128):
        char = chr(code)
        assert phone._normalize_digits_only(char, keep) == phone._DIGITS_OF(char, keep), repr(char)


@pytest.mark.parametrize("keep", [False, True])
def test_ascii_and_unicode_text_normalises_as_the_library_does(keep: bool) -> None:
    rng = random.Random(15)
    # full-width, Arabic-Indic, Devanagari, Tibetan, superscript, circled digits; no-break space; full-width +
    alphabet = string.printable + "０１２３٣٤۵०१༢⁴²①\u00a0＋"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert phone._normalize_digits_only(text, keep) == phone._DIGITS_OF(text, keep), repr(text)
    assert phone._normalize_digits_only("０８１-２３４", False) == "081234"


def _old_canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """The canonicaliser before the ``00`` shortcut, with the library's own digit loop."""
    text = value.strip()
    whatsapp = phone._WHATSAPP.match(text)
    if whatsapp:
        text = "+" + whatsapp.group(1)
    if not phone._HAS_DIGIT.search(text):
        return Invalid("phone", value, "not a phone number: it has no digits")
    if country is not None and country not in phonenumbers.SUPPORTED_REGIONS and not text.startswith("+"):
        hint = f"unknown country hint {country!r}: use an ISO 3166 alpha-2 code like TH"
        return Invalid("phone", value, hint)
    compact = phone._SEPARATORS.sub("", text)
    if compact[:4].lower() == "tel:":
        compact = compact[4:]
    first = phone._parse(text, country)
    if isinstance(first, PhoneNumber):
        found = phone._valid(first)
        if found is not None:
            return found
    if not compact.startswith("00"):
        if isinstance(first, PhoneNumber):
            return Invalid("phone", value, phone._explain(first))
        return Invalid("phone", value, phone._parse_error(first, country, text))
    second = phone._parse("+" + compact[2:], None)
    if isinstance(second, PhoneNumber):
        return phone._valid(second) or Invalid("phone", value, phone._explain(second))
    if isinstance(first, PhoneNumber):
        return Invalid("phone", value, phone._explain(first))
    return Invalid("phone", value, phone._parse_error(first, country, text))


def _inputs() -> list[tuple[str, str | None]]:
    rng = random.Random(7)
    out: list[tuple[str, str | None]] = []
    heads = ["00", "00 ", "(00) ", "tel:00", "-00", " 00", "0 0", "00+", "000", "0０"]
    for region in ["TH", "US", "GB", "VN", "DE", "IT", "AR", "MX", "BR", "IN", "RU", "JP"]:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            for head in heads:
                out.append((head + e164[1:], None))
                out.append((head + e164[1:-2], None))  # too short, mostly
                out.append((head + e164[1:] + "12345", None))  # too long
            out += [(e164, None), (national, region), (national, None), ("00" + national, None)]
    for _ in range(400):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 18)))
        out.append(("00" + digits, None))
        out.append(("00" + digits, rng.choice(["TH", "US", "GB", None])))
    out += [("00", None), ("00abc", None), ("00 x 1", None), ("0066 81 234 5678 ext. 9", None)]
    return out


def test_the_00_shortcut_answers_what_the_old_order_answered() -> None:
    inputs = _inputs()
    old_digits = phonenumberutil.normalize_digits_only
    phonenumberutil.normalize_digits_only = phone._DIGITS_OF
    try:
        expected = [_old_canonicalize(v, c) for v, c in inputs]
    finally:
        phonenumberutil.normalize_digits_only = old_digits
    accepted = 0
    for (value, country), old in zip(inputs, expected, strict=True):
        new = phone.canonicalize.__wrapped__(value, country)
        assert type(new) is type(old), (value, country, new, old)
        if isinstance(old, Canonical):
            accepted += 1
            assert isinstance(new, Canonical)
            assert (new.value, new.sco_id, dict(new.facts)) == (old.value, old.sco_id, dict(old.facts))
        else:
            assert new == old, (value, country)
    assert 50 < accepted < len(inputs) - 50  # both outcomes are exercised


def test_without_a_region_a_number_not_starting_with_plus_is_never_parsed() -> None:
    # The fact the shortcut rests on: the first reading of '00...' without a hint always raises.
    for value, country in _inputs():
        if country is None and phone._SEPARATORS.sub("", value.strip()).removeprefix("tel:").startswith("00"):
            with pytest.raises(NumberParseException):
                phonenumbers.parse(value.strip(), None)


_PLAIN = "0123456789+ ()./-"


def test_the_library_calls_the_extension_shortcut() -> None:
    assert phonenumberutil._maybe_strip_extension is phone._maybe_strip_extension


def test_plain_text_never_holds_an_extension_the_library_would_strip() -> None:
    rng = random.Random(16)
    texts = ["", "-", " 123", "+1 (415) 555-2671", "0066.81.234.5678", "1-800-555-0199 - 503"]
    texts += ["".join(rng.choice(_PLAIN) for _ in range(rng.randint(1, 40))) for _ in range(5000)]
    for text in texts:
        assert phonenumberutil._EXTN_PATTERN.search(text) is None, repr(text)
        assert phone._maybe_strip_extension(text) == phone._STRIP_EXTENSION(text) == ("", text)


def test_every_extension_form_still_reaches_the_library() -> None:
    rng = random.Random(17)
    forms = [";ext=12", " ext. 12", " x12", " X 12", " #12", " - 503#", ",,12", ";12", ",12", " int 12",
             " anexo 12", " доб 12", " ｘ12", " ~12", " extensión 12", "\t x12", "\u00a0x12"]  # fmt: skip
    for form in forms:
        for base in ("+1 415 555 2671", "(415) 555-2671", "0812345678"):
            text = base + form
            assert phone._maybe_strip_extension(text) == phone._STRIP_EXTENSION(text)
            assert phone._maybe_strip_extension(text)[0] != "", repr(text)
    mixed = _PLAIN + "xX#;,~etnio\u00a0\t"
    for _ in range(3000):
        text = "".join(rng.choice(mixed) for _ in range(rng.randint(1, 30)))
        assert phone._maybe_strip_extension(text) == phone._STRIP_EXTENSION(text), repr(text)
