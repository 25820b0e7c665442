"""Phone numbers to E.164 with Google's libphonenumber metadata (the ``phonenumbers`` package).

Accepted: ``+66 81 234 5678``, ``+66.81.234.5678``, ``+44 (0)20 7946 0958``, ``tel:+1-415-555-2671``,
vanity letters (``1-800-FLOWERS`` with hint US), WhatsApp links (``https://wa.me/66812345678``), and
national forms with a country hint (``0812345678`` + TH, ``(415) 555-2671`` + US). International-prefix
forms use the hint's prefix (``011 66 ...`` + US); a leading ``00`` (the ITU-recommended prefix) is also
read as ``+`` with or without a hint, because ``0066 81 234 5678`` is how most people outside North
America write it. When both readings are valid numbers, the hint country's own reading wins (in Thailand
``006`` is itself an international prefix).

Extensions (``x123``, ``;ext=12``) are dropped: E.164 has none and the scam is the line, not the desk.

Rejected with a reason: impossible lengths (``is_possible_number``) and numbers outside every allocated
range (``is_valid_number``), national numbers without a country hint, unknown country hints.

Facts: ``country`` (ISO region of the number, absent for non-geographic +800/+808/+88x codes),
``calling_code``, ``line_type`` (mobile, fixed, fixed-or-mobile, toll-free, premium, shared-cost, voip,
personal, pager, uan, voicemail, unknown), ``carrier`` (the operator the range was allocated to, offline
data; a ported number may have moved) and ``region`` (geocoder description, e.g. ``San Francisco, CA``).

>>> canonicalize("081-234-5678", "TH").value
'+66812345678'
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Final

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    phonenumberutil,
)
from phonenumbers import ValidationResult as Possible

from pipeline.canon import phone_types
from pipeline.canon.core import Canonical, Invalid, LazyFacts, simple
from pipeline.canon.phone_plus import PLAIN_CHARACTER, parse_plus_digits
from pipeline.canon.registry import Kind, NewSco, value_input
from pipeline.stix.ids import extension_definition_id
from pipeline.stix.schemas import sco_schema

logger = logging.getLogger(__name__)

# libphonenumber's metadata regexes are compiled through re.compile on every use, and re's own cache (512
# patterns) is far smaller than the metadata: parsing and classifying one number compiles a dozen. This
# keeps every compiled metadata pattern (a fixed, bounded set: the metadata is), so they are compiled once
# per process.
phonenumbers.enable_pattern_cache()
# Classifying a number (its type, its validity, the region of a shared calling code) with one match per
# region and length instead of one per type (pipeline/canon/phone_types.py).
phone_types.install()

_DIGITS_OF: Final = phonenumberutil.normalize_digits_only
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]+")


def _normalize_digits_only(number: Any, keep_non_digits: bool = False) -> Any:
    """libphonenumber's ``normalize_digits_only`` with ASCII text handled by one regex.

    The library maps each character through ``unicodedata.digit`` in a Python loop: about a third of
    parsing a number. For ASCII text only ``0``-``9`` have a digit value, so the answer is the text without
    its other characters (or the text itself when non-digits are kept). Anything else (full-width or
    Arabic-Indic digits, a non-str) goes to the library's own loop. A test holds both equal.
    """
    if type(number) is str and number.isascii():
        return number if keep_non_digits else _NOT_ASCII_DIGIT.sub("", number)
    return _DIGITS_OF(number, keep_non_digits)


_STRIP_EXTENSION: Final = phonenumberutil._maybe_strip_extension
# Every way of writing an extension that libphonenumber reads needs a character outside this set (a label
# such as "ext" or "x", ";", ",", "#", "~", or a non-ASCII one): a test holds that its pattern finds none.
_NO_EXTENSION = re.compile(PLAIN_CHARACTER + "*")


def _maybe_strip_extension(number: Any) -> Any:
    """libphonenumber's ``_maybe_strip_extension`` (every parse calls it, about a tenth of a parse: its
    extension pattern is searched from every position), answered at once for text that cannot hold one."""
    if type(number) is str and _NO_EXTENSION.fullmatch(number):
        return "", number
    return _STRIP_EXTENSION(number)


# Set on the module whose functions call them (parse, the country-code and national-prefix steps look them
# up there at each call); the package's re-export of normalize_digits_only stays the library's.
phonenumberutil.normalize_digits_only = _normalize_digits_only
phonenumberutil._maybe_strip_extension = _maybe_strip_extension

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "phone"
SCO_TYPE: Final = "phone-number"
EXTENSION_ID: Final = extension_definition_id(SCO_TYPE)
ID_PROPERTIES: Final = (("value",),)
E164_PATTERN: Final = "^\\+[1-9][0-9]{1,14}$"

_LINE_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed-or-mobile",
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
_NOT_POSSIBLE = {
    Possible.TOO_SHORT: "too short",
    Possible.TOO_LONG: "too long",
    Possible.INVALID_LENGTH: "a length no number there has",
    Possible.INVALID_COUNTRY_CODE: "an unknown country calling code",
    Possible.IS_POSSIBLE_LOCAL_ONLY: "a local number only: add the area code",
}
_CARRIER_TYPES = frozenset(
    (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER)
)
# WhatsApp click-to-chat links carry the number in international form without '+'.
_WHATSAPP = re.compile(
    r"(?:https?://)?(?:wa\.me/|(?:api|web)\.whatsapp\.com/send/?\?phone=)\+?(\d{6,15})\b", re.I
)
_SEPARATORS = re.compile(r"[\s().\-/]+")
_HAS_DIGIT = re.compile(r"\d")
_NON_GEOGRAPHIC = "001"


def _where(number: PhoneNumber) -> str:
    region = phonenumbers.region_code_for_number(number)
    if region and region not in (_NON_GEOGRAPHIC, "ZZ"):
        return region
    return f"+{number.country_code}"


def _parse(text: str, region: str | None) -> PhoneNumber | NumberParseException:
    fast = parse_plus_digits(text, region)  # what the library's parse gives, for + and digits
    if fast is not None:
        return fast
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return exc


def _parse_error(exc: NumberParseException, hint: str | None, text: str) -> str:
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if hint is None and not text.lstrip().startswith("+"):
            return "national number without a country: give a country hint, or write it as +<country code>"
        return "unknown country calling code"
    if kind == NumberParseException.NOT_A_NUMBER:
        return "not a phone number"
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return "too short to be a phone number"
    return "too long to be a phone number"


def _explain(number: PhoneNumber) -> str:
    possible = phonenumbers.is_possible_number_with_reason(number)
    where = _where(number)
    if possible != Possible.IS_POSSIBLE:
        return f"not a possible number for {where}: {_NOT_POSSIBLE.get(possible, 'wrong length')}"
    return f"not a valid number for {where}: no number range is allocated for it"


def preload() -> None:
    """Load the carrier and geocoder data now (about 0.4 s): a long-running worker pays it at start, not in
    the first batch that reads a phone number's facts."""
    from phonenumbers import carrier, geocoder  # noqa: F401, PLC0415


def facts_for(number: PhoneNumber, line_type: int | None = None) -> dict[str, str]:
    """Derived facts (country, calling code, line type, carrier, region) of a valid number.

    ``line_type`` is ``phonenumbers.number_type(number)`` when the caller has it already: classifying a
    number is the most expensive step, and the library's carrier and geocoder helpers each repeat it.
    """
    ntype = phonenumbers.number_type(number) if line_type is None else line_type
    facts = {"calling_code": str(number.country_code)}
    region = phonenumbers.region_code_for_number(number)
    if region and region not in (_NON_GEOGRAPHIC, "ZZ"):
        facts["country"] = region
    facts["line_type"] = _LINE_TYPES.get(ntype, "unknown")
    # What carrier.name_for_number and geocoder.description_for_number do, minus re-classifying. Imported
    # here: loading the geocoder's data takes about 0.4 s, which `normalize` and `--help` must not pay.
    from phonenumbers import carrier, geocoder  # noqa: PLC0415

    if ntype in _CARRIER_TYPES:
        operator = carrier.name_for_valid_number(number, "en")
        if operator:
            facts["carrier"] = operator
    if phonenumbers.is_number_type_geographical(ntype, number.country_code or 0):
        place = geocoder.description_for_valid_number(number, "en")
    else:
        place = geocoder.country_name_for_number(number, "en")
    if place:
        facts["region"] = place
    return facts


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``phone-number``: E.164 (``+66812345678``); ``country`` is the hint for national forms."""
    text = value.strip()
    whatsapp = _WHATSAPP.match(text)
    if whatsapp:
        text = "+" + whatsapp.group(1)
    if not _HAS_DIGIT.search(text):
        return Invalid(KIND, value, "not a phone number: it has no digits")
    if country is not None and country not in phonenumbers.SUPPORTED_REGIONS and not text.startswith("+"):
        return Invalid(KIND, value, f"unknown country hint {country!r}: use an ISO 3166 alpha-2 code like TH")
    compact = _SEPARATORS.sub("", text)
    if compact[:4].lower() == "tel:":
        compact = compact[4:]
    if country is None and compact.startswith("00"):
        return _international(value, text, compact)
    first = _parse(text, country)
    if isinstance(first, PhoneNumber):
        found = _valid(first)
        if found is not None:
            return found
    if not compact.startswith("00"):
        if isinstance(first, PhoneNumber):
            return Invalid(KIND, value, _explain(first))
        return Invalid(KIND, value, _parse_error(first, country, text))
    # The '+' reading of '00...' is parsed only when the first reading is not a valid number: when both
    # are, the first (the hint country's own) wins. When neither is, the '+' reading is explained: it is
    # what the person most likely meant.
    second = _parse("+" + compact[2:], None)
    if isinstance(second, PhoneNumber):
        return _valid(second) or Invalid(KIND, value, _explain(second))
    if isinstance(first, PhoneNumber):
        return Invalid(KIND, value, _explain(first))
    return Invalid(KIND, value, _parse_error(first, country, text))


def _international(value: str, text: str, compact: str) -> Canonical | Invalid:
    """``00...`` without a hint: only the ``+`` reading can be a number.

    Without a region libphonenumber reads no national form and no international prefix, so it refuses a
    number that does not begin with ``+`` (``text``'s first digit here is ``0``): that first parse is made
    only for its error, when the ``+`` reading is not a number either.
    """
    second = _parse("+" + compact[2:], None)
    if isinstance(second, PhoneNumber):
        return _valid(second) or Invalid(KIND, value, _explain(second))
    first = _parse(text, None)
    if isinstance(first, PhoneNumber):  # never seen (a test holds it); explained rather than trusted
        return Invalid(KIND, value, _explain(first))
    return Invalid(KIND, value, _parse_error(first, None, text))


def _valid(number: PhoneNumber) -> Canonical | None:
    """The Canonical of a valid number, ``None`` for an invalid one."""
    # number_type is UNKNOWN exactly when is_valid_number is False: one classification answers both, and
    # the facts reuse it.
    line_type = phonenumbers.number_type(number)
    if line_type == PhoneNumberType.UNKNOWN:
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return simple(KIND, e164, LazyFacts(functools.partial(facts_for, number, line_type)))


def phone_number_schema() -> dict[str, Any]:
    """``phone-number``: one telephone number in E.164 form."""
    return sco_schema(
        SCO_TYPE,
        extension_id=EXTENSION_ID,
        description=(
            "A telephone number used in a scam (calls, SMS, messaging apps). `value` is the number in "
            "E.164 form (+, country code, national number, no spaces). ID contributing properties: value."
        ),
        id_contributing=[list(p) for p in ID_PROPERTIES],
        properties={
            "value": {
                "type": "string",
                "pattern": E164_PATTERN,
                "description": "The number in E.164 form, e.g. +14155552671.",
            }
        },
        required=["value"],
    )


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=ID_PROPERTIES,
    pattern_properties=ID_PROPERTIES,
    half_life_days=30,
    enrichers=("facts",),
    stix_input=value_input(SCO_TYPE),
    example="+66 81 234 5678",
    aliases=(SCO_TYPE, "tel", "telephone", "msisdn"),
    misp_types={"phone-number": KIND, "prtn": KIND},
    new_sco=NewSco(
        EXTENSION_ID,
        "New SCO type phone-number: a telephone number used in a scam, in E.164 form (property value). "
        "ID contributing properties: value.",
        phone_number_schema,
    ),
)

__all__ = ["DECLARATION", "canonicalize", "facts_for", "phone_number_schema", "preload"]
