"""scamshare's STIX extension definitions and the identity that authors them.

One new SCO type per kind whose SCO type is ours (``extension_type: new-sco``; which ones, with their ids and
descriptions, is declared in the kind registry, :mod:`pipeline.canon.registry`, and
:func:`pipeline.wire.schemas.extension_definitions` puts them together), one property extension on Indicators
(:data:`~pipeline.stix.ids.INDICATOR_EXTENSION_ID`) and one on the Sightings subscribers report
(:data:`~pipeline.stix.ids.SIGHTING_EXTENSION_ID`).
The objects are defined in code, so the installed package needs no data files; ``schemas/`` at the
repository root holds the same documents as JSON, regenerated with::

    python -m pipeline.wire.schemas schemas/

and checked against this module by ``tests/unit/stix/test_extensions.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from pipeline.stix.ids import INDICATOR_EXTENSION_ID, SCAMSHARE_IDENTITY_ID, SIGHTING_EXTENSION_ID
from pipeline.stix.schemas import schema_url, sco_schema_url
from pipeline.stix.tlp import TLP

logger = logging.getLogger(__name__)

#: created/modified of the identity and of version 1.0.0 of every extension definition. Fixed: these are
#: published objects; a change of content needs a new ``modified`` (and ``version``), never a re-stamp.
DEFINED_AT: Final = "2026-11-01T00:00:00.000Z"
EXTENSION_VERSION: Final = "1.0.0"
#: The Indicator extension's 1.1.0 adds ``status`` (reversible suppression, withdrawal and expiry).
INDICATOR_EXTENSION_VERSION: Final = "1.1.0"
INDICATOR_EXTENSION_MODIFIED: Final = "2026-12-02T00:00:00.000Z"
#: File in ``schemas/`` holding the identity, the extension definitions and their TLP marking as one bundle.
DEFINITIONS_FILE: Final = "extension-definitions.json"
_DEFINITIONS_BUNDLE_ID: Final = "bundle--e7d9e5f2-daf5-4bfc-b769-afb3d28a7a62"


def identity_object() -> dict[str, Any]:
    """The scamshare identity: author of the extension definitions and of every published Indicator."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": SCAMSHARE_IDENTITY_ID,
        "created": DEFINED_AT,
        "modified": DEFINED_AT,
        "name": "scamshare",
        "description": (
            "The scamshare exchange. It publishes merged, scored scam indicators; who reported an "
            "indicator is not disclosed, only how many reported it."
        ),
        "identity_class": "system",
        "object_marking_refs": [TLP.CLEAR.marking_id],
    }


def _definition(
    ext_id: str,
    *,
    name: str,
    description: str,
    schema: str,
    extension_type: str,
    version: str = EXTENSION_VERSION,
    modified: str = DEFINED_AT,
) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ext_id,
        "created": DEFINED_AT,
        "modified": modified,
        "created_by_ref": SCAMSHARE_IDENTITY_ID,
        "name": name,
        "description": description,
        "schema": schema,
        "version": version,
        "extension_types": [extension_type],
        "object_marking_refs": [TLP.CLEAR.marking_id],
    }


def new_sco_definition(sco_type: str, *, extension_id: str, description: str) -> dict[str, Any]:
    """The extension definition of the new SCO type ``sco_type`` (its schema: ``<sco-type>.json``)."""
    return _definition(
        extension_id,
        name=f"scamshare {sco_type}",
        description=description,
        schema=sco_schema_url(sco_type),
        extension_type="new-sco",
    )


def property_extension_definitions() -> list[dict[str, Any]]:
    """The Indicator and Sighting property extensions' definitions."""
    return [
        _definition(
            INDICATOR_EXTENSION_ID,
            name="scamshare indicator",
            description=(
                "Property extension on Indicators. Producers submit scam_types, country_hint and raw_value; "
                "the pipeline adds version, score, reporter_count, report_count, sightings, first_reported, "
                "last_reported, status, allowlisted and enrichment to the version it publishes."
            ),
            schema=schema_url("indicator-extension"),
            extension_type="property-extension",
            version=INDICATOR_EXTENSION_VERSION,
            modified=INDICATOR_EXTENSION_MODIFIED,
        ),
        _definition(
            SIGHTING_EXTENSION_ID,
            name="scamshare sighting",
            description=(
                "Property extension on Sightings a subscriber reports about an indicator it received: kind "
                "is true-positive, false-positive or blocked."
            ),
            schema=schema_url("sighting-extension"),
            extension_type="property-extension",
        ),
    ]


def bundle_of_definitions(definitions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The identity, ``definitions`` and the TLP:CLEAR marking they carry, as one STIX bundle (the whole set:
    :func:`pipeline.wire.schemas.definitions_bundle`)."""
    return {
        "type": "bundle",
        "id": _DEFINITIONS_BUNDLE_ID,
        "objects": [identity_object(), *definitions, TLP.CLEAR.marking_definition()],
    }
