"""JSON Schemas (draft 2020-12) of scamshare's STIX extensions (the envelope's: pipeline.wire.schemas).

These dicts are the source of truth; ``schemas/`` at the repository root holds the same documents as files
(written by :func:`pipeline.wire.schemas.write_schema_files`, checked by a test). File names follow what
the OASIS validator looks up in a ``--schemas`` directory: ``<sco-type>.json`` for a new SCO type and
``<extension-definition id>.json`` for a property extension. Each schema describes the WHOLE object, because
that is what the validator checks an extension schema against.

The schemas are self-contained (no ``$ref`` to remote documents): the validator would fetch remote refs over
the network, and the common SCO properties are checked by its own bundled ``cyber-observable-core`` schema.

STIX 2.1 gives an extension definition no property for the ID-contributing properties of a new SCO type; the
``schema`` is the normative definition, so each SCO schema states them in its description and in the
annotation keyword ``x-stix-id-contributing-properties``: a list of alternatives, the first whose properties
are all present wins (only ``bank-account`` has more than one).

Which SCO types are ours is the kind registry's business (:mod:`pipeline.canon.registry`): each kind module
builds its SCO schema with :func:`sco_schema`; this module holds the helpers and the extensions that are not
a kind's (Indicator, Sighting).
"""

from __future__ import annotations

from typing import Any, Final

from pipeline.stix.ids import INDICATOR_EXTENSION_ID, SIGHTING_EXTENSION_ID

SCHEMA_BASE_URL: Final = "https://scamshare.example/schemas/"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_CONTRIBUTING_KEYWORD: Final = "x-stix-id-contributing-properties"

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
#: The STIX timestamp format (RFC 3339, UTC, ``Z``), as the OASIS schemas write it.
TIMESTAMP_PATTERN: Final = (
    "^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)"
    "(\\.[0-9]+)?Z$"
)
COUNTRY_PATTERN: Final = "^[A-Z]{2}$"

#: File name (in ``schemas/``) of every schema that is not a kind's SCO schema (those are ``<sco-type>.json``,
#: :func:`sco_schema_file`), keyed by what it describes.
SCHEMA_FILES: Final = {
    "indicator-extension": f"{INDICATOR_EXTENSION_ID}.json",
    "sighting-extension": f"{SIGHTING_EXTENSION_ID}.json",
    "submission": "submission-envelope.json",
}

#: What a subscriber says about an indicator it received, as the sighting extension writes it (hyphens).
SIGHTING_KIND_VALUES: Final = ("true-positive", "false-positive", "blocked")


def schema_url(key: str) -> str:
    """The URL an extension definition's ``schema`` property gives for the schema ``key``."""
    return SCHEMA_BASE_URL + SCHEMA_FILES[key]


def sco_schema_file(sco_type: str) -> str:
    """The file the OASIS validator looks up for a new SCO type: ``<sco-type>.json``."""
    return f"{sco_type}.json"


def sco_schema_url(sco_type: str) -> str:
    """The URL of a new SCO type's schema (its extension definition's ``schema`` property)."""
    return SCHEMA_BASE_URL + sco_schema_file(sco_type)


def _id_pattern(sco_type: str) -> str:
    return f"^{sco_type}--{UUID_PATTERN}$"


def sco_schema(
    sco_type: str,
    *,
    extension_id: str,
    description: str,
    id_contributing: list[list[str]],
    properties: dict[str, Any],
    required: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole-object schema of the new SCO type ``sco_type`` (declared by ``extension_id``)."""
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": sco_schema_url(sco_type),
        "title": sco_type,
        "description": description,
        ID_CONTRIBUTING_KEYWORD: id_contributing,
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": sco_type},
            "spec_version": {"type": "string", "const": "2.1"},
            "id": {"type": "string", "pattern": _id_pattern(sco_type)},
            **properties,
            "object_marking_refs": {
                "type": "array",
                "items": {"type": "string", "pattern": f"^marking-definition--{UUID_PATTERN}$"},
                "minItems": 1,
            },
            "granular_markings": {"type": "array", "minItems": 1},
            "defanged": {"type": "boolean"},
            "extensions": {
                "type": "object",
                "properties": {
                    extension_id: {
                        "type": "object",
                        "properties": {"extension_type": {"const": "new-sco"}},
                        "required": ["extension_type"],
                    }
                },
                "required": [extension_id],
            },
        },
        "required": ["type", "id", *required, "extensions"],
    }
    if extra:
        schema.update(extra)
    return schema


def _count(maximum: int = 999_999_999) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "maximum": maximum}


def indicator_extension_properties() -> dict[str, Any]:
    """The JSON Schema of the property-extension object itself (``extensions[INDICATOR_EXTENSION_ID]``)."""
    timestamp = {"type": "string", "pattern": TIMESTAMP_PATTERN}
    return {
        "type": "object",
        "properties": {
            "extension_type": {"const": "property-extension"},
            # Submitted by producers.
            "scam_types": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
                "minItems": 1,
                "uniqueItems": True,
                "description": "What kind of scam, e.g. investment, romance, bank-impersonation.",
            },
            "country_hint": {
                "type": "string",
                "pattern": COUNTRY_PATTERN,
                "description": "ISO alpha-2 country for reading national-format values (phone numbers).",
            },
            "raw_value": {
                "type": "string",
                "maxLength": 4096,
                "description": "The value exactly as reported, before canonicalisation.",
            },
            # Added by the pipeline on the published version.
            "version": {"type": "integer", "minimum": 1, "description": "Pipeline version of the indicator."},
            "status": {
                "enum": ["active", "suppressed", "withdrawn", "expired", "revoked", "erased"],
                "description": "active; suppressed, withdrawn or expired: stop acting on it until a new "
                "version (valid_until is in the past); revoked, erased: final.",
            },
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "reporter_count": _count(),
            "report_count": _count(),
            "sightings": {
                "type": "object",
                "properties": {"true_positive": _count(), "false_positive": _count(), "blocked": _count()},
                "required": ["true_positive", "false_positive", "blocked"],
                "additionalProperties": False,
            },
            "first_reported": timestamp,
            "last_reported": timestamp,
            "allowlisted": {"type": "boolean"},
            "enrichment": {"type": "object"},
        },
        "required": ["extension_type"],
        # A closed record: a misspelt field (scam_type) is an error, not silently ignored.
        "additionalProperties": False,
    }


def indicator_extension_schema() -> dict[str, Any]:
    """Schema of an Indicator carrying the scamshare property extension (the whole object, as the validator
    applies it)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_url("indicator-extension"),
        "title": "scamshare indicator extension",
        "description": (
            "Property extension on Indicators. Producers submit scam_types, country_hint and raw_value; "
            "the pipeline adds version, score, reporter_count, report_count, sightings, first_reported, "
            "last_reported, allowlisted and enrichment on the version it publishes."
        ),
        "type": "object",
        "properties": {
            "type": {"const": "indicator"},
            "extensions": {
                "type": "object",
                "properties": {INDICATOR_EXTENSION_ID: {"$ref": "#/$defs/extension"}},
                "required": [INDICATOR_EXTENSION_ID],
            },
        },
        "required": ["type", "extensions"],
        "$defs": {"extension": indicator_extension_properties()},
    }


def sighting_extension_schema() -> dict[str, Any]:
    """Schema of a Sighting carrying the scamshare property extension (``kind`` of the feedback)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_url("sighting-extension"),
        "title": "scamshare sighting extension",
        "description": (
            "Property extension on Sightings a subscriber reports about an indicator it received: kind is "
            "true-positive (it was a scam), false-positive (it was not) or blocked (the subscriber blocked "
            "it). The Sighting's sighting_of_ref is the indicator, count how many times, "
            "where_sighted_refs and created_by_ref the subscriber's identity."
        ),
        "type": "object",
        "properties": {
            "type": {"const": "sighting"},
            "sighting_of_ref": {"type": "string", "pattern": f"^indicator--{UUID_PATTERN}$"},
            "count": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
            "extensions": {
                "type": "object",
                "properties": {
                    SIGHTING_EXTENSION_ID: {
                        "type": "object",
                        "properties": {
                            "extension_type": {"const": "property-extension"},
                            "kind": {"enum": list(SIGHTING_KIND_VALUES)},
                        },
                        "required": ["extension_type", "kind"],
                        "additionalProperties": False,
                    }
                },
                "required": [SIGHTING_EXTENSION_ID],
            },
        },
        "required": ["type", "sighting_of_ref", "extensions"],
    }
