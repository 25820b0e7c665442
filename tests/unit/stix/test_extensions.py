"""Extension definitions, the identity, the JSON Schemas, and schemas/ on disk agreeing with the code."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from stix2validator import ValidationOptions, validate_instance

from pipeline.canon import NEW_SCO_EXTENSION_IDS
from pipeline.stix.build import report_bundle
from pipeline.stix.extensions import DEFINITIONS_FILE, identity_object
from pipeline.stix.ids import (
    INDICATOR_EXTENSION_ID,
    SCAMSHARE_IDENTITY_ID,
    SIGHTING_EXTENSION_ID,
    indicator_id,
    sco_id,
)
from pipeline.stix.schemas import ID_CONTRIBUTING_KEYWORD, SCHEMA_BASE_URL
from pipeline.wire.envelope import make_submission
from pipeline.wire.schemas import (
    SCHEMA_FILES,
    all_schemas,
    definitions_bundle,
    extension_definitions,
    render,
    schema_documents,
    write_schema_files,
)

from .samples import CANONICALS, NOW

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"


# --- schemas/ on disk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_schema_file_equals_code(name: str) -> None:
    path = SCHEMAS_DIR / name
    assert path.exists(), f"missing {path}: run `python -m pipeline.wire.schemas schemas/`"
    assert json.loads(path.read_text(encoding="utf-8")) == schema_documents()[name], (
        f"{path} is stale: run `python -m pipeline.wire.schemas schemas/`"
    )


def test_no_stale_json_files() -> None:
    on_disk = {p.name for p in SCHEMAS_DIR.glob("*.json")}
    assert on_disk == set(schema_documents())


def test_write_schema_files(tmp_path: Path) -> None:
    written = write_schema_files(tmp_path / "out")
    assert {p.name for p in written} == set(schema_documents())
    for path in written:
        assert path.read_text(encoding="utf-8") == render(schema_documents()[path.name])


# --- the JSON Schemas ----------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("key", sorted(SCHEMA_FILES))
def test_schemas_are_valid_draft_2020_12(key: str) -> None:
    schema = all_schemas()[key]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_BASE_URL + SCHEMA_FILES[key]
    # Self-contained: the validator would fetch a remote $ref over the network.
    assert all(ref.startswith("#/") for ref in _refs(schema))


@pytest.mark.parametrize("sco_type", sorted(NEW_SCO_EXTENSION_IDS))
def test_sco_schemas_name_id_contributing_properties(sco_type: str) -> None:
    schema = all_schemas()[sco_type]
    alternatives = schema[ID_CONTRIBUTING_KEYWORD]
    assert alternatives
    assert "ID contributing properties:" in schema["description"]
    for props in alternatives:
        assert set(props) <= set(schema["properties"])
        assert all(prop in schema["description"] for prop in props)


def test_submission_schema_accepts_what_make_submission_builds() -> None:
    bundle = report_bundle(CANONICALS["phone"], producer="acme", now=NOW)
    submission = make_submission(bundle, producer="acme", submission_id=str(uuid.uuid4()), submitted_at=NOW)
    validator = Draft202012Validator(all_schemas()["submission"])
    assert list(validator.iter_errors(submission)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"spec": "scamshare.submission/2"},
        {"submission_id": "not-a-uuid"},
        {"producer": ""},
        {"submitted_at": "2026-11-22 10:00"},
        {"bundle": {"type": "bundle", "id": "bundle--x", "objects": []}},
        {"extra": 1},
    ],
    ids=str,
)
def test_submission_schema_rejects(change: dict[str, Any]) -> None:
    bundle = report_bundle(CANONICALS["phone"], producer="acme", now=NOW)
    submission = make_submission(bundle, producer="acme", submission_id=str(uuid.uuid4()), submitted_at=NOW)
    submission.update(change)
    assert list(Draft202012Validator(all_schemas()["submission"]).iter_errors(submission)) != []


# --- extension definitions and identity ----------------------------------------------------------------


def test_extension_definitions() -> None:
    defs = {d["id"]: d for d in extension_definitions()}
    assert set(defs) == {INDICATOR_EXTENSION_ID, SIGHTING_EXTENSION_ID, *NEW_SCO_EXTENSION_IDS.values()}
    for sco_type, ext_id in NEW_SCO_EXTENSION_IDS.items():
        d = defs[ext_id]
        assert d["extension_types"] == ["new-sco"]
        assert d["schema"] == SCHEMA_BASE_URL + f"{sco_type}.json"
        assert "ID contributing properties" in d["description"]
    assert defs[INDICATOR_EXTENSION_ID]["extension_types"] == ["property-extension"]
    assert defs[INDICATOR_EXTENSION_ID]["schema"] == SCHEMA_BASE_URL + f"{INDICATOR_EXTENSION_ID}.json"
    assert defs[SIGHTING_EXTENSION_ID]["extension_types"] == ["property-extension"]
    assert defs[SIGHTING_EXTENSION_ID]["schema"] == SCHEMA_BASE_URL + f"{SIGHTING_EXTENSION_ID}.json"
    for d in defs.values():
        assert d["type"] == "extension-definition"
        assert d["created_by_ref"] == SCAMSHARE_IDENTITY_ID
        assert d["version"]
        assert d["created"] <= d["modified"]
        assert "extension_properties" not in d  # only for toplevel-property-extension


def test_identity() -> None:
    ident = identity_object()
    assert ident["id"] == SCAMSHARE_IDENTITY_ID
    assert ident["type"] == "identity"
    assert ident["identity_class"] == "system"


def test_definitions_are_stable() -> None:
    assert extension_definitions() == extension_definitions()
    assert definitions_bundle()["objects"][0] == identity_object()
    assert DEFINITIONS_FILE in schema_documents()


# --- the README's examples ----------------------------------------------------------------------------

README = SCHEMAS_DIR / "README.md"
EXAMPLES = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", README.read_text(), re.DOTALL)]
OPTIONS = ValidationOptions(version="2.1", schema_dir=str(SCHEMAS_DIR))


def test_readme_has_examples_of_every_type() -> None:
    types = {e.get("type", e.get("spec")) for e in EXAMPLES}
    assert types >= {*NEW_SCO_EXTENSION_IDS, "indicator", "sighting", "scamshare.submission/1"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.get("id", e.get("spec")))
def test_readme_examples_are_valid(example: dict[str, Any]) -> None:
    if "spec" in example:
        assert list(Draft202012Validator(all_schemas()["submission"]).iter_errors(example)) == []
        return
    result = validate_instance(example, OPTIONS)
    assert result.is_valid, [str(e) for e in result.errors]
    if example["type"] == "indicator":
        assert example["id"] == indicator_id(example["pattern"])
        assert INDICATOR_EXTENSION_ID in example["extensions"]
    elif example["type"] == "sighting":
        assert SIGHTING_EXTENSION_ID in example["extensions"]
    else:
        alternatives = all_schemas()[example["type"]][ID_CONTRIBUTING_KEYWORD]
        props = next(p for p in alternatives if all(k in example for k in p))
        assert example["id"] == sco_id(example["type"], {k: example[k] for k in props})
