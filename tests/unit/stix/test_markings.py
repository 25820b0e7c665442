"""Markings fail closed: every way a bundle restricts an indicator is honoured, anything unreadable holds it.

Each test is named for the attack it stops (a marking the old reader ignored passed as the default TLP).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stix.markings import (
    PAP_EXTENSION_ID,
    Resolved,
    Uninterpretable,
    marking_index,
    resolve_report_markings,
)
from pipeline.stix.tlp import TLP, TLP2_EXTENSION_ID

IND = "indicator--00000000-0000-4000-8000-000000000001"
SCO = "domain-name--00000000-0000-5000-8000-000000000002"
REL = "relationship--00000000-0000-4000-8000-000000000003"
CUSTOM = "marking-definition--7b9d2a3e-1f44-4d6b-9c0e-5a8f3e2d1c00"  # an OpenCTI-4 / MISP style random id
UNKNOWN = "marking-definition--00000000-0000-4000-8000-00000000abcd"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
OASIS_PAP_RED = "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e"
OPENCTI_PAP_RED = "marking-definition--4e4e3b84-de45-53df-9d9b-b21207699fd8"
OASIS_PAP_GREEN = "marking-definition--c43594d1-4b11-4c59-93ab-1c9b14d53ce9"
OPENCTI_PAP_AMBER = "marking-definition--a6f20d4d-0360-59b6-ba22-3b48707828b1"
OASIS_PAP_WHITE = "marking-definition--a3bea94c-b469-41dc-9cfe-d6e7daba7730"
GREEN_EXT = {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "green"}}


def indicator(**extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "id": IND, "pattern": "[domain-name:value = 'a.example']", **extra}


def sco(**extra: Any) -> dict[str, Any]:
    return {"type": "domain-name", "id": SCO, "value": "a.example", **extra}


def rel(source: str = IND, target: str = SCO, **extra: Any) -> dict[str, Any]:
    return {"type": "relationship", "id": REL, "source_ref": source, "target_ref": target, **extra}


def definition(marking_id: str = CUSTOM, **fields: Any) -> dict[str, Any]:
    return {"type": "marking-definition", "spec_version": "2.1", "id": marking_id, **fields}


def granular(ref: str, selectors: list[str] | None = None) -> dict[str, Any]:
    return {"marking_ref": ref, "selectors": selectors or ["pattern"]}


def resolve(*objects: Any) -> Resolved | Uninterpretable:
    objs = list(objects)
    ind = next(o for o in objs if isinstance(o, dict) and o.get("type") == "indicator")
    return resolve_report_markings(marking_index(objs), ind, objs)


def tlp_of(*objects: Any) -> TLP | None:
    outcome = resolve(*objects)
    assert isinstance(outcome, Resolved), outcome
    return outcome.tlp


def held(*objects: Any) -> str:
    outcome = resolve(*objects)
    assert isinstance(outcome, Uninterpretable), outcome
    return outcome.reason


# --- what is understood -------------------------------------------------------------------------------


def test_unmarked_is_none_so_the_caller_applies_the_default() -> None:
    assert resolve(indicator()) == Resolved(None, None)
    assert resolve(indicator(object_marking_refs=[], granular_markings=[])) == Resolved(None, None)


@pytest.mark.parametrize("level", list(TLP), ids=lambda t: t.label)
def test_tlp2_standard_ids(level: TLP) -> None:
    assert tlp_of(indicator(object_marking_refs=[level.marking_id])) is level


@pytest.mark.parametrize(
    ("marking_id", "level"),
    [
        (TLP1_WHITE, TLP.CLEAR),
        ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP.GREEN),
        ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP.AMBER),
        (TLP1_RED, TLP.RED),
        (OPENCTI_AMBER_STRICT, TLP.AMBER_STRICT),
    ],
    ids=["tlp1-white-is-clear", "tlp1-green", "tlp1-amber", "tlp1-red", "opencti-amber-strict"],
)
def test_tlp1_and_opencti_ids(marking_id: str, level: TLP) -> None:
    assert tlp_of(indicator(object_marking_refs=[marking_id])) is level


def test_the_standard_objects_in_the_bundle_mean_what_their_ids_mean() -> None:
    tlp1_white = definition(TLP1_WHITE, definition_type="tlp", name="TLP:WHITE", definition={"tlp": "white"})
    assert (
        tlp_of(TLP.RED.marking_definition(), indicator(object_marking_refs=[TLP.RED.marking_id])) is TLP.RED
    )
    assert tlp_of(tlp1_white, indicator(object_marking_refs=[TLP1_WHITE])) is TLP.CLEAR
    bare = definition(TLP1_RED)  # the standard id, stating nothing: the standard meaning
    assert tlp_of(bare, indicator(object_marking_refs=[TLP1_RED])) is TLP.RED


@pytest.mark.parametrize(
    "fields",
    [
        {"definition_type": "TLP", "definition": {"TLP": "RED"}},  # OpenCTI 4
        {"definition_type": "tlp", "definition": {"tlp": "red"}},  # STIX 2.1 TLP 1.0 shape
        {"definition_type": "Tlp", "definition": {"tlp": "Red"}},
        {"definition_type": "tlp", "definition": {"TLP": "TLP:RED"}},
        {"x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:RED"},
        {"x_opencti_definition_type": "tlp", "x_opencti_definition": "tlp:red"},
        {"extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "red"}}},
        {"name": "TLP:RED"},
        {"name": "tlp:red"},
        {  # what OpenCTI 6 exports: every statement, all agreeing
            "name": "TLP:RED",
            "definition_type": "TLP",
            "definition": {"TLP": "TLP:RED"},
            "x_opencti_definition_type": "TLP",
            "x_opencti_definition": "TLP:RED",
        },
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())[:60],
)
def test_custom_id_defined_as_red_in_the_bundle_is_red(fields: dict[str, Any]) -> None:
    assert tlp_of(definition(**fields), indicator(object_marking_refs=[CUSTOM])) is TLP.RED


def test_custom_amber_strict_by_name_or_extension() -> None:
    by_name = definition(name="tlp:amber+strict")
    assert tlp_of(by_name, indicator(object_marking_refs=[CUSTOM])) is TLP.AMBER_STRICT
    ext = {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}
    assert tlp_of(definition(extensions=ext), indicator(object_marking_refs=[CUSTOM])) is TLP.AMBER_STRICT


def test_a_name_that_is_only_a_label_does_not_override_the_definition() -> None:
    ours = definition(definition_type="tlp", name="TLP:AMBER (ours)", definition={"tlp": "amber"})
    assert tlp_of(ours, indicator(object_marking_refs=[CUSTOM])) is TLP.AMBER


def test_granular_red_on_the_indicator_is_red() -> None:
    ind = indicator(
        object_marking_refs=[TLP.GREEN.marking_id], granular_markings=[granular(TLP.RED.marking_id)]
    )
    assert tlp_of(ind) is TLP.RED


def test_granular_language_marking_is_not_an_access_marking() -> None:
    ind = indicator(granular_markings=[{"lang": "de", "selectors": ["description"]}])
    assert resolve(ind) == Resolved(None, None)


def test_marking_only_on_the_sco_applies() -> None:
    assert tlp_of(indicator(), rel(), sco(object_marking_refs=[TLP.RED.marking_id])) is TLP.RED
    # the relationship may point either way; granular markings and custom definitions on the SCO count too
    assert tlp_of(indicator(), rel(SCO, IND), sco(object_marking_refs=[TLP.RED.marking_id])) is TLP.RED
    assert tlp_of(indicator(), rel(), sco(granular_markings=[granular(TLP1_RED, ["value"])])) is TLP.RED
    red = definition(definition_type="TLP", definition={"TLP": "RED"})
    assert tlp_of(red, indicator(), rel(), sco(object_marking_refs=[CUSTOM])) is TLP.RED


def test_marking_only_on_the_relationship_applies() -> None:
    assert tlp_of(indicator(), rel(object_marking_refs=[TLP.AMBER.marking_id]), sco()) is TLP.AMBER
    assert tlp_of(indicator(), rel(granular_markings=[granular(TLP1_RED, ["description"])])) is TLP.RED


def test_an_unrelated_sco_does_not_mark_the_indicator() -> None:
    assert tlp_of(indicator(), sco(object_marking_refs=[TLP.RED.marking_id])) is None


def test_a_domain_object_at_the_other_end_does_not_mark_the_indicator() -> None:
    actor = {"type": "threat-actor", "id": SCO, "name": "x", "object_marking_refs": [TLP.RED.marking_id]}
    assert tlp_of(indicator(), rel(IND, SCO, relationship_type="indicates"), actor) is None


def test_two_markings_most_restrictive_wins() -> None:
    assert tlp_of(indicator(object_marking_refs=[TLP.GREEN.marking_id, TLP.AMBER.marking_id])) is TLP.AMBER
    across = (
        indicator(object_marking_refs=[TLP.AMBER.marking_id]),
        rel(object_marking_refs=[TLP.GREEN.marking_id]),
        sco(object_marking_refs=[OPENCTI_AMBER_STRICT]),
    )
    assert tlp_of(*across) is TLP.AMBER_STRICT


@pytest.mark.parametrize(
    "pap_marking",
    [
        [],  # the OASIS PAP extension's id, no definition in the bundle
        [definition(OASIS_PAP_RED, name="PAP:RED", extensions={PAP_EXTENSION_ID: {"pap": "red"}})],
        [definition(OPENCTI_PAP_RED, definition_type="PAP", definition={"PAP": "PAP:RED"})],
    ],
)
def test_pap_red_alongside_tlp_green_is_green_with_pap_red(pap_marking: list[dict[str, Any]]) -> None:
    refs = [TLP.GREEN.marking_id, pap_marking[0]["id"] if pap_marking else OASIS_PAP_RED]
    assert resolve(*pap_marking, indicator(object_marking_refs=refs)) == Resolved(TLP.GREEN, "red")


@pytest.mark.parametrize(
    "fields",
    [
        {"definition_type": "PAP", "definition": {"PAP": "RED"}},
        {"definition_type": "pap", "definition": {"pap": "pap:red"}},  # OpenCTI 6 export
        {"x_opencti_definition_type": "PAP", "x_opencti_definition": "PAP:RED"},
        {"name": "PAP:RED"},
        {"extensions": {PAP_EXTENSION_ID: {"extension_type": "property-extension", "pap": "red"}}},
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())[:60],
)
def test_custom_pap_definitions(fields: dict[str, Any]) -> None:
    assert resolve(definition(**fields), indicator(object_marking_refs=[CUSTOM])) == Resolved(None, "red")


def test_pap_only_leaves_tlp_to_the_default_and_the_most_restrictive_pap_wins() -> None:
    outcome = resolve(
        indicator(object_marking_refs=[OASIS_PAP_GREEN]), rel(object_marking_refs=[OPENCTI_PAP_AMBER])
    )
    assert outcome == Resolved(None, "amber")
    assert resolve(indicator(object_marking_refs=[OASIS_PAP_WHITE])) == Resolved(None, "clear")


def test_a_resolver_given_another_list_reads_that_lists_relationships() -> None:
    objects = [indicator(), rel(), sco(object_marking_refs=[TLP1_RED])]
    assert resolve_report_markings(marking_index([]), objects[0], objects) == Resolved(TLP.RED, None)


def test_non_objects_in_the_bundle_are_skipped() -> None:
    assert tlp_of("junk", 3, None, indicator(object_marking_refs=[TLP1_RED]), ["x"]) is TLP.RED


# --- what holds the report ----------------------------------------------------------------------------


def test_unknown_marking_id_is_uninterpretable_and_named() -> None:
    reason = held(indicator(object_marking_refs=[TLP.GREEN.marking_id, UNKNOWN]))
    assert UNKNOWN in reason and "object_marking_refs[1]" in reason and IND in reason
    assert "TLP:RED" in held(indicator(object_marking_refs=["TLP:RED"]))  # a name is not a marking ref


@pytest.mark.parametrize(
    "fields",
    [
        {"definition_type": "statement", "definition": {"statement": "Copyright 2026, do not share"}},
        {"definition_type": "Statement", "definition": {"statement": "Internal only"}},
        {"x_opencti_definition_type": "statement", "x_opencti_definition": "INTERNAL ONLY"},
    ],
)
def test_statement_marking_is_uninterpretable(fields: dict[str, Any]) -> None:
    reason = held(definition(**fields), indicator(object_marking_refs=[CUSTOM]))
    assert "statement" in reason and CUSTOM in reason


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"definition_type": "acs", "definition": {"acs": "x"}}, "not TLP or PAP"),
        ({"definition_type": 7}, "not TLP or PAP"),
        ({"name": "Internal distribution only"}, "states no TLP or PAP level"),
        ({}, "states no TLP or PAP level"),
        ({"extensions": {"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce": {}}}, "states no TLP"),
        ({"definition_type": "TLP", "definition": {"TLP": "BLACK"}}, "'BLACK' is not a TLP level"),
        ({"x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:BLACK"}, "not a TLP level"),
        ({"name": "TLP:BLACK"}, "not a TLP level"),
        ({"name": "TLP:AMBER (ours)"}, "not a TLP level"),
        ({"definition_type": "tlp", "definition": {"tlp": 4}}, "not a TLP level"),
        ({"definition_type": "tlp", "definition": {"tlp": TLP1_RED}}, "not a TLP level"),
        ({"definition_type": "tlp"}, "states no level"),
        ({"definition_type": "tlp", "definition": {"color": "red"}}, "states no level"),
        ({"extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension"}}}, "no 'tlp_2_0'"),
        ({"extensions": {TLP2_EXTENSION_ID: {"tlp_2_0": "purple"}}}, "not a TLP level"),
        ({"definition_type": "PAP", "definition": {"PAP": "PAP:BLACK"}}, "not a PAP level"),
        ({"extensions": GREEN_EXT, "definition_type": "tlp", "definition": {"tlp": "red"}}, "conflicting"),
        ({"definition_type": "tlp", "definition": {"tlp": "green", "TLP": "red"}}, "conflicting TLP"),
        ({"definition_type": "tlp", "definition": {"tlp": "amber"}, "name": "TLP:CLEAR"}, "conflicting TLP"),
        ({"definition_type": "pap", "definition": {"pap": "red"}, "name": "TLP:RED"}, "both a TLP"),
        ({"name": "TLP:GREEN", "extensions": {PAP_EXTENSION_ID: {"pap": "green"}}}, "both a TLP and a PAP"),
    ],
)
def test_a_definition_that_cannot_be_read_is_uninterpretable(fields: dict[str, Any], why: str) -> None:
    reason = held(definition(**fields), indicator(object_marking_refs=[CUSTOM]))
    assert why in reason and CUSTOM in reason


def test_a_definition_claiming_a_standard_tlp_id_but_stating_another_level_is_uninterpretable() -> None:
    forged = definition(TLP.CLEAR.marking_id, extensions={TLP2_EXTENSION_ID: {"tlp_2_0": "red"}})
    reason = held(forged, indicator(object_marking_refs=[TLP.CLEAR.marking_id]))
    assert "claims the standard id of TLP:CLEAR" in reason and "TLP:RED" in reason
    as_statement = definition(TLP1_WHITE, definition_type="statement", definition={"statement": "x"})
    assert "statement" in held(as_statement, indicator(object_marking_refs=[TLP1_WHITE]))
    pap_as_tlp = definition(OASIS_PAP_RED, name="TLP:CLEAR")
    assert "claims the standard id of PAP:RED" in held(
        pap_as_tlp, indicator(object_marking_refs=[OASIS_PAP_RED])
    )


def test_a_remembered_definition_never_stands_for_another_with_the_same_id() -> None:
    # The meaning of a definition is remembered by its exact text: the genuine one first, then a forgery
    # of its id stating RED, then a custom id meaning GREEN and the same id meaning RED, in both orders.
    genuine = definition(TLP.GREEN.marking_id, extensions=GREEN_EXT)
    forged = definition(TLP.GREEN.marking_id, extensions={TLP2_EXTENSION_ID: {"tlp_2_0": "red"}})
    refs = [TLP.GREEN.marking_id]
    for order in ((genuine, forged), (forged, genuine)):
        for _ in range(2):
            for obj in order:
                outcome = resolve(obj, indicator(object_marking_refs=refs))
                if obj is genuine:
                    assert outcome == Resolved(TLP.GREEN, None)
                else:
                    assert isinstance(outcome, Uninterpretable) and "claims the standard id" in outcome.reason
    for _ in range(2):
        assert tlp_of(definition(name="TLP:GREEN"), indicator(object_marking_refs=[CUSTOM])) is TLP.GREEN
        assert tlp_of(definition(name="TLP:RED"), indicator(object_marking_refs=[CUSTOM])) is TLP.RED
        assert tlp_of(definition(name="TLP:GREEN", x=1), indicator(object_marking_refs=[CUSTOM])) is TLP.GREEN


def test_an_id_defined_twice_with_different_meanings_is_uninterpretable() -> None:
    green, red = definition(name="TLP:GREEN"), definition(name="TLP:RED")
    assert "more than once" in held(green, red, indicator(object_marking_refs=[CUSTOM]))
    assert tlp_of(green, definition(name="tlp:green"), indicator(object_marking_refs=[CUSTOM])) is TLP.GREEN


def test_unknown_marking_on_the_sco_is_uninterpretable_and_names_the_sco() -> None:
    reason = held(indicator(), rel(), sco(object_marking_refs=[UNKNOWN]))
    assert SCO in reason and UNKNOWN in reason


def test_statement_on_the_relationship_is_uninterpretable() -> None:
    statement = definition(definition_type="statement", definition={"statement": "x"})
    reason = held(statement, indicator(), rel(object_marking_refs=[CUSTOM]), sco())
    assert REL in reason and "statement" in reason


@pytest.mark.parametrize("refs", ["x", [1], None, {"0": TLP1_RED}, [TLP1_RED, None]])
def test_malformed_ref_list_is_uninterpretable(refs: Any) -> None:
    assert "'object_marking_refs' must be a list" in held(indicator(object_marking_refs=refs))
    assert "'object_marking_refs' must be a list" in held(indicator(), rel(), sco(object_marking_refs=refs))


@pytest.mark.parametrize(
    "markings",
    [
        "x",
        None,
        ["x"],
        [{"selectors": ["pattern"]}],  # neither marking_ref nor lang
        [{"marking_ref": 3, "selectors": ["pattern"]}],
        [{"marking_ref": TLP1_RED, "lang": "en", "selectors": ["pattern"]}],
        [{"marking_ref": TLP1_RED}],
        [{"marking_ref": TLP1_RED, "selectors": []}],
        [{"marking_ref": TLP1_RED, "selectors": "pattern"}],
        [{"lang": 5, "selectors": ["pattern"]}],
        [{"lang": "en"}],
    ],
)
def test_malformed_granular_marking_is_uninterpretable(markings: Any) -> None:
    assert "granular_markings" in held(indicator(granular_markings=markings))


def test_granular_unknown_marking_is_uninterpretable() -> None:
    reason = held(indicator(granular_markings=[granular(TLP1_RED), granular(UNKNOWN)]))
    assert "granular_markings[1].marking_ref" in reason and UNKNOWN in reason


def test_a_huge_ref_does_not_make_a_huge_reason() -> None:
    assert len(held(indicator(object_marking_refs=["marking-definition--" + "a" * 100_000]))) < 400


# --- invariants -----------------------------------------------------------------------------------------

OBJECT_TYPES = ["marking-definition", "relationship", "domain-name", "indicator", "threat-actor"]
json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=12,
)
marking_values = st.sampled_from([TLP1_RED, TLP.GREEN.marking_id, CUSTOM, UNKNOWN, OASIS_PAP_RED, IND, SCO])
MARKING_FIELDS = ["object_marking_refs", "granular_markings", "source_ref", "target_ref", "id", "type"]
DEFINITION_FIELDS = ["definition_type", "definition", "x_opencti_definition_type", "x_opencti_definition"]
field_names = st.sampled_from([*MARKING_FIELDS, *DEFINITION_FIELDS, "name", "extensions"])
loose_objects = st.lists(
    st.dictionaries(field_names, json | marking_values | st.lists(marking_values, max_size=3), max_size=5)
    | st.fixed_dictionaries({"type": st.sampled_from(OBJECT_TYPES), "id": marking_values}),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(loose_objects, st.dictionaries(field_names, json | st.lists(marking_values, max_size=3), max_size=4))
def test_never_raises_on_any_json(objects: list[Any], extra: dict[str, Any]) -> None:
    ind = {**extra, "type": "indicator", "id": IND}
    objs = [*objects, ind]
    outcome = resolve_report_markings(marking_index(objs), ind, objs)
    assert isinstance(outcome, Resolved | Uninterpretable)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(list(TLP)), min_size=1, max_size=5),
    st.lists(st.sampled_from(list(TLP)), max_size=3),
)
def test_the_most_restrictive_standard_tlp_wins_wherever_it_is(on_ind: list[TLP], on_sco: list[TLP]) -> None:
    objects = (
        indicator(object_marking_refs=[t.marking_id for t in on_ind]),
        rel(),
        sco(object_marking_refs=[t.marking_id for t in on_sco]),
    )
    assert tlp_of(*objects) is max(on_ind + on_sco)
