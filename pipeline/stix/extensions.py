"""scamshare's STIX extension definitions and the identity that authors them.

Three new SCO types (``phone-number``, ``cryptocurrency-wallet``, ``bank-account``, ``extension_type:
new-sco``), one property extension on Indicators (:data:`~pipeline.stix.ids.INDICATOR_EXTENSION_ID`) and one
on the Sightings subscribers report (:data:`~pipeline.stix.ids.SIGHTING_EXTENSION_ID`).
The objects are defined here, in code, so the installed package needs no data files; ``schemas/`` at the
repository root holds the same documents as JSON, regenerated with::

    python -m pipeline.wire.schemas schemas/

and checked against this module by ``tests/unit/stix/test_extensions.py``.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from pipeline.stix.ids import (
    INDICATOR_EXTENSION_ID,
    NEW_SCO_EXTENSION_IDS,
    SCAMSHARE_IDENTITY_ID,
    SIGHTING_EXTENSION_ID,
)
from pipeline.stix.schemas import schema_url
from pipeline.stix.tlp import TLP

logger = logging.getLogger(__name__)

#: created/modified of the identity and of version 1.0.0 of every extension definition. Fixed: these are
#: published objects; a change of content needs a new ``modified`` (and ``version``), never a re-stamp.
DEFINED_AT: Final = "2026-11-01T00:00:00.000Z"
EXTENSION_VERSION: Final = "1.0.0"
#: File in ``schemas/`` holding the identity, the extension definitions and their TLP marking as one bundle.
DEFINITIONS_FILE: Final = "extension-definitions.json"
_DEFINITIONS_BUNDLE_ID: Final = "bundle--e7d9e5f2-daf5-4bfc-b769-afb3d28a7a62"

_DESCRIPTIONS: Final = {
    "phone-number": (
        "New SCO type phone-number: a telephone number used in a scam, in E.164 form (property value). "
        "ID contributing properties: value."
    ),
    "cryptocurrency-wallet": (
        "New SCO type cryptocurrency-wallet: an address that received scam payments (value), with its "
        "network (chain) and asset when known. ID contributing properties: value."
    ),
    "bank-account": (
        "New SCO type bank-account: a bank account that received scam payments, as an IBAN (iban) or a "
        "national account number (account_number) with its ISO 3166-1 alpha-2 country (country), and the "
        "BIC (bic) when known. ID contributing properties: iban when present, otherwise account_number "
        "and country."
    ),
}


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
    ext_id: str, *, name: str, description: str, schema: str, extension_type: str
) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ext_id,
        "created": DEFINED_AT,
        "modified": DEFINED_AT,
        "created_by_ref": SCAMSHARE_IDENTITY_ID,
        "name": name,
        "description": description,
        "schema": schema,
        "version": EXTENSION_VERSION,
        "extension_types": [extension_type],
        "object_marking_refs": [TLP.CLEAR.marking_id],
    }


def extension_definitions() -> list[dict[str, Any]]:
    """The extension-definition objects: three new SCO types, then the Indicator and Sighting property
    extensions."""
    defs = [
        _definition(
            NEW_SCO_EXTENSION_IDS[sco_type],
            name=f"scamshare {sco_type}",
            description=_DESCRIPTIONS[sco_type],
            schema=schema_url(sco_type),
            extension_type="new-sco",
        )
        for sco_type in ("phone-number", "cryptocurrency-wallet", "bank-account")
    ]
    defs.append(
        _definition(
            INDICATOR_EXTENSION_ID,
            name="scamshare indicator",
            description=(
                "Property extension on Indicators. Producers submit scam_types, country_hint and raw_value; "
                "the pipeline adds version, score, reporter_count, report_count, sightings, first_reported, "
                "last_reported, allowlisted and enrichment to the version it publishes."
            ),
            schema=schema_url("indicator-extension"),
            extension_type="property-extension",
        )
    )
    defs.append(
        _definition(
            SIGHTING_EXTENSION_ID,
            name="scamshare sighting",
            description=(
                "Property extension on Sightings a subscriber reports about an indicator it received: kind "
                "is true-positive, false-positive or blocked."
            ),
            schema=schema_url("sighting-extension"),
            extension_type="property-extension",
        )
    )
    return defs


def definitions_bundle() -> dict[str, Any]:
    """The identity, the extension definitions and the TLP:CLEAR marking they carry, as one STIX bundle."""
    return {
        "type": "bundle",
        "id": _DEFINITIONS_BUNDLE_ID,
        "objects": [identity_object(), *extension_definitions(), TLP.CLEAR.marking_definition()],
    }
