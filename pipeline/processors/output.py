"""The pipeline's output record on ``scam.indicators``: routing fields + the STIX bundle subscribers get.

::

    {"spec": "scamshare.indicator/1", "indicator_id": ..., "version": 3, "kind": "phone",
     "value": "+66812345678", "country": "TH", "score": 72, "tlp": "green", "scam_types": [...],
     "reporters": [...], "revoked": false, "published_at": "...", "bundle": {STIX bundle}}

``reporters`` stays inside the pipeline (AMBER+STRICT routing needs it); the bundle a subscriber receives
carries counts only, never who reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.canon import Canonical, canonicalize
from pipeline.processors.fanout import IndicatorView
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.stix.build import indicator_bundle
from pipeline.stix.times import stix_timestamp
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.envelope import INDICATOR_SPEC
from pipeline.wire.sighting import SIGHTING_KINDS


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def canonical_of(state: IndicatorState) -> Canonical:
    """Rebuild the Canonical of a stored state (canonicalisation is idempotent)."""
    c = canonicalize(state.kind, state.value, country=state.country or None)
    if isinstance(c, Canonical):
        return c
    # Only if a canonicaliser changed incompatibly between releases.
    raise ValueError(f"stored {state.kind} {state.value!r} no longer canonicalises: {c.reason}")


def enrichment_of(c: Canonical) -> dict[str, Any]:
    """Offline enrichment carried on the output (canonicaliser facts for now)."""
    return dict(sorted(c.facts.items()))


def build_record(
    state: IndicatorState,
    c: Canonical,
    model: ScoreModel,
    now_ms: int,
    enrichment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The scam.indicators record for the state's current version."""
    half_life = model.half_life_ms(state.kind)
    valid_from = _dt(state.first_ms)
    valid_until = None if state.revoked else _dt(int(state.last_ms + 2 * half_life))
    now = _dt(max(now_ms, state.first_ms + 1))
    sightings = dict(zip(SIGHTING_KINDS, state.sightings, strict=True))
    bundle = indicator_bundle(
        c,
        version=state.version,
        created=valid_from,
        modified=now,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked=state.revoked,
        confidence=state.confidence,
        tlp=state.tlp,
        scam_types=sorted(state.scam_types),
        score=state.score,
        reporter_count=len(state.reporters),
        report_count=state.reports,
        sightings=sightings,
        first_reported=_dt(state.first_ms),
        last_reported=_dt(state.last_ms),
        enrichment=dict(enrichment) if enrichment is not None else enrichment_of(c),
        allowlisted=state.allowlisted,
    )
    return {
        "spec": INDICATOR_SPEC,
        "indicator_id": state.indicator_id,
        "version": state.version,
        "kind": state.kind,
        "value": state.value,
        "country": state.country,
        "score": state.score,
        "tlp": state.tlp.label,
        "scam_types": sorted(state.scam_types),
        "reporters": sorted(state.reporters),
        "revoked": state.revoked,
        "allowlisted": state.allowlisted,
        "published_at": stix_timestamp(now),
        "bundle": bundle,
    }


def view_of(record: Mapping[str, Any]) -> IndicatorView:
    """Routing view of a scam.indicators record. Raises KeyError/ValueError on a malformed record."""
    tlp = parse_tlp(str(record["tlp"]))
    if tlp is None:
        raise ValueError(f"unknown TLP {record['tlp']!r}")
    return IndicatorView(
        indicator_id=str(record["indicator_id"]),
        version=int(record["version"]),
        kind=str(record["kind"]),
        country=str(record.get("country", "")),
        score=int(record["score"]),
        scam_types=frozenset(record.get("scam_types", [])),
        tlp=TLP(tlp),
        reporters=frozenset(record.get("reporters", [])),
        revoked=bool(record["revoked"]),
    )
