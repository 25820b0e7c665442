"""Wire formats shared by producers, processors and subscribers: envelopes, headers, extension ids.

A submission on ``scam.submissions`` is one JSON object::

    {"spec": "scamshare.submission/1",
     "submission_id": "<uuid, the idempotency key>",
     "producer": "<producer id>",
     "submitted_at": "2026-11-22T10:00:00.000Z",
     "bundle": {"type": "bundle", "id": "bundle--...", "objects": [indicator, sco, relationship, marking]}}

Each Indicator in the bundle is one report. Its pattern names the observable; scamshare-specific report
fields (scam types, a country hint for national-format phone numbers) live in the property extension
:data:`INDICATOR_EXTENSION_ID`. The message key is the deterministic indicator id of the (single) report,
so one indicator always lands on one partition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

SUBMISSION_SPEC: Final = "scamshare.submission/1"
INDICATOR_SPEC: Final = "scamshare.indicator/1"
SIGHTING_SPEC: Final = "scamshare.sighting/1"

#: Property extension on Indicators: scam types, country hint, and (on output) counts, score, enrichment.
INDICATOR_EXTENSION_ID: Final = "extension-definition--fd33f239-c904-58d7-bddd-8d22a4d10af0"
#: Property extension on Sightings a subscriber reports: ``kind`` = true-positive | false-positive | blocked.
SIGHTING_EXTENSION_ID: Final = "extension-definition--28754c2a-3368-5481-a5e4-86a0451f487b"
#: new-sco extension definitions for the scam identifiers STIX lacks.
NEW_SCO_EXTENSION_IDS: Final = {
    "phone-number": "extension-definition--d30194a7-a8c3-5fe0-b2da-c956ee71d7e2",
    "cryptocurrency-wallet": "extension-definition--52547324-1c9b-539b-9c9b-8eee55e46123",
    "bank-account": "extension-definition--233895fc-df61-542c-9816-7d5023a6536e",
}
#: The identity that authors (created_by_ref) the extension definitions and the pipeline's Indicators.
SCAMSHARE_IDENTITY_ID: Final = "identity--6ae204d4-d50b-51ae-a445-d7baaa9da957"

# Kafka headers (bytes values, UTF-8).
HEADER_PRODUCER: Final = "scamshare-producer"
HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_SCHEMA: Final = "scamshare-schema"
HEADER_SUBMITTED_MS: Final = "scamshare-submitted-ms"  # producer send time, ms since epoch (latency)
HEADER_REASON: Final = "scamshare-reason"  # DLQ: why it was rejected
HEADER_STAGE: Final = "scamshare-stage"  # DLQ: which stage rejected it
HEADER_REJECTED_AT: Final = "scamshare-rejected-at"
HEADER_SOURCE: Final = "scamshare-source"  # DLQ: topic/partition@offset of the original

SUBMISSION_CONTENT_TYPE: Final = "application/vnd.scamshare.submission+json;version=1"
STIX_CONTENT_TYPE: Final = "application/stix+json;version=2.1"


def stix_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with millisecond precision, as STIX writes timestamps: ``2026-11-22T10:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse a STIX/RFC 3339 timestamp into an aware UTC datetime. Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def producer_identity_id(producer: str) -> str:
    """Deterministic STIX identity id of a producer (organisation), used as ``created_by_ref``."""
    import uuid  # noqa: PLC0415

    from pipeline.stix.ids import SCAMSHARE_NAMESPACE  # noqa: PLC0415

    return f"identity--{uuid.uuid5(SCAMSHARE_NAMESPACE, 'scamshare/producer:' + producer)}"


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
