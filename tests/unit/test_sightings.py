"""Sighting messages: build, parse (never raises), and the OASIS validator accepts what we emit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance

from pipeline.stix.ids import SIGHTING_EXTENSION_ID, producer_identity_id
from pipeline.stix.times import epoch_ms
from pipeline.wire.envelope import SIGHTING_SPEC
from pipeline.wire.rejected import Rejected
from pipeline.wire.schemas import extension_definitions
from pipeline.wire.sighting import (
    SIGHTING_KINDS,
    ParsedSighting,
    SightingError,
    build_sighting,
    parse_sighting,
)

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
IND = "indicator--2f1e4c8a-0b4e-5b8e-9f57-5f3c2a3d1e00"
SID = "8c1b6a1e-3f0e-4d5a-9b8e-2a7c1d9e4f60"
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
OPTIONS = ValidationOptions(version="2.1", schema_dir=str(SCHEMAS_DIR), enforce_refs=True)


def envelope(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "subscriber": "bank-sg", "indicator_id": IND, "kind": "false-positive", "now": NOW,
        "sighting_id": SID,
    }  # fmt: skip
    return build_sighting(**{**args, **kw})


def test_build_shape() -> None:
    env = envelope(count=3)
    assert (env["spec"], env["sighting_id"], env["subscriber"]) == (SIGHTING_SPEC, SID, "bank-sg")
    s = env["sighting"]
    identity = producer_identity_id("bank-sg")
    assert s["id"] == f"sighting--{SID}"
    assert (s["sighting_of_ref"], s["count"]) == (IND, 3)
    assert s["created_by_ref"] == identity
    assert s["where_sighted_refs"] == [identity]
    assert s["extensions"] == {
        SIGHTING_EXTENSION_ID: {"extension_type": "property-extension", "kind": "false-positive"}
    }


@pytest.mark.parametrize(("given_kind", "internal"), [
    ("true-positive", "true_positive"), ("false_positive", "false_positive"), ("blocked", "blocked"),
])  # fmt: skip
def test_round_trip(given_kind: str, internal: str) -> None:
    parsed = parse_sighting(orjson.dumps(envelope(kind=given_kind, count=7)))
    assert parsed == ParsedSighting(SID, "bank-sg", IND, internal, 7, epoch_ms(NOW))
    assert internal in SIGHTING_KINDS


def test_fresh_ids_by_default() -> None:
    a = build_sighting(subscriber="s", indicator_id=IND, kind="blocked", now=NOW)
    b = build_sighting(subscriber="s", indicator_id=IND, kind="blocked", now=NOW)
    assert a["sighting_id"] != b["sighting_id"]
    assert isinstance(parse_sighting(orjson.dumps(a)), ParsedSighting)


@pytest.mark.parametrize("kw", [
    {"kind": "maybe"}, {"count": 0}, {"count": 1_000_000_000}, {"count": True}, {"subscriber": "Bank SG"},
    {"indicator_id": "domain-name--2f1e4c8a-0b4e-5b8e-9f57-5f3c2a3d1e00"}, {"sighting_id": "x"},
], ids=str)  # fmt: skip
def test_build_refuses(kw: dict[str, Any]) -> None:
    with pytest.raises(SightingError):
        envelope(**kw)


def _mutated(path: list[str], value: Any) -> bytes:
    env = envelope()
    node: Any = env
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return orjson.dumps(env)


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "code"), [
    (["spec"], "scamshare.sighting/2", "bad_envelope"),
    (["subscriber"], "", "bad_envelope"),
    (["sighting_id"], 5, "bad_envelope"),
    (["sighting"], [], "bad_sighting"),
    (["sighting", "type"], "indicator", "bad_sighting"),
    (["sighting", "sighting_of_ref"], "indicator--nope", "bad_sighting"),
    (["sighting", "count"], 0, "bad_sighting"),
    (["sighting", "count"], "1", "bad_sighting"),
    (["sighting", "created_by_ref"], producer_identity_id("someone-else"), "bad_sighting"),
    (["sighting", "extensions"], _DELETE, "bad_sighting"),
    (["sighting", "extensions"], [], "bad_sighting"),
    (["sighting", "extensions", SIGHTING_EXTENSION_ID, "kind"], "true_positive", "bad_sighting"),
    (["sighting", "last_seen"], "yesterday", "bad_sighting"),
], ids=lambda v: str(v)[:40])  # fmt: skip
def test_parse_rejects(path: list[str], value: Any, code: str) -> None:
    outcome = parse_sighting(_mutated(path, value))
    assert isinstance(outcome, Rejected)
    assert outcome.code == code, outcome.reason


def test_parse_rejects_non_json_and_huge() -> None:
    assert isinstance(r := parse_sighting(b"\xff{"), Rejected) and r.code == "not_json"
    assert isinstance(r := parse_sighting(b"[1]"), Rejected) and r.code == "bad_envelope"
    assert isinstance(r := parse_sighting(b" " * 70_000), Rejected) and r.code == "too_large"


@given(st.binary(max_size=300))
def test_parse_never_raises_on_bytes(raw: bytes) -> None:
    assert isinstance(parse_sighting(raw), ParsedSighting | Rejected)


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=10))  # fmt: skip
def test_parse_never_raises_on_json(sighting: Any) -> None:
    env = envelope()
    env["sighting"] = sighting
    assert isinstance(parse_sighting(orjson.dumps(env)), Rejected)


# --- the OASIS validator ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["true-positive", "false-positive", "blocked"])
def test_emitted_sighting_is_valid(kind: str) -> None:
    result = validate_instance(envelope(kind=kind, count=999_999_999)["sighting"], OPTIONS)
    assert [str(e) for e in result.errors] == []
    assert [str(w) for w in result.warnings] == []


def test_sighting_in_a_bundle_with_its_refs_is_valid() -> None:
    sighting = envelope()["sighting"]
    identity = {
        "type": "identity", "spec_version": "2.1", "id": sighting["created_by_ref"],
        "created": sighting["created"], "modified": sighting["created"], "name": "bank-sg",
        "identity_class": "organization",
    }  # fmt: skip
    bundle = {"type": "bundle", "id": f"bundle--{SID}", "objects": [identity, sighting]}
    result = validate_instance(bundle, OPTIONS)
    assert [str(e) for e in result.errors] == []


@pytest.mark.parametrize("ext", [
    {"extension_type": "property-extension", "kind": "maybe"},
    {"extension_type": "property-extension"},
    {"extension_type": "new-sco", "kind": "blocked"},
    {"extension_type": "property-extension", "kind": "blocked", "who": "me"},
], ids=str)  # fmt: skip
def test_sighting_extension_schema_is_applied(ext: dict[str, Any]) -> None:
    sighting = envelope()["sighting"]
    sighting["extensions"] = {SIGHTING_EXTENSION_ID: ext}
    assert [str(e) for e in validate_instance(sighting, OPTIONS).errors] != []


def test_sighting_extension_is_defined() -> None:
    [definition] = [d for d in extension_definitions() if d["id"] == SIGHTING_EXTENSION_ID]
    assert definition["extension_types"] == ["property-extension"]
    assert (SCHEMAS_DIR / f"{SIGHTING_EXTENSION_ID}.json").exists()
