"""libphonenumber's number classification with one regular expression per region and length.

``phonenumbers`` classifies a national number (``number_type``, ``is_valid_number``, and the choice of region
for a shared calling code such as +1 or +44) by trying each type's pattern in a fixed order — premium rate,
toll free, shared cost, VoIP, personal, pager, UAN, voicemail, then fixed line and mobile — each behind a
check of the type's possible lengths: up to a dozen pattern lookups and matches per number, about a sixth
of canonicalising a phone number seen for the first time.

:func:`number_type_helper` gives the same answer with one match: for a region's metadata and a length, the
patterns of the types possible at that length are joined into one alternation, in the library's order, each
branch a capturing group. A full match of ``(A)|(B)|…`` is the first branch that matches the whole number
(the engine tries the branches in order, backtracking within each before the next), and ``lastindex`` names
that branch: the outer group closes last. A fixed-line match then asks, as the library does, whether the
mobile pattern matches too. The general description is checked first, as the library does.

Where the join could change what a pattern means (a pattern with a group reference), or the metadata is
not of the shape this was written for, the library's own function answers. A test holds both equal on
every region's example numbers and on random numbers of every length for every region.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from phonenumbers import PhoneNumberType, phonenumberutil
from phonenumbers.re_util import re_compile

#: The library's own function, kept for what the join does not cover and for the tests.
LIBRARY_HELPER: Final[Callable[[str, Any], int]] = phonenumberutil._number_type_helper

# The types checked before fixed line and mobile, in the library's order.
_ORDERED: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_FIXED: Final = -1  # a branch's type when it is the fixed-line pattern (mobile is then asked too)
# Group references, and any (? other than (?: (inline flags, named groups, look-arounds): never joined.
# The metadata of phonenumbers 9.0.43 has none of them, nor any capturing group (a test says when one comes).
_UNJOINABLE: Final = re.compile(r"\\[1-9gk]|\(\?(?!:)")

# The joined pattern, the type of each group (None for a group inside a branch), the mobile pattern a
# fixed-line match also asks; None where the library answers.
Matcher = tuple[re.Pattern[str], tuple[int | None, ...], re.Pattern[str] | None] | None
# (id of the metadata, length) -> (the metadata, which the key's id must outlive, and its matcher). Bounded by
# the metadata: about 250 regions times the few lengths their numbers have.
_MATCHERS: dict[tuple[int, int], tuple[Any, Matcher]] = {}


def _possible(desc: Any, length: int) -> bool:
    """The library's length gate of ``_is_number_matching_desc``, and a pattern to match."""
    if desc is None or not desc.national_number_pattern:
        return False
    lengths = desc.possible_length
    return not (len(lengths) > 0 and length not in lengths)


def _matcher(metadata: Any, length: int) -> Matcher:
    branches: list[tuple[str, int]] = [
        (desc.national_number_pattern, ntype)
        for name, ntype in _ORDERED
        if _possible(desc := getattr(metadata, name), length)
    ]
    fixed, mobile = metadata.fixed_line, metadata.mobile
    same = bool(metadata.same_mobile_and_fixed_line_pattern)
    if _possible(fixed, length):
        branches.append((fixed.national_number_pattern, _FIXED))
    if not same and _possible(mobile, length):
        branches.append((mobile.national_number_pattern, PhoneNumberType.MOBILE))
    if not branches or any(_UNJOINABLE.search(p) for p, _ in branches):
        return None
    joined = re.compile("|".join(f"({p})" for p, _ in branches))
    # lastindex of a match is its branch's group: the number of groups before it, plus one.
    types: list[int | None] = [None] * (joined.groups + 1)
    first_group = 1
    for pattern, ntype in branches:
        types[first_group] = ntype
        first_group += 1 + re.compile(pattern).groups
    also_mobile = None
    if _FIXED in types and not same and _possible(mobile, length):
        also_mobile = re.compile(mobile.national_number_pattern)
    return joined, tuple(types), also_mobile


def number_type_helper(national_number: str, metadata: Any) -> int:
    """``phonenumberutil._number_type_helper`` (the type of a national number in a region), one match."""
    general = metadata.general_desc
    length = len(national_number)
    # The library's pattern cache (enabled by pipeline.canon.phone) holds the general patterns.
    if (
        not _possible(general, length)
        or re_compile(general.national_number_pattern).fullmatch(national_number) is None
    ):
        return PhoneNumberType.UNKNOWN
    key = (id(metadata), length)
    try:
        found = _MATCHERS[key][1]
    except KeyError:
        found = _matcher(metadata, length)
        _MATCHERS[key] = (metadata, found)
    if found is None:
        return LIBRARY_HELPER(national_number, metadata)
    joined, types, also_mobile = found
    match = joined.fullmatch(national_number)
    if match is None:
        return PhoneNumberType.UNKNOWN
    ntype = types[match.lastindex or 0]
    if ntype is None:  # not a branch's group: cannot happen with branches closing last, answered anyway
        return LIBRARY_HELPER(national_number, metadata)
    if ntype != _FIXED:
        return ntype
    if metadata.same_mobile_and_fixed_line_pattern:
        return PhoneNumberType.FIXED_LINE_OR_MOBILE
    if also_mobile is not None and also_mobile.fullmatch(national_number) is not None:
        return PhoneNumberType.FIXED_LINE_OR_MOBILE
    return PhoneNumberType.FIXED_LINE


def install() -> None:
    """Make the library's classification (and what calls it by name) use :func:`number_type_helper`."""
    phonenumberutil._number_type_helper = number_type_helper


__all__ = ["LIBRARY_HELPER", "install", "number_type_helper"]
