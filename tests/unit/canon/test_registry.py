"""The kind registry: every registered kind is complete, and a declaration missing a piece is refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pipeline.canon import KIND_BY_SCO_TYPE, KINDS, NEW_SCO_EXTENSION_IDS, REGISTRY, SCO_TYPES, Kind
from pipeline.canon import imei as imei_module
from pipeline.canon import phone as phone_module
from pipeline.canon.registry import NO_ENRICHERS, STIX_SCO_TYPES, KindError, build_registry, value_input
from pipeline.processors.enrich import EnrichConfig, default_enrichers, enrich
from pipeline.processors.score import DEFAULT_HALF_LIFE_DAYS, ScoreModel
from pipeline.processors.validate import observable_input
from pipeline.producers.misp_input import MISP_TYPES
from pipeline.producers.records import KIND_ALIASES, normalise_kind
from pipeline.stix.build import sco_object
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, SIGHTING_EXTENSION_ID, extension_definition_id
from pipeline.stix.pattern import parse_simple_pattern
from pipeline.wire.schemas import all_schemas
from tests.unit.canon.helpers import ok

ALL = [pytest.param(k, id=k.name) for k in REGISTRY]


# --- the derived public names -----------------------------------------------------------------------------


def test_public_names_are_derived_from_the_registry() -> None:
    assert KINDS == ("phone", "domain", "url", "email", "wallet", "bank-account", "social", "imei")
    assert SCO_TYPES["imei"] == "imei"
    assert SCO_TYPES["social"] == "user-account"
    assert {v: k for k, v in SCO_TYPES.items()} == KIND_BY_SCO_TYPE
    assert set(DEFAULT_HALF_LIFE_DAYS) == set(KINDS)


def test_extension_ids_of_existing_types_are_unchanged() -> None:
    assert NEW_SCO_EXTENSION_IDS == {
        "phone-number": "extension-definition--d30194a7-a8c3-5fe0-b2da-c956ee71d7e2",
        "cryptocurrency-wallet": "extension-definition--52547324-1c9b-539b-9c9b-8eee55e46123",
        "bank-account": "extension-definition--233895fc-df61-542c-9816-7d5023a6536e",
        "imei": "extension-definition--c1deeb50-0c16-528e-a614-9b5f7e22cea7",
    }
    # The two property extensions follow the same rule, written out where they are defined.
    assert extension_definition_id("indicator") == INDICATOR_EXTENSION_ID
    assert extension_definition_id("sighting") == SIGHTING_EXTENSION_ID


def test_half_lives() -> None:
    assert DEFAULT_HALF_LIFE_DAYS == {
        "phone": 30, "domain": 180, "url": 14, "email": 90, "wallet": 365, "bank-account": 180,
        "social": 60, "imei": 180,
    }  # fmt: skip


def test_aliases_and_misp_types_keep_their_readings() -> None:
    assert KIND_ALIASES["phone-number"] == "phone"
    assert KIND_ALIASES["btc"] == "wallet"
    assert KIND_ALIASES["imeisv"] == "imei"
    assert MISP_TYPES["prtn"] == "phone"
    assert MISP_TYPES["btc"] == "btc"
    assert MISP_TYPES["imei"] == "imei"


# --- every kind is complete -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL)
def test_example_canonicalises_with_the_declared_properties(kind: Kind) -> None:
    c = ok(kind.name, kind.example)
    assert c.sco_type == kind.sco_type
    assert set(c.id_props) in [set(p) for p in kind.id_properties]
    assert set(c.pattern_props) in [set(p) for p in kind.pattern_properties]
    assert c.sco_extension_id == kind.extension_id


@pytest.mark.parametrize("kind", ALL)
def test_the_pattern_reads_back_through_the_stix_input(kind: Kind) -> None:
    c = ok(kind.name, kind.example)
    comparisons = parse_simple_pattern(c.pattern)
    assert isinstance(comparisons, list)
    target = observable_input(comparisons)
    assert isinstance(target, tuple), target
    assert target[0] == kind.name
    assert ok(kind.name, target[1]).sco_id == c.sco_id


@pytest.mark.parametrize("kind", ALL)
def test_names_reach_the_kind(kind: Kind) -> None:
    assert normalise_kind(kind.name) == kind.name
    assert normalise_kind(kind.sco_type) == kind.name
    for alias in kind.aliases:
        assert normalise_kind(alias) == kind.name
    for read_as in kind.misp_types.values():
        assert normalise_kind(read_as) == kind.name


@pytest.mark.parametrize("kind", ALL)
def test_enrichers_apply_as_declared(kind: Kind) -> None:
    enrichers = default_enrichers(EnrichConfig(), plugins=False)
    applying = {e.name for e in enrichers if kind.name in e.kinds}
    assert applying == set(kind.enricher_names)
    out = enrich(ok(kind.name, kind.example), enrichers)
    if "facts" in applying:
        assert out  # every kind with facts establishes at least one


@pytest.mark.parametrize("kind", ALL)
def test_score_decays_with_the_declared_half_life(kind: Kind) -> None:
    assert ScoreModel().half_life_ms(kind.name) == kind.half_life_days * 86_400_000


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.name) for k in REGISTRY if k.new_sco is not None])
def test_our_sco_types_have_a_schema_their_sco_passes(kind: Kind) -> None:
    assert kind.sco_type not in STIX_SCO_TYPES
    schema = all_schemas()[kind.sco_type]
    c = ok(kind.name, kind.example)
    assert list(Draft202012Validator(schema).iter_errors(sco_object(c))) == []


# --- a declaration missing a piece is refused -------------------------------------------------------------


def _refused(**changes: Any) -> str:
    broken = dataclasses.replace(imei_module.DECLARATION, **changes)
    with pytest.raises(KindError) as info:
        build_registry([*[k for k in REGISTRY if k.name != "imei"], broken])
    return str(info.value)


def test_the_registry_itself_is_valid() -> None:
    assert build_registry(list(REGISTRY)).names == KINDS


def test_a_kind_without_a_half_life_cannot_be_declared() -> None:
    fields = {f.name: getattr(imei_module.DECLARATION, f.name) for f in dataclasses.fields(Kind)}
    del fields["half_life_days"]
    with pytest.raises(TypeError, match="half_life_days"):
        Kind(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"half_life_days": 0}, "half_life_days must be a positive number of days"),
        ({"half_life_days": float("nan")}, "half_life_days must be a positive number of days"),
        ({"enrichers": ()}, "enrichers is empty: name those that apply"),
        ({"enrichers": ("facts", "whois")}, "unknown enricher(s) ['whois']"),
        ({"new_sco": None}, "'imei' is not a STIX 2.1 SCO type: declare new_sco"),
        ({"id_properties": ()}, "id_properties must list at least one non-empty set"),
        ({"pattern_properties": (("serial",),)}, "pattern properties ['serial'] are not all among"),
        ({"id_properties": (("value", "tac"),)}, "schema's x-stix-id-contributing-properties must equal"),
        ({"aliases": ("tel",)}, "name or alias 'tel' is already 'phone''s"),
        ({"misp_types": {"phone-number": "imei"}}, "MISP type 'phone-number' is already 'phone''s"),
        ({"misp_types": {"imei": "handset"}}, "is read as 'handset', which is neither its name nor an alias"),
        ({"sco_type": "phone-number"}, "SCO type 'phone-number' is already 'phone''s"),
        ({"sco_type": "Imei"}, "is not a STIX type name"),
        ({"example": ""}, "example must be a raw value"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_an_incomplete_kind_is_refused_with_the_fix(changes: dict[str, Any], message: str) -> None:
    reason = _refused(**changes)
    assert reason.startswith("invalid kind registry: ")
    assert message in reason


def test_a_stix_type_takes_no_new_sco() -> None:
    domain_like = dataclasses.replace(
        imei_module.DECLARATION, name="host", sco_type="domain-name", aliases=("domain-name",), misp_types={}
    )
    with pytest.raises(KindError, match=r"'domain-name' is a STIX 2\.1 SCO type: it takes no new-sco"):
        build_registry([domain_like])


def test_no_enrichers_is_an_explicit_choice() -> None:
    quiet = dataclasses.replace(phone_module.DECLARATION, enrichers=NO_ENRICHERS)
    assert quiet.enricher_names == ()
    registry = build_registry([quiet])
    assert registry.enriched_by("facts") == frozenset()


def test_every_problem_is_listed_at_once() -> None:
    reason = _refused(half_life_days=-1, enrichers=(), stix_input=value_input("imei"), example="")
    assert reason.count("kind 'imei':") == 3


def test_score_model_needs_a_half_life_for_every_kind() -> None:
    with pytest.raises(ValueError, match=r"no half-life for \['imei'\]"):
        ScoreModel(half_life_days={k: 30 for k in KINDS if k != "imei"})
    with pytest.raises(KeyError, match="no half-life for indicator kind 'fax'"):
        ScoreModel().half_life_ms("fax")


def test_an_unknown_kind_lookup_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown indicator kind 'fax'; expected one of phone, domain"):
        REGISTRY["fax"]
