"""TLP: every TLP 1.0 / 2.0 / OpenCTI id and name maps to the right level; markings equal OASIS's objects."""

from __future__ import annotations

import json

import pytest
import stix2

from pipeline.stix.tlp import TLP, TLP2_EXTENSION_ID, TLP2_MARKING_IDS, parse_tlp, tlp_from_marking_refs

# The TLP 2.0 marking definitions exactly as OASIS publishes them (cti-stix-common-objects,
# extension-definition-specifications/tlp-2.0 and objects/marking-definition).
OASIS_TLP2 = {
    level: json.loads(
        '{"type": "marking-definition", "spec_version": "2.1", "id": "' + marking_id + '", '
        '"created": "2022-10-01T00:00:00.000Z", "name": "' + name + '", "extensions": '
        '{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": '
        '{"extension_type": "property-extension", "tlp_2_0": "' + label + '"}}}'
    )
    for level, marking_id, name, label in [
        (TLP.CLEAR, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR", "clear"),
        (TLP.GREEN, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN", "green"),
        (TLP.AMBER, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER", "amber"),
        (
            TLP.AMBER_STRICT,
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            "TLP:AMBER+STRICT",
            "amber+strict",
        ),
        (TLP.RED, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED", "red"),
    ]
}

TLP1_IDS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"


@pytest.mark.parametrize("level", list(TLP), ids=lambda t: t.label)
def test_marking_definition_equals_oasis_object(level: TLP) -> None:
    assert level.marking_definition() == OASIS_TLP2[level]
    assert level.marking_id == OASIS_TLP2[level]["id"]
    assert TLP2_MARKING_IDS[level] == OASIS_TLP2[level]["id"]


def test_extension_id_is_the_oasis_tlp2_extension() -> None:
    assert TLP2_EXTENSION_ID == "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


def test_levels_are_ordered_by_restriction() -> None:
    assert [t.label for t in sorted(TLP)] == ["clear", "green", "amber", "amber+strict", "red"]


@pytest.mark.parametrize("level", list(TLP), ids=lambda t: t.label)
def test_tlp2_ids_map_back(level: TLP) -> None:
    assert parse_tlp(level.marking_id) is level


def test_tlp1_ids_are_the_stix2_library_ones() -> None:
    library = {
        stix2.TLP_WHITE.id: TLP.CLEAR,
        stix2.TLP_GREEN.id: TLP.GREEN,
        stix2.TLP_AMBER.id: TLP.AMBER,
        stix2.TLP_RED.id: TLP.RED,
    }
    assert library == TLP1_IDS


@pytest.mark.parametrize(("marking_id", "level"), sorted(TLP1_IDS.items()))
def test_tlp1_ids_map(marking_id: str, level: TLP) -> None:
    assert parse_tlp(marking_id) is level


def test_opencti_amber_strict_maps() -> None:
    assert parse_tlp(OPENCTI_AMBER_STRICT) is TLP.AMBER_STRICT


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("clear", TLP.CLEAR),
        ("TLP:CLEAR", TLP.CLEAR),
        ("white", TLP.CLEAR),
        ("TLP:WHITE", TLP.CLEAR),
        ("green", TLP.GREEN),
        ("TLP:GREEN", TLP.GREEN),
        ("tlp green", TLP.GREEN),
        ("Amber", TLP.AMBER),
        ("TLP:AMBER", TLP.AMBER),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("amber+strict", TLP.AMBER_STRICT),
        ("amber_strict", TLP.AMBER_STRICT),
        ("amber-strict", TLP.AMBER_STRICT),
        (" red ", TLP.RED),
        ("TLP:RED", TLP.RED),
    ],
)
def test_names_map(name: str, level: TLP) -> None:
    assert parse_tlp(name) is level


@pytest.mark.parametrize(
    "value",
    ["", "purple", "TLP:", "marking-definition--00000000-0000-4000-8000-000000000000", "tlp:amber+"],
)
def test_unknown_values_are_none(value: str) -> None:
    assert parse_tlp(value) is None


@pytest.mark.parametrize("level", list(TLP), ids=lambda t: t.label)
def test_names_written_in_markings_parse_back(level: TLP) -> None:
    assert parse_tlp(level.marking_definition()["name"]) is level
    assert parse_tlp(level.label) is level


def test_most_restrictive_marking_wins() -> None:
    refs = [TLP.GREEN.marking_id, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "x"]
    assert tlp_from_marking_refs(refs) is TLP.RED
    assert tlp_from_marking_refs([OPENCTI_AMBER_STRICT, TLP.AMBER.marking_id]) is TLP.AMBER_STRICT


def test_no_known_marking_is_none() -> None:
    assert tlp_from_marking_refs([]) is None
    assert tlp_from_marking_refs(["marking-definition--00000000-0000-4000-8000-000000000000"]) is None
