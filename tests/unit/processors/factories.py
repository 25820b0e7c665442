"""Deterministic builders for submissions, reports and consumed messages (processor and step tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.canon import Canonical, canonicalize
from pipeline.processors.validate import Report
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, pattern_for
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_SPEC
from pipeline.wire.headers import HEADER_SUBMITTED_MS
from pipeline.wire.message import InMessage
from pipeline.wire.sighting import build_sighting

T0 = 1_780_000_000_000  # 2026-05-28T20:26:40Z in ms
#: the steps' clock in the step tests: five seconds after the submissions' ``submitted_at``
NOW = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)


def indicator_obj(
    sco_type: str,
    props: dict[str, str],
    *,
    tlp: TLP | None = TLP.GREEN,
    confidence: int | None = 70,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--6a0c5f1e-8d4b-4f4e-9a53-3c1f2b6d7e81",
        "created": "2026-11-22T10:00:00.000Z",
        "modified": "2026-11-22T10:00:00.000Z",
        "pattern": pattern_for(sco_type, props),
        "pattern_type": "stix",
        "valid_from": "2026-11-22T09:00:00.000Z",
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp.marking_id]
    if confidence is not None:
        obj["confidence"] = confidence
    obj.update(extra)
    return obj


def submission(
    *objects: dict[str, Any], producer: str = "telco-a", submission_id: str = "sub-1", **over: Any
) -> bytes:
    doc: dict[str, Any] = {
        "spec": SUBMISSION_SPEC,
        "submission_id": submission_id,
        "producer": producer,
        "submitted_at": "2026-11-22T10:00:00.000Z",
        "bundle": {
            "type": "bundle",
            "id": "bundle--1a2b3c4d-0000-4000-8000-000000000001",
            "objects": list(objects),
        },
    }
    doc.update(over)
    return orjson.dumps(doc)


def phone_submission(value: str, country: str | None = None, **kw: Any) -> bytes:
    ext = (
        {INDICATOR_EXTENSION_ID: {"extension_type": "property-extension", "country_hint": country}}
        if country
        else {}
    )
    obj = indicator_obj("phone-number", {"value": value}, **({"extensions": ext} if ext else {}))
    return submission(obj, **kw)


def canonical(kind: str, value: str, country: str | None = None) -> Canonical:
    c = canonicalize(kind, value, country=country)
    assert isinstance(c, Canonical), c
    return c


def report(
    kind: str = "phone",
    value: str = "+66812345678",
    *,
    producer: str = "telco-a",
    sub: str = "s1",
    at: int = T0,
    confidence: int | None = 80,
    tlp: TLP = TLP.GREEN,
    scam_types: tuple[str, ...] = ("investment",),
    revoked: bool = False,
) -> Report:
    return Report(
        submission_id=sub,
        producer=producer,
        canonical=canonical(kind, value),
        tlp=tlp,
        confidence=confidence,
        scam_types=scam_types,
        revoked=revoked,
        observed_ms=at,
        submitted_ms=at,
    )


class SteppedClock:
    """A clock (``now: Callable[[], datetime]``) that moves only when told to."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def in_messages(topic: str, *values: bytes, start: int = 0) -> list[InMessage]:
    """Consumed messages on partition 0 of ``topic`` from offset ``start``, with a producer send time."""
    return [
        InMessage(topic, 0, start + i, None, v, {HEADER_SUBMITTED_MS: b"1795347605000"})
        for i, v in enumerate(values)
    ]


def sighting_message(
    topic: str, subscriber: str, indicator_id: str, kind: str, sighting_id: str, offset: int
) -> InMessage:
    """One consumed sighting (``kind``: true-positive, false-positive, blocked) of ``indicator_id``."""
    envelope = build_sighting(
        subscriber=subscriber, indicator_id=indicator_id, kind=kind, now=NOW, sighting_id=sighting_id
    )
    return InMessage(topic, 0, offset, indicator_id.encode(), orjson.dumps(envelope))


def exact(stats: dict[str, int]) -> dict[str, int]:
    """The exactly-once counters (latency histograms are progress counters: a replay observes again)."""
    return {k: v for k, v in stats.items() if not k.startswith("latency:")}
