"""Handset identities: the IMEI (3GPP TS 23.003 section 6.2), as a new SCO type ``imei``.

An IMEI is 15 digits: the 8-digit Type Allocation Code (TAC, which model of handset), a 6-digit serial
number and a Luhn check digit. The IMEISV a handset also reports is 16 digits: the same 14, then a 2-digit
software version instead of the check digit. Both name the same handset, so both canonicalise to the
15-digit IMEI (an IMEISV gets its check digit computed).

Accepted: ``352099001761481``, ``35-209900-176148-1``, ``35 209900 176148 1``, ``35/209900/176148/1``,
an IMEISV such as ``3520990017614823``, and any of these after ``IMEI`` or ``IMEISV`` (``IMEI: 35...``).
Rejected with a reason: a wrong check digit, a length other than 15 or 16 digits, other characters.

Facts: ``tac`` (the first 8 digits; a TAC database maps it to a maker and model).

The SCO type is ``imei``, as OpenCTI names its IMEI observable; its ID contributing property is ``value``.

>>> canonicalize("35-209900-176148-1", None).value
'352099001761481'
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Final

from pipeline.canon.core import Canonical, Invalid, simple
from pipeline.canon.registry import Kind, NewSco, value_input
from pipeline.stix.ids import extension_definition_id
from pipeline.stix.schemas import sco_schema

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
CACHE_SIZE = 8192

KIND = "imei"
SCO_TYPE: Final = "imei"
EXTENSION_ID: Final = extension_definition_id(SCO_TYPE)
ID_PROPERTIES: Final = (("value",),)
IMEI_PATTERN: Final = "^[0-9]{15}$"
TAC_LENGTH: Final = 8

_LABEL = re.compile(r"^IMEI(?:SV)?\s*[:#]?\s*", re.I)
_SEPARATORS = re.compile(r"[\s\-/.]+")
_NOT_DIGIT = re.compile(r"[^0-9]")


def luhn_digit(payload: str) -> int:
    """The Luhn check digit of ``payload`` (decimal digits): what makes ``payload + digit`` pass Luhn.

    >>> luhn_digit("35209900176148")
    1
    """
    total = 0
    # Doubling starts with the payload's last digit: it sits next to the check digit.
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``imei``: the 15-digit IMEI (an IMEISV loses its software version, gains its check digit).

    ``country`` is ignored: an IMEI is the same everywhere.
    """
    text = _SEPARATORS.sub("", _LABEL.sub("", value.strip()))
    stray = _NOT_DIGIT.search(text)
    if stray:
        return Invalid(
            KIND,
            value,
            f"an IMEI is digits only (spaces, dashes and slashes are ignored); found {stray[0]!r}",
        )
    if len(text) == 16:
        text = text[:14] + str(luhn_digit(text[:14]))
    elif len(text) != 15:
        return Invalid(KIND, value, f"IMEI has {len(text)} digits; expected 15 (IMEI) or 16 (IMEISV)")
    expected = luhn_digit(text[:14])
    if int(text[14]) != expected:
        return Invalid(KIND, value, f"IMEI check digit is {text[14]}, expected {expected}")
    return simple(KIND, text, {"tac": text[:TAC_LENGTH]})


def imei_schema() -> dict[str, Any]:
    """``imei``: the identity of one handset."""
    return sco_schema(
        SCO_TYPE,
        extension_id=EXTENSION_ID,
        description=(
            "A handset used in a scam, by its International Mobile Equipment Identity. `value` is the "
            "15-digit IMEI with its Luhn check digit (an IMEISV is written as its IMEI). "
            "ID contributing properties: value."
        ),
        id_contributing=[list(p) for p in ID_PROPERTIES],
        properties={
            "value": {
                "type": "string",
                "pattern": IMEI_PATTERN,
                "description": "The IMEI (TAC, serial number, check digit), e.g. 352099001761481.",
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
    # Longer than a phone number's 30 days: scam centres swap SIM cards often but keep re-using the same
    # handsets for a long time, so a reported IMEI stays evidence for months.
    half_life_days=180,
    enrichers=("facts",),
    stix_input=value_input(SCO_TYPE),
    example="35-209900-176148-1",
    aliases=("imeisv",),
    misp_types={"imei": KIND},
    new_sco=NewSco(
        EXTENSION_ID,
        "New SCO type imei: a handset used in a scam, by its 15-digit IMEI (property value). "
        "ID contributing properties: value.",
        imei_schema,
    ),
)

__all__ = ["DECLARATION", "canonicalize", "imei_schema", "luhn_digit"]
