"""Every schema scamshare publishes, and the ``schemas/`` folder written from them.

The STIX extension schemas come from :mod:`pipeline.stix.schemas`; the submission envelope's is here, beside
the envelope (:mod:`pipeline.wire.envelope`). Regenerate the folder with::

    python -m pipeline.wire.schemas schemas/
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from pipeline.stix.extensions import DEFINITIONS_FILE, definitions_bundle
from pipeline.stix.schemas import (
    JSON_SCHEMA_DIALECT,
    SCHEMA_FILES,
    TIMESTAMP_PATTERN,
    UUID_PATTERN,
    bank_account_schema,
    cryptocurrency_wallet_schema,
    indicator_extension_schema,
    phone_number_schema,
    schema_url,
    sighting_extension_schema,
)
from pipeline.wire.envelope import SUBMISSION_SPEC

logger = logging.getLogger(__name__)


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


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema, keyed like :data:`SCHEMA_FILES`."""
    return {
        "phone-number": phone_number_schema(),
        "cryptocurrency-wallet": cryptocurrency_wallet_schema(),
        "bank-account": bank_account_schema(),
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
