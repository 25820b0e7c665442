"""Feedback from subscribers: STIX Sightings on ``scam.sightings``. Building and parsing are pure.

A sighting message is one JSON object, keyed by the indicator id (so it lands on the indicator's partition)::

    {"spec": "scamshare.sighting/1",
     "sighting_id": "<uuid, the idempotency key>",
     "subscriber": "<subscriber id>",
     "submitted_at": "2026-11-22T10:00:00.000Z",
     "sighting": {"type": "sighting", "id": "sighting--<sighting_id>", "sighting_of_ref": "indicator--...",
                  "count": 1, "where_sighted_refs": ["identity--<subscriber>"], ...,
                  "extensions": {SIGHTING_EXTENSION_ID: {"extension_type": "property-extension",
                                                         "kind": "false-positive"}}}}

On the wire ``kind`` is written with hyphens (``true-positive``), as STIX vocabularies are; inside the
pipeline it uses underscores (:data:`SIGHTING_KINDS`).

:func:`pipeline.subscribers.sightings.report_sighting` is the SDK call a subscriber uses to send one.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from pipeline.errors import ScamshareError
from pipeline.stix.ids import SIGHTING_EXTENSION_ID, producer_identity_id
from pipeline.stix.schemas import SIGHTING_KIND_VALUES
from pipeline.stix.times import epoch_ms, parse_timestamp, stix_timestamp
from pipeline.wire.envelope import SIGHTING_SPEC
from pipeline.wire.fields import SUBSCRIBER_ID_RE
from pipeline.wire.headers import HEADER_CONTENT_TYPE, HEADER_SCHEMA, HEADER_SUBMITTED_MS, HEADER_SUBSCRIBER
from pipeline.wire.rejected import Rejected

__all__ = [
    "SIGHTING_KIND_VALUES",
    "ParsedSighting",
    "SightingError",
    "build_sighting",
    "parse_sighting",
    "sighting_headers",
    "wire_kind",
]

#: Inside the pipeline (state, counters) sighting kinds use underscores.
SIGHTING_KINDS: Final = ("true_positive", "false_positive", "blocked")
MAX_COUNT: Final = 999_999_999
#: A sighting is small; anything far bigger is not one.
MAX_SIGHTING_BYTES: Final = 64_000
SIGHTING_CONTENT_TYPE: Final = "application/vnd.scamshare.sighting+json;version=1"

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_INDICATOR_RE = re.compile(r"^indicator--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_WIRE_TO_KIND: Final = dict(zip(SIGHTING_KIND_VALUES, SIGHTING_KINDS, strict=True))


class SightingError(ScamshareError):
    """A sighting could not be built (bad subscriber, indicator id, kind or count)."""


@dataclass(frozen=True, slots=True)
class ParsedSighting:
    """One accepted sighting. ``kind`` uses underscores (``true_positive``), as the merge step does."""

    sighting_id: str
    subscriber: str
    indicator_id: str
    kind: str
    count: int
    observed_ms: int


def wire_kind(kind: str) -> str:
    """``true_positive`` or ``true-positive`` → ``true-positive``; raises SightingError otherwise."""
    text = kind.strip().lower().replace("_", "-")
    if text not in _WIRE_TO_KIND:
        raise SightingError(f"kind {kind!r} is not one of {', '.join(SIGHTING_KIND_VALUES)}")
    return text


def build_sighting(
    *,
    subscriber: str,
    indicator_id: str,
    kind: str,
    count: int = 1,
    now: datetime,
    sighting_id: str | None = None,
    org: str | None = None,
) -> dict[str, Any]:
    """The sighting envelope (module docstring); raises SightingError on a bad argument.

    ``org`` is the organisation that owns the subscription (default: the subscriber id); the sighting is
    ``created_by_ref`` and ``where_sighted_refs`` that organisation's identity, and must be sent on its own
    ``scam.sightings.<org>`` topic.

    >>> from datetime import UTC, datetime
    >>> env = build_sighting(subscriber="bank-sg", kind="blocked", now=datetime(2026, 11, 22, tzinfo=UTC),
    ...     indicator_id="indicator--2f1e4c8a-0b4e-5b8e-9f57-5f3c2a3d1e00")
    >>> env["sighting"]["extensions"][SIGHTING_EXTENSION_ID]["kind"]
    'blocked'
    """
    if not SUBSCRIBER_ID_RE.match(subscriber):
        raise SightingError(
            f"subscriber {subscriber!r} is not a subscriber id (lower case, digits, '-', '_')"
        )
    if not _INDICATOR_RE.match(indicator_id):
        raise SightingError(f"{indicator_id!r} is not an indicator id (indicator--<uuid>)")
    if isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise SightingError(f"count {count!r} must be between 1 and {MAX_COUNT:,}")
    sid = sighting_id or str(uuid.uuid4())
    if not _UUID_RE.match(sid):
        raise SightingError(f"sighting_id {sid!r} must be a lower-case UUID")
    owner = org or subscriber
    if not SUBSCRIBER_ID_RE.match(owner):
        raise SightingError(f"{owner!r} is not an organisation id (lower case, digits, '-', '_')")
    stamp = stix_timestamp(now)
    identity = producer_identity_id(owner)
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{sid}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": identity,
        "sighting_of_ref": indicator_id,
        "count": count,
        "first_seen": stamp,
        "last_seen": stamp,
        "where_sighted_refs": [identity],
        "extensions": {
            SIGHTING_EXTENSION_ID: {"extension_type": "property-extension", "kind": wire_kind(kind)}
        },
    }
    return {
        "spec": SIGHTING_SPEC,
        "sighting_id": sid,
        "subscriber": subscriber,
        "submitted_at": stamp,
        "sighting": sighting,
    }


def sighting_headers(envelope: dict[str, Any], now: datetime) -> list[tuple[str, bytes]]:
    """Kafka headers of a sighting message."""
    return [
        (HEADER_SUBSCRIBER, str(envelope["subscriber"]).encode()),
        (HEADER_CONTENT_TYPE, SIGHTING_CONTENT_TYPE.encode()),
        (HEADER_SCHEMA, SIGHTING_SPEC.encode()),
        (HEADER_SUBMITTED_MS, str(epoch_ms(now)).encode()),
    ]


def parse_sighting(
    raw: bytes, *, max_bytes: int = MAX_SIGHTING_BYTES, channel_org: str | None = None
) -> ParsedSighting | Rejected:
    """Parse and check one sighting message; never raises.

    ``channel_org`` is the organisation whose sightings topic it came on (the worker always gives it):
    ``created_by_ref`` and ``where_sighted_refs`` must be that organisation's identity, or the sighting is
    rejected as ``identity_mismatch``. Without it the subscriber's own identity is expected.

    >>> parse_sighting(b"[]").code
    'bad_envelope'
    """
    if len(raw) > max_bytes:
        return Rejected("too_large", f"message is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("not_json", f"not valid UTF-8 JSON: {exc}")
    if not isinstance(doc, dict):
        return Rejected("bad_envelope", "a sighting message must be a JSON object")
    try:
        return _parse(doc, channel_org)
    except _BadSightingError as bad:
        return Rejected(bad.code, str(bad), bad.subscriber)


class _BadSightingError(Exception):
    def __init__(self, code: str, reason: str, subscriber: str | None) -> None:
        super().__init__(reason)
        self.code = code
        self.subscriber = subscriber


def _parse(doc: dict[str, Any], channel_org: str | None) -> ParsedSighting:
    if doc.get("spec") != SIGHTING_SPEC:
        raise _BadSightingError(
            "bad_envelope", f"spec is {doc.get('spec')!r}, expected {SIGHTING_SPEC!r}", None
        )
    subscriber = doc.get("subscriber")
    if not isinstance(subscriber, str) or not SUBSCRIBER_ID_RE.match(subscriber):
        raise _BadSightingError("bad_envelope", f"subscriber {subscriber!r} is not a subscriber id", None)
    sid = doc.get("sighting_id")
    if not isinstance(sid, str) or not _UUID_RE.match(sid):
        raise _BadSightingError("bad_envelope", f"sighting_id {sid!r} is not a lower-case UUID", subscriber)
    obj = doc.get("sighting")
    if not isinstance(obj, dict) or obj.get("type") != "sighting":
        raise _BadSightingError("bad_sighting", "'sighting' must be a STIX Sighting object", subscriber)
    speaker = channel_org or subscriber
    identity = producer_identity_id(speaker)
    if obj.get("created_by_ref") != identity or obj.get("where_sighted_refs") != [identity]:
        # An organisation speaks for itself only: the STIX object must name the channel's organisation.
        raise _BadSightingError(
            "identity_mismatch" if channel_org else "bad_sighting",
            f"created_by_ref/where_sighted_refs are not {speaker}'s identity ({identity})",
            subscriber,
        )
    indicator = obj.get("sighting_of_ref")
    if not isinstance(indicator, str) or not _INDICATOR_RE.match(indicator):
        raise _BadSightingError(
            "bad_sighting", f"sighting_of_ref {indicator!r} is not an indicator id", subscriber
        )
    count = obj.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise _BadSightingError(
            "bad_sighting", f"count {count!r} must be an integer between 1 and {MAX_COUNT:,}", subscriber
        )
    ext = (
        (obj.get("extensions") or {}).get(SIGHTING_EXTENSION_ID)
        if isinstance(obj.get("extensions"), dict)
        else None
    )
    kind = ext.get("kind") if isinstance(ext, dict) else None
    if kind not in _WIRE_TO_KIND:
        raise _BadSightingError(
            "bad_sighting",
            f"extension kind {kind!r} is not one of {', '.join(SIGHTING_KIND_VALUES)}",
            subscriber,
        )
    seen = obj.get("last_seen") or doc.get("submitted_at")
    try:
        observed_ms = epoch_ms(parse_timestamp(str(seen)))
    except ValueError:
        raise _BadSightingError(
            "bad_sighting", f"last_seen {seen!r} is not a timestamp", subscriber
        ) from None
    return ParsedSighting(
        sighting_id=sid,
        subscriber=subscriber,
        indicator_id=indicator,
        kind=_WIRE_TO_KIND[str(kind)],
        count=count,
        observed_ms=observed_ms,
    )
