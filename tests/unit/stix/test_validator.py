"""Everything scamshare emits passes the OASIS validator (``stix2-validator``), with our schemas applied.

The validator runs with every check on, ``enforce_refs`` on and ``schema_dir`` = the repository's
``schemas/``, where it finds ``<sco-type>.json`` for the new SCO types and ``<extension id>.json`` for the
Indicator property extension. No errors are allowed. Warnings ("SHOULD" checks) are allowed only from this
list, each deliberate:

* {103} uuid-check, "not a valid UUIDv4 ID": STIX recommends UUIDv4 for SDOs/SROs; our Indicator,
  Relationship, identity and extension-definition ids are UUIDv5 on purpose (the same value reported twice
  must merge). The validator also says it for the new SCO types, which correctly use UUIDv5: it only knows
  the built-in SCO types, so it takes a custom type for an SDO.
* {202} relationship-types: the spec lists observed-data as the suggested target of Indicator ``based-on``;
  an SCO is permitted and is what we point at.
* {244} account-type: ``user-account.account_type`` is an open vocabulary; platforms outside account-type-ov
  (telegram, whatsapp, ...) are allowed values.

``strict`` mode would turn those warnings into errors, so it is not used; ``strict_types`` and
``strict_properties`` forbid custom types and properties, which new SCO types are by definition.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance

from pipeline.canon import NEW_SCO_EXTENSION_IDS, SCO_TYPES, Canonical, simple
from pipeline.stix.build import indicator_bundle, report_bundle, sco_object
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.tlp import TLP
from pipeline.wire.schemas import definitions_bundle

from .samples import CANONICALS, NOW

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"
OPTIONS = ValidationOptions(version="2.1", schema_dir=str(SCHEMAS_DIR), enforce_refs=True)
ACCOUNT_TYPE_OV = {
    "facebook", "ldap", "nis", "openid", "radius", "skype", "tacacs", "twitter", "unix", "windows-local",
    "windows-domain",
}  # fmt: skip
DETERMINISTIC_ID_TYPES = {
    "indicator",
    "relationship",
    "identity",
    "extension-definition",
    *NEW_SCO_EXTENSION_IDS,
}
WARNING_RE = re.compile(r"^(?P<ref>[a-z0-9-]+--[0-9a-f-]{36}): \{(?P<code>\d+)\} (?P<text>.*)$", re.DOTALL)


def _allowed(code: str, obj: dict[str, Any], objects: dict[str, dict[str, Any]]) -> bool:
    if code == "103":
        return obj["type"] in DETERMINISTIC_ID_TYPES
    if code == "202":
        target = objects.get(obj.get("target_ref", ""), {})
        return obj.get("relationship_type") == "based-on" and target.get("type") in SCO_TYPES.values()
    if code == "244":
        return obj["type"] == "user-account" and obj["account_type"] not in ACCOUNT_TYPE_OV
    return False


def unexpected_warnings(bundle: dict[str, Any], warnings: list[str]) -> list[str]:
    """The warnings that are not on the module docstring's list."""
    objects = {obj["id"]: obj for obj in bundle.get("objects", [bundle])}
    bad = []
    for warning in map(str, warnings):
        m = WARNING_RE.match(warning)
        obj = objects.get(m["ref"]) if m else None
        if m is None or obj is None or not _allowed(m["code"], obj, objects):
            bad.append(warning)
    return bad


def assert_valid(bundle: dict[str, Any]) -> None:
    result = validate_instance(bundle, OPTIONS)
    assert [str(e) for e in result.errors] == []
    assert result.is_valid
    assert unexpected_warnings(bundle, result.warnings) == []


def errors_of(obj: dict[str, Any], options: ValidationOptions = OPTIONS) -> list[str]:
    return [str(e) for e in validate_instance(obj, options).errors]


CASES = [(key, tlp) for key in sorted(CANONICALS) for tlp in TLP]


@pytest.mark.parametrize(("key", "tlp"), CASES, ids=[f"{k}-{t.label}" for k, t in CASES])
def test_report_bundle_is_valid(key: str, tlp: TLP) -> None:
    c = CANONICALS[key]
    assert_valid(
        report_bundle(
            c,
            producer="acme-telco",
            now=NOW,
            tlp=tlp,
            confidence=75,
            scam_types=["investment", "bank-impersonation"],
            description="Reported by a customer.",
            valid_from=NOW - timedelta(days=1),
            country_hint="US",
            raw_value=f" {c.value} ",
            revoked=tlp is TLP.RED,
        )
    )


@pytest.mark.parametrize("key", sorted(CANONICALS))
def test_minimal_report_bundle_is_valid(key: str) -> None:
    assert_valid(report_bundle(CANONICALS[key], producer="p", now=NOW))


@pytest.mark.parametrize(("key", "tlp"), CASES, ids=[f"{k}-{t.label}" for k, t in CASES])
def test_indicator_bundle_is_valid(key: str, tlp: TLP) -> None:
    revoked = tlp in (TLP.GREEN, TLP.AMBER_STRICT)  # both states for every kind
    assert_valid(
        indicator_bundle(
            CANONICALS[key],
            version=7 if revoked else 6,
            created=NOW,
            modified=NOW + timedelta(hours=3),
            valid_from=NOW,
            valid_until=NOW + timedelta(days=30),
            revoked=revoked,
            confidence=60,
            tlp=tlp,
            scam_types=["romance"],
            score=0 if revoked else 100,
            reporter_count=4,
            report_count=9,
            sightings={"true_positive": 3, "false_positive": 999_999_999, "blocked": 0},
            first_reported=NOW - timedelta(days=10),
            last_reported=NOW,
            enrichment={"country": "US", "asn": 64500, "tags": ["a", "b"], "nested": {"x": None}},
            allowlisted=revoked,
        )
    )


def test_indicator_bundle_with_clamped_times_is_valid() -> None:
    assert_valid(
        indicator_bundle(
            CANONICALS["phone"],
            version=1,
            created=NOW,
            modified=NOW - timedelta(seconds=1),
            valid_from=NOW,
            valid_until=NOW,
            revoked=False,
            confidence=0,
            tlp=TLP.CLEAR,
            scam_types=[],
            score=50,
            reporter_count=1,
            report_count=1,
            sightings={},
            first_reported=NOW,
            last_reported=NOW,
            enrichment={},
        )
    )


def test_extension_definitions_are_valid() -> None:
    assert_valid(definitions_bundle())


@pytest.mark.parametrize("tlp", list(TLP), ids=lambda t: t.label)
def test_tlp_marking_definitions_are_valid(tlp: TLP) -> None:
    result = validate_instance(tlp.marking_definition(), OPTIONS)
    assert result.is_valid, [str(e) for e in result.errors]
    assert [str(w) for w in result.warnings] == []


# --- the schemas are really applied ------------------------------------------------------------------


def _bad_sco(sco_type: str, **props: Any) -> dict[str, Any]:
    c = Canonical(kind="phone", value="x", props={}, id_props={"value": "x"}, pattern_props={"value": "x"})
    obj = sco_object(c)
    obj.update(type=sco_type, id=f"{sco_type}--{c.sco_id.split('--')[1]}", **props)
    obj["extensions"] = {NEW_SCO_EXTENSION_IDS[sco_type]: {"extension_type": "new-sco"}}
    return obj


def test_phone_number_schema_is_applied() -> None:
    bad = _bad_sco("phone-number", value="0415 555 000")
    assert errors_of(bad, ValidationOptions(version="2.1")) == []  # the bundled core schema alone passes it
    assert any("does not match" in e for e in errors_of(bad))


def test_new_sco_without_its_extension_is_an_error() -> None:
    sco = sco_object(CANONICALS["phone"])
    del sco["extensions"]
    assert any("'extensions' is a required property" in e for e in errors_of(sco))


def test_bank_account_needs_iban_or_number_and_country() -> None:
    assert errors_of(_bad_sco("bank-account", account_number="123"))
    assert errors_of(_bad_sco("bank-account", iban="gb82 west"))
    assert errors_of(_bad_sco("bank-account", account_number="123", country="AU")) == []


def test_wallet_value_has_no_whitespace() -> None:
    assert errors_of(_bad_sco("cryptocurrency-wallet", value="bc1q abc"))
    assert errors_of(_bad_sco("cryptocurrency-wallet", value="bc1qabc", chain="Bitcoin"))


def test_imei_schema_is_applied() -> None:
    assert errors_of(_bad_sco("imei", value="352099001761481")) == []
    for value in ("35209900176148", "35-209900-176148-1", "3520990017614823"):
        bad = _bad_sco("imei", value=value)
        assert errors_of(bad, ValidationOptions(version="2.1")) == []  # the core schema alone passes it
        assert any("does not match" in e for e in errors_of(bad))


def test_imei_bundles_carry_the_imei_extension() -> None:
    bundle = report_bundle(CANONICALS["imei"], producer="telco-a", now=NOW)
    assert_valid(bundle)
    sco = bundle["objects"][1]
    assert sco["type"] == "imei"
    assert sco["extensions"] == {NEW_SCO_EXTENSION_IDS["imei"]: {"extension_type": "new-sco"}}
    assert bundle["objects"][0]["pattern"] == "[imei:value = '352099001761481']"


def _indicator_with(ext: dict[str, Any]) -> dict[str, Any]:
    bundle = report_bundle(simple("domain", "scam.example"), producer="p", now=NOW)
    indicator = bundle["objects"][0]
    indicator["extensions"][INDICATOR_EXTENSION_ID].update(ext)
    return indicator


@pytest.mark.parametrize(
    "ext",
    [
        {"scam_type": ["typo"]},
        {"score": 101},
        {"score": -1},
        {"country_hint": "usa"},
        {"scam_types": []},
        {"scam_types": ["a", "a"]},
        {"sightings": {"blocked": 1}},
        {"sightings": {"true_positive": 0, "false_positive": 0, "blocked": 1_000_000_000}},
        {"first_reported": "2026-11-22 10:00:00"},
        {"allowlisted": "no"},
        {"extension_type": "new-sco"},
    ],
    ids=str,
)
def test_indicator_extension_schema_is_applied(ext: dict[str, Any]) -> None:
    assert errors_of(_indicator_with({}), OPTIONS) == []
    assert errors_of(_indicator_with(ext)) != []


# --- the warning filter is not a blanket pass ----------------------------------------------------------


def test_documented_warnings_do_occur() -> None:
    bundle = report_bundle(CANONICALS["social"], producer="p", now=NOW)
    result = validate_instance(bundle, OPTIONS)
    codes = {m["code"] for w in result.warnings if (m := WARNING_RE.match(str(w)))}
    assert codes == {"103", "202", "244"}
    assert unexpected_warnings(bundle, result.warnings) == []


def test_other_warnings_are_caught() -> None:
    bundle = report_bundle(CANONICALS["domain"], producer="p", now=NOW)
    del bundle["objects"][0]["description"]  # "name and description SHOULD be present"
    bundle["objects"][0]["indicator_types"] = ["scam"]  # not in indicator-type-ov
    result = validate_instance(bundle, OPTIONS)
    assert result.is_valid
    assert len(unexpected_warnings(bundle, result.warnings)) == 2
