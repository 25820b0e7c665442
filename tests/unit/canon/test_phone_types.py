"""The joined classification equals libphonenumber's own, and is the one that answers."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import phonenumbers
import pytest
from phonenumbers import PhoneMetadata, PhoneNumberType, phonenumberutil

import pipeline.canon.phone  # noqa: F401  (installs the joined classification)
from pipeline.canon import phone_types
from pipeline.canon.phone_types import LIBRARY_HELPER, number_type_helper

_DESCS = (
    "general_desc", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)  # fmt: skip


def _all_metadata() -> list[Any]:
    regions = [PhoneMetadata.metadata_for_region(r) for r in sorted(phonenumbers.SUPPORTED_REGIONS)]
    nongeo = [
        PhoneMetadata.metadata_for_nongeo_region(c)
        for c in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    return [m for m in regions + nongeo if m is not None]


METADATA = _all_metadata()


def _examples(metadata: Any) -> list[str]:
    return [
        d.example_number for name in _DESCS if (d := getattr(metadata, name)) is not None and d.example_number
    ]


def test_every_region_and_non_geographic_code_is_covered() -> None:
    assert len(METADATA) > 240


@pytest.mark.parametrize("metadata", METADATA, ids=lambda m: f"{m.id}+{m.country_code}")
def test_the_joined_classification_equals_the_librarys(metadata: Any) -> None:
    rng = random.Random(f"{metadata.id}{metadata.country_code}")
    numbers = set(_examples(metadata))
    for example in list(numbers):
        for _ in range(30):  # the example's range with other digits after a kept prefix: real allocations
            keep = rng.randint(1, len(example))
            numbers.add(example[:keep] + "".join(rng.choice("0123456789") for _ in example[keep:]))
        numbers.add(example[:-1])
        numbers.add(example + rng.choice("0123456789"))
    for length in range(1, 18):
        for _ in range(8):
            numbers.add("".join(rng.choice("0123456789") for _ in range(length)))
    differ = {n: (number_type_helper(n, metadata), LIBRARY_HELPER(n, metadata)) for n in sorted(numbers)}
    assert {n: v for n, v in differ.items() if v[0] != v[1]} == {}
    assert {v[1] for v in differ.values()} != {PhoneNumberType.UNKNOWN}  # the inputs reached real ranges


def test_no_region_falls_back_to_the_librarys_function() -> None:
    # Without this, a join that always deferred to the library would pass the equality test.
    deferred = []
    for metadata in METADATA:
        for length in set(metadata.general_desc.possible_length):
            if phone_types._matcher(metadata, length) is None:
                deferred.append((metadata.id, metadata.country_code, length))
    assert deferred == []


def test_it_is_what_the_library_calls() -> None:
    assert phonenumberutil._number_type_helper is number_type_helper
    number = phonenumbers.parse("+16135550123")  # Canada: +1 shares its calling code with the US
    assert phonenumbers.region_code_for_number(number) == "CA"
    assert phonenumbers.number_type(phonenumbers.parse("+66812345678")) == PhoneNumberType.MOBILE


def _desc(pattern: str | None, lengths: tuple[int, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(national_number_pattern=pattern, possible_length=lengths)


def _fake(**descs: SimpleNamespace) -> SimpleNamespace:
    fields: dict[str, Any] = dict.fromkeys(_DESCS)
    fields.update(general_desc=_desc(r"\d{3,6}"), same_mobile_and_fixed_line_pattern=False, id="XX")
    fields.update(country_code=999, **descs)
    return SimpleNamespace(**fields)


def _types_are(metadata: SimpleNamespace, expected: dict[str, int]) -> None:
    """Each number has its expected type, by the joined classification and by the library's."""
    ours = {n: number_type_helper(n, metadata) for n in expected}
    library = {n: LIBRARY_HELPER(n, metadata) for n in expected}
    assert ours == expected == library


def test_branches_with_groups_of_their_own_map_to_their_types() -> None:
    # Capturing groups inside a branch shift the later branches' group numbers; lastindex is still the
    # branch's own group, which closes last.
    metadata = _fake(
        toll_free=_desc(r"(8)(0)0\d{3}"), voip=_desc(r"5(5)\d{2}"), fixed_line=_desc(r"2\d{3,5}"),
        mobile=_desc(r"(2[05])\d{2,4}"),
    )  # fmt: skip
    _types_are(
        metadata,
        {
            "800123": PhoneNumberType.TOLL_FREE,
            "5512": PhoneNumberType.VOIP,
            "2000": PhoneNumberType.FIXED_LINE_OR_MOBILE,
            "2100": PhoneNumberType.FIXED_LINE,
            "9999": PhoneNumberType.UNKNOWN,
        },
    )


def test_lengths_gate_each_type_as_the_library_does() -> None:
    metadata = _fake(premium_rate=_desc(r"9\d+", (5,)), fixed_line=_desc(r"\d+"))
    # Premium is 5 digits only; the general description allows 3-6.
    _types_are(
        metadata,
        {
            "90000": PhoneNumberType.PREMIUM_RATE,
            "9000": PhoneNumberType.FIXED_LINE,
            "90": PhoneNumberType.UNKNOWN,
        },
    )


def test_a_pattern_the_join_could_change_is_left_to_the_library() -> None:
    metadata = _fake(fixed_line=_desc(r"(\d)\1\d{2}"), mobile=_desc(r"(?P<x>7)\d{3}"))
    assert phone_types._matcher(metadata, 4) is None
    for number in ("1123", "1234", "7123"):
        assert number_type_helper(number, metadata) == LIBRARY_HELPER(number, metadata)
    assert number_type_helper("1123", metadata) == PhoneNumberType.FIXED_LINE


def test_where_types_overlap_the_first_in_the_librarys_order_wins() -> None:
    # Real metadata rarely has two types match one number; where a fake one does, the order decides.
    metadata = _fake(
        premium_rate=_desc(r"9\d{3}"), toll_free=_desc(r"[89]\d{3}"), voicemail=_desc(r"\d{4}"),
        fixed_line=_desc(r"\d{4,5}"), mobile=_desc(r"\d{5}"),
    )  # fmt: skip
    _types_are(
        metadata,
        {
            "9000": PhoneNumberType.PREMIUM_RATE,
            "8000": PhoneNumberType.TOLL_FREE,
            "7000": PhoneNumberType.VOICEMAIL,
            "70000": PhoneNumberType.FIXED_LINE_OR_MOBILE,
        },
    )
