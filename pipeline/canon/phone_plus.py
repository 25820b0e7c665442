"""A number written ``+`` and digits, parsed without libphonenumber's general parser.

``phonenumbers.parse`` reads any way of writing a number (RFC 3966 ``tel:`` URIs and their phone-context,
text around the number, extensions, vanity letters, international dialling prefixes, national forms): about
7.8 µs a number written with ``+`` on this project's VM, 40 % of canonicalising a phone number seen for the
first time. Most numbers that are reported are written in international form (``+66 81 234 5678``,
``+66812345678``, and ``0066…``, which the canonicaliser reads as ``+66…``). Without its spaces, brackets,
dots, hyphens and slashes such a text is ``+`` and digits, and for it the parser does exactly this, whatever
region it is given:

1. the first one to three digits that are a known country calling code are the calling code (when none
   is, the library retries in ways this does not follow);
2. the metadata is that of the code's region, or of the region given when that is the code's own;
3. the national prefix of that metadata is stripped from the rest (``+44 (0)20…``) when what is left is
   still of a possible length, as ``_maybe_strip_national_prefix_carrier_code`` and
   ``_test_number_length`` decide;
4. the national number (2 to 17 digits) and its leading zeros are set.

:func:`parse_plus_digits` does those steps with the library's own helpers, and returns ``None`` for
anything else: another character anywhere in the text, a second ``+``, fewer than three digits, a first
digit ``0``, an unknown calling code, a national number too short or too long. The caller then asks
``phonenumbers.parse``, which also gives the reason a number is refused. A test holds both equal on every
region's example numbers written in several ways under seven hints (none, the number's own region, others),
and on random texts of these characters under random regions.
"""

from __future__ import annotations

import re
from typing import Final

from phonenumbers import PhoneMetadata, PhoneNumber, phonenumberutil
from phonenumbers import ValidationResult as Possible

#: the characters of a plain number: the digits, ``+`` and the separators this leaves out (``phone.py``'s
#: extension shortcut reads the same class: no extension can be written with them)
PLAIN_CHARACTER: Final = r"[0-9+ ()./\-]"
_READABLE: Final = re.compile(PLAIN_CHARACTER + "{1,250}")  # libphonenumber refuses texts over 250 characters
_SEPARATORS: Final = re.compile(r"[ ()./\-]+")
_PLUS_DIGITS: Final = re.compile(r"\+[1-9][0-9]{2,19}")
#: what ``_test_number_length`` says when the library keeps the national prefix
_KEEPS_PREFIX: Final = (Possible.TOO_SHORT, Possible.IS_POSSIBLE_LOCAL_ONLY, Possible.INVALID_LENGTH)

_country_code_of: Final = phonenumberutil._extract_country_code
_region_of: Final = phonenumberutil.region_code_for_country_code
_strip_national_prefix: Final = phonenumberutil._maybe_strip_national_prefix_carrier_code
_length_test: Final = phonenumberutil._test_number_length
_set_leading_zeros: Final = phonenumberutil._set_italian_leading_zeros_for_phone_number
_MIN_NSN: Final = phonenumberutil._MIN_LENGTH_FOR_NSN
_MAX_NSN: Final = phonenumberutil._MAX_LENGTH_FOR_NSN


def parse_plus_digits(text: str, region: str | None) -> PhoneNumber | None:
    """What ``phonenumbers.parse(text, region)`` gives when ``text`` less its separators is ``+`` and
    digits (module docstring); ``None`` when this does not answer."""
    if type(text) is not str or not _READABLE.fullmatch(text):
        return None
    compact = _SEPARATORS.sub("", text)
    if not _PLUS_DIGITS.fullmatch(compact):
        return None
    country_code, national = _country_code_of(compact[1:])
    if country_code == 0 or len(national) < _MIN_NSN:
        return None
    number_region = _region_of(country_code)
    if region == number_region:  # the library keeps the metadata of the region given
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    else:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, number_region)
    if metadata is not None:
        _carrier, stripped, _found = _strip_national_prefix(national, metadata)
        if _length_test(stripped, metadata) not in _KEEPS_PREFIX:
            national = stripped
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    number = PhoneNumber(country_code=country_code)
    _set_leading_zeros(national, number)
    number.national_number = int(national)
    return number


__all__ = ["parse_plus_digits"]
