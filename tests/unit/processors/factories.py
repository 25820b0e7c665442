"""Deterministic builders for submissions and reports used by the processor tests."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.canon import Canonical, canonicalize
from pipeline.processors.validate import Report
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, pattern_for
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_SPEC

T0 = 1_780_000_000_000  # 2026-05-28T20:26:40Z in ms


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
