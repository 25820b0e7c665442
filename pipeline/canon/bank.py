"""Bank accounts: IBANs (verified with ``schwifty``) or national account numbers with a country.

Accepted input forms (case-insensitive; spaces, dashes and dots inside numbers are ignored):

- an IBAN: ``DE89 3704 0044 0532 0130 00``, ``IBAN: DE89370400440532013000``;
- ``CC:account``, a national account number with its ISO 3166 country: ``TH:123-4-56789-0``;
- ``BIC:account``: the country is the BIC's: ``BKKBTHBK:1234567890``;
- a bare national account number with a country hint: ``123-4-56789-0`` + TH;
- any of the above followed by a BIC after a space, ``/``, ``;`` or ``,`` and optionally the word ``BIC`` or
  ``SWIFT``: ``DE89370400440532013000 COBADEFFXXX``, ``DE89 3704 0044 0532 0130 00 / BIC: COBADEFF``.

The canonical value is the compact IBAN, or ``CC:account`` for a national number, followed by
`` <BIC>`` when a BIC was given; BICs are written with 11 characters (``COBADEFF`` -> ``COBADEFFXXX``,
the same institution). The SCO id comes from the IBAN alone (or from account number + country), so the
same account reported with and without a BIC is one indicator; the BIC is a property, not identity.

An IBAN is checked for its country's length and format, its mod-97 check digits and its national (BBAN)
check digits where schwifty has the country's algorithm: BA BE CZ DE EE ES FI FR IS IT MC ME MK MR NO PL
PT RS SI SK SM TL TN (Germany per bank, by the bank code's Bundesbank method where schwifty implements
it). So a mistyped account number whose IBAN check digits were recomputed to match is still refused
there; elsewhere (GB, NL, HU, SE, ...) mod-97 is the only checksum. Reasons name the country and what was
expected (``ES (Spain) IBANs have 24 characters; this one has 23``); :mod:`pipeline.canon.bank_iban`
words them.

A national number in an IBAN country is kept as given, not converted to an IBAN (that needs per-country
bank-code rules): submit the IBAN when you have it, or the two will not merge.

>>> canonicalize("IBAN DE89 3704 0044 0532 0130 00", None).value
'DE89370400440532013000'
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import pycountry
from schwifty import BIC
from schwifty.exceptions import InvalidCountryCode, InvalidLength, SchwiftyException

from pipeline.canon.bank_iban import NotIban, ValidIban, check_iban
from pipeline.canon.core import Canonical, Invalid
from pipeline.canon.registry import Kind, NewSco, StixInput
from pipeline.stix.ids import extension_definition_id
from pipeline.stix.schemas import COUNTRY_PATTERN, sco_schema

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "bank-account"
SCO_TYPE: Final = "bank-account"
EXTENSION_ID: Final = extension_definition_id(SCO_TYPE)
ID_PROPERTIES: Final = (("iban",), ("account_number", "country"))
IBAN_PATTERN: Final = "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
BIC_PATTERN: Final = "^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$"

_BIC = r"[A-Za-z]{6}[A-Za-z0-9]{2}(?:[A-Za-z0-9]{3})?"
_TRAILING_BIC = re.compile(rf"(?:\s*[/;,|]\s*|\s+)(?:(?:BIC|SWIFT)\s*:?\s*)?({_BIC})$", re.I)
_IBAN_WORD = re.compile(r"^IBAN\s*:?\s*", re.I)
_PREFIX = re.compile(rf"^([A-Za-z]{{2}}|{_BIC})\s*:\s*(.+)$")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}")
_ACCOUNT_NOISE = re.compile(r"[\s.\-/]+")
_ACCOUNT = re.compile(r"[A-Z0-9]{4,34}")


def _country_ok(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


def _bic11(code: str) -> str:
    """A BIC in its 11-character form (``XXX`` is the primary office, the same institution)."""
    code = code.upper()
    return code + "XXX" if len(code) == 8 else code


def _bic(text: str) -> BIC | str:
    """A validated BIC (11 characters) or a reason. (BIC subclasses str: test with isinstance(x, BIC).)"""
    try:
        return BIC(_bic11(text))
    except InvalidCountryCode:
        why = f"its letters 5-6 ({text[4:6].upper()!r}) are not a country code"
    except InvalidLength:
        why = "a BIC has 8 or 11 characters"
    except SchwiftyException:
        why = "a BIC is 4 letters (bank), 2 (country), 2 letters or digits (place) and optionally 3 (branch)"
    return f"BIC {text!r} is not valid: {why}"


def _iban_canonical(iban: ValidIban | NotIban, bic: BIC | None, value: str) -> Canonical | Invalid:
    # ``iban`` is check_iban's answer, which the caller needed to decide this is an IBAN: validating an
    # IBAN is most of the cost of a bank account, so it is done once.
    if isinstance(iban, NotIban):
        return Invalid(KIND, value, iban.reason)
    props = {"iban": iban.compact, "country": iban.country_code}
    facts = {"country": iban.country_code, "bank_code": iban.bank_code or ""}
    bank = iban.bank  # one registry lookup (iban.bic and iban.bank_name would each do their own)
    if bank is not None and bank.name:
        facts["bank_name"] = bank.name
    if bic is not None:
        props["bic"] = str(bic.compact)
        facts["bic"] = str(bic.compact)
    elif bank is not None and bank.bic:
        facts["bic"] = _bic11(bank.bic)
    facts = {k: v for k, v in facts.items() if v}
    value_out = iban.compact + (f" {props['bic']}" if bic is not None else "")
    id_props = {"iban": iban.compact}
    return Canonical(KIND, value_out, props, id_props, dict(id_props), facts)


def _national_canonical(country: str, account: str, bic: BIC | None, value: str) -> Canonical | Invalid:
    account = _ACCOUNT_NOISE.sub("", account).upper()
    if not _ACCOUNT.fullmatch(account):
        return Invalid(
            KIND, value, "an account number has 4 to 34 letters and digits (spaces, dots, dashes ignored)"
        )
    country = country.upper()
    if not _country_ok(country):
        return Invalid(KIND, value, f"unknown country {country!r}: use an ISO 3166 alpha-2 code like TH")
    if _IBAN_SHAPE.fullmatch(account):
        iban = check_iban(account)
        # 'DE:DE89...': an IBAN with its country is still an IBAN, and is judged as one (a wrong check
        # digit must not turn it into a national number); another country's prefix only if it is valid.
        if isinstance(iban, ValidIban) or (iban.iban_country and account[:2] == country):
            return _iban_canonical(iban, bic, value)
    props = {"account_number": account, "country": country}
    id_props = dict(props)
    facts = {"country": country}
    if bic is not None:
        props["bic"] = facts["bic"] = str(bic.compact)
        name = bic.bank_name if bic.exists else None
        if name:
            facts["bank_name"] = name
    value_out = f"{country}:{account}" + (f" {props['bic']}" if bic is not None else "")
    return Canonical(KIND, value_out, props, id_props, dict(id_props), facts)


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``bank-account`` (see the module docstring); ``country`` qualifies bare account numbers."""
    text = _IBAN_WORD.sub("", value.strip())
    bic: BIC | None = None
    trailing = _TRAILING_BIC.search(text)
    if trailing and text[: trailing.start()].strip(" :"):
        found = _bic(trailing.group(1))
        if not isinstance(found, BIC):
            return Invalid(KIND, value, found)
        bic, text = found, text[: trailing.start()].strip()
    prefixed = _PREFIX.match(text)
    if prefixed:
        head, account = prefixed.groups()
        if len(head) == 2:
            return _national_canonical(head, account, bic, value)
        head_bic = _bic(head)
        if not isinstance(head_bic, BIC):
            return Invalid(KIND, value, head_bic)
        if bic is not None and bic.compact != head_bic.compact:
            return Invalid(KIND, value, "two different BICs given")
        return _national_canonical(str(head_bic.country_code), account, head_bic, value)
    compact = _ACCOUNT_NOISE.sub("", text).upper()
    if _IBAN_SHAPE.fullmatch(compact):
        iban = check_iban(compact)
        # An IBAN-shaped value is judged as an IBAN unless its letters are not an IBAN country (TH12...).
        if isinstance(iban, ValidIban) or iban.iban_country:
            return _iban_canonical(iban, bic, value)
    if country is not None:
        return _national_canonical(country, text, bic, value)
    if bic is not None:
        return _national_canonical(str(bic.country_code), text, bic, value)
    return Invalid(
        KIND, value, "not an IBAN; for a national account number write CC:account or give a country hint"
    )


def bank_account_schema() -> dict[str, Any]:
    """``bank-account``: an account that receives scam payments (IBAN, or account number + country)."""
    return sco_schema(
        SCO_TYPE,
        extension_id=EXTENSION_ID,
        description=(
            "A bank account that received scam payments: an IBAN, or a national account number with its "
            "ISO 3166-1 alpha-2 country, optionally the BIC. ID contributing properties: iban when present, "
            "otherwise account_number and country."
        ),
        id_contributing=[list(p) for p in ID_PROPERTIES],
        properties={
            "iban": {
                "type": "string",
                "pattern": IBAN_PATTERN,
                "description": "The IBAN in electronic form: upper case, no spaces.",
            },
            "account_number": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "The national account number, as the bank writes it without separators.",
            },
            "country": {
                "type": "string",
                "pattern": COUNTRY_PATTERN,
                "description": "ISO 3166-1 alpha-2 code of the country that holds the account.",
            },
            "bic": {"type": "string", "pattern": BIC_PATTERN, "description": "The bank's BIC (8 or 11)."},
        },
        required=[],
        extra={
            "anyOf": [{"required": ["iban"]}, {"required": ["account_number", "country"]}],
        },
    )


def _from_stix(props: Mapping[str, str]) -> str | None:
    """The raw value of a bank-account pattern or observable: the IBAN, else ``country:account_number``."""
    if "iban" in props:
        return props["iban"]
    if "account_number" in props and "country" in props:
        return f"{props['country']}:{props['account_number']}"
    return None


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=ID_PROPERTIES,
    pattern_properties=ID_PROPERTIES,
    half_life_days=180,
    enrichers=("facts",),
    stix_input=StixInput(
        ("iban", "account_number", "country"),
        _from_stix,
        "bank-account needs iban, or account_number and country",
    ),
    example="DE89 3704 0044 0532 0130 00",
    aliases=("iban", "bank"),
    misp_types={"iban": "iban"},
    new_sco=NewSco(
        EXTENSION_ID,
        "New SCO type bank-account: a bank account that received scam payments, as an IBAN (iban) or a "
        "national account number (account_number) with its ISO 3166-1 alpha-2 country (country), and the "
        "BIC (bic) when known. ID contributing properties: iban when present, otherwise account_number "
        "and country.",
        bank_account_schema,
    ),
)

__all__ = ["DECLARATION", "bank_account_schema", "canonicalize"]
