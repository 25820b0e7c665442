"""The submission envelope: what producers put on ``scam.submissions``.

A submission is one JSON object::

    {"spec": "scamshare.submission/1",
     "submission_id": "<uuid, the idempotency key>",
     "producer": "<producer id>",
     "submitted_at": "2026-11-22T10:00:00.000Z",
     "bundle": {"type": "bundle", "id": "bundle--...", "objects": [indicator, sco, relationship, marking]}}

Each Indicator in the bundle is one report. Its pattern names the observable; scamshare-specific report
fields (scam types, a country hint for national-format phone numbers) live in the property extension
``INDICATOR_EXTENSION_ID`` (:mod:`pipeline.stix.ids`). The message key is the deterministic indicator id of
the (single) report, so one indicator always lands on one partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pipeline.stix.times import stix_timestamp

SUBMISSION_SPEC: Final = "scamshare.submission/1"
INDICATOR_SPEC: Final = "scamshare.indicator/2"
SIGHTING_SPEC: Final = "scamshare.sighting/1"

SUBMISSION_CONTENT_TYPE: Final = "application/vnd.scamshare.submission+json;version=1"
STIX_CONTENT_TYPE: Final = "application/stix+json;version=2.1"


def make_submission(
    bundle: dict[str, object], *, producer: str, submission_id: str, submitted_at: datetime
) -> dict[str, object]:
    """Wrap a STIX bundle in the submission envelope (see the module docstring)."""
    return {
        "spec": SUBMISSION_SPEC,
        "submission_id": submission_id,
        "producer": producer,
        "submitted_at": stix_timestamp(submitted_at),
        "bundle": bundle,
    }
