"""Every schema scamshare publishes, and the ``schemas/`` folder written from them.

The SCO schemas and new-sco extension definitions come from the kind registry (each kind whose SCO type is
ours declares them, :mod:`pipeline.canon.registry`), the Indicator and Sighting extensions' from
:mod:`pipeline.stix.schemas` and :mod:`pipeline.stix.extensions`; the submission envelope's is here, beside
the envelope (:mod:`pipeline.wire.envelope`). Regenerate the folder with::

    python -m pipeline.wire.schemas schemas/
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Final

from pipeline.canon import REGISTRY
from pipeline.stix.extensions import (
    DEFINITIONS_FILE,
    bundle_of_definitions,
    new_sco_definition,
    property_extension_definitions,
)
from pipeline.stix.schemas import (
    JSON_SCHEMA_DIALECT,
    TIMESTAMP_PATTERN,
    UUID_PATTERN,
    indicator_extension_schema,
    schema_url,
    sco_schema_file,
    sighting_extension_schema,
)
from pipeline.stix.schemas import SCHEMA_FILES as _EXTENSION_SCHEMA_FILES
from pipeline.wire.envelope import SUBMISSION_SPEC

logger = logging.getLogger(__name__)

#: File name (in ``schemas/``) of every schema, keyed by what it describes: a new SCO type by its name.
SCHEMA_FILES: Final = {
    **{k.sco_type: sco_schema_file(k.sco_type) for k in REGISTRY if k.new_sco is not None},
    **_EXTENSION_SCHEMA_FILES,
}


def submission_schema() -> dict[str, Any]:
    """Schema of the submission envelope on ``scam.submissions`` (see :mod:`pipeline.wire.envelope`)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_url("submission"),
        "title": "scamshare submission envelope",
        "description": (
            "One message on scam.submissions: a STIX 2.1 bundle wrapped with the producer, an idempotency "
            "key (submission_id) and the producer's send time."
        ),
        "type": "object",
        "properties": {
            "spec": {"const": SUBMISSION_SPEC},
            "submission_id": {
                "type": "string",
                "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                "description": "A UUID chosen by the producer; a resend carries the same one.",
            },
            "producer": {"type": "string", "minLength": 1, "maxLength": 128},
            "submitted_at": {"type": "string", "pattern": TIMESTAMP_PATTERN},
            "bundle": {
                "type": "object",
                "properties": {
                    "type": {"const": "bundle"},
                    "id": {"type": "string", "pattern": f"^bundle--{UUID_PATTERN}$"},
                    "objects": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
                            "required": ["type", "id"],
                        },
                    },
                },
                "required": ["type", "id", "objects"],
            },
        },
        "required": ["spec", "submission_id", "producer", "submitted_at", "bundle"],
        "additionalProperties": False,
    }


def extension_definitions() -> list[dict[str, Any]]:
    """Every extension definition: one new SCO type per kind that declares one, then the Indicator and
    Sighting property extensions."""
    new_scos = [
        new_sco_definition(k.sco_type, extension_id=k.new_sco.extension_id, description=k.new_sco.description)
        for k in REGISTRY
        if k.new_sco is not None
    ]
    return [*new_scos, *property_extension_definitions()]


def definitions_bundle() -> dict[str, Any]:
    """The identity, every extension definition and the TLP:CLEAR marking they carry, as one STIX bundle."""
    return bundle_of_definitions(extension_definitions())


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema, keyed like :data:`SCHEMA_FILES`."""
    return {
        **{k.sco_type: k.new_sco.schema() for k in REGISTRY if k.new_sco is not None},
        "indicator-extension": indicator_extension_schema(),
        "sighting-extension": sighting_extension_schema(),
        "submission": submission_schema(),
    }


def schema_documents() -> dict[str, dict[str, Any]]:
    """Every document ``schemas/`` holds, keyed by file name."""
    docs = {SCHEMA_FILES[key]: schema for key, schema in all_schemas().items()}
    docs[DEFINITIONS_FILE] = definitions_bundle()
    return docs


def render(document: dict[str, Any]) -> str:
    """How a document is written to ``schemas/``: two-space indent, key order kept, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_schema_files(directory: Path) -> list[Path]:
    """Write :func:`schema_documents` into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = directory / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    logger.info("wrote schema files directory=%s count=%d", directory, len(written))
    return written


if __name__ == "__main__":  # pragma: no cover - developer convenience
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schemas")
    for written_path in write_schema_files(target):
        print(written_path)
