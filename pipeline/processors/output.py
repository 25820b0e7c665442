"""The pipeline's output record on ``scam.indicators``: routing fields + one STIX bundle per audience.

::

    {"spec": "scamshare.indicator/2", "indicator_id": ..., "version": 3, "kind": "phone",
     "value": "+66812345678", "country": "TH", "revoked": false, "allowlisted": false, "published_at": ...,
     "views": {"1": {"seq": 2, "since": 3, "status": "active", "tlp": "green", "score": 72,
                     "scam_types": [...], "bundle": {STIX bundle}}, "2:bank-sg": {...}},
     "final": {STIX bundle}}      # revoked records only: the final withdrawal every past recipient gets

``scam.indicators`` stays inside the pipeline. Each view's bundle is built from the reports its audience
may see (:mod:`pipeline.processors.visibility`) and carries counts only, never who reported; fan-out
forwards it unchanged to the subscriptions of that audience.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pipeline.canon import Canonical, canonicalize
from pipeline.processors.score import ScoreModel
from pipeline.processors.visibility import View, audience_sets, view_of_set, visible_indexes
from pipeline.state.indicator import IndicatorState
from pipeline.stix.build import indicator_bundle
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.times import stix_timestamp
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.envelope import INDICATOR_SPEC
from pipeline.wire.sighting import SIGHTING_KINDS


@lru_cache(maxsize=8192)
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


def view_bundle(
    state: IndicatorState,
    view: View,
    *,
    seq: int,
    c: Canonical,
    model: ScoreModel,
    now_ms: int,
    enrichment: Mapping[str, Any],
) -> dict[str, Any]:
    """The STIX bundle of one audience's view. Not active: ``valid_until`` is now (stop acting on it)."""
    now = _dt(max(now_ms, view.first_ms + 1))
    valid_from = _dt(view.first_ms if view.first_ms else now_ms - 1)
    if view.status == "active":
        valid_until: datetime | None = _dt(int(view.last_ms + 2 * model.half_life_ms(state.kind)))
    else:
        valid_until = now
    sightings = dict(zip(SIGHTING_KINDS, state.sightings, strict=True))
    return indicator_bundle(
        c,
        version=seq,
        created=valid_from,
        modified=now,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked=False,
        status=view.status,
        confidence=view.confidence,
        tlp=view.tlp,
        scam_types=sorted(view.scam_types),
        score=view.score,
        reporter_count=view.reporter_count,
        report_count=view.report_count,
        sightings=sightings,
        first_reported=valid_from,
        last_reported=_dt(view.last_ms) if view.last_ms else valid_from,
        enrichment=dict(enrichment),
        allowlisted=False,
    )


def final_bundle(state: IndicatorState, c: Canonical, now_ms: int, *, erased: bool = False) -> dict[str, Any]:
    """The final withdrawal (STIX ``revoked``): only the value's identity, nothing of any report."""
    now = _dt(now_ms)
    return indicator_bundle(
        c,
        version=state.version,
        created=_dt(now_ms - 1),
        modified=now,
        valid_from=_dt(now_ms - 1),
        valid_until=now,
        revoked=True,
        status="erased" if erased else "revoked",
        confidence=0,
        tlp=TLP.CLEAR,
        scam_types=[],
        score=0,
        reporter_count=0,
        report_count=0,
        sightings={},
        first_reported=_dt(now_ms - 1),
        last_reported=_dt(now_ms - 1),
        enrichment={},
        allowlisted=state.allowlisted,
    )


def build_record(
    state: IndicatorState,
    c: Canonical,
    model: ScoreModel,
    now_ms: int,
    enrichment: Mapping[str, Any] | None = None,
    *,
    erased: bool = False,
) -> dict[str, Any]:
    """The scam.indicators record for the state's current version."""
    facts = dict(enrichment) if enrichment is not None else enrichment_of(c)
    record: dict[str, Any] = {
        "spec": INDICATOR_SPEC,
        "indicator_id": state.indicator_id,
        "version": state.version,
        "kind": state.kind,
        "value": state.value,
        "country": state.country,
        "revoked": state.revoked,
        "allowlisted": state.allowlisted,
        "published_at": stix_timestamp(_dt(now_ms)),
        "views": {},
    }
    if state.revoked:
        record["final"] = final_bundle(state, c, now_ms, erased=erased)
        return record
    # Audiences that see the same reports share one view and one bundle (only its version differs).
    built: dict[tuple[int, ...], tuple[View, dict[str, Any]]] = {}
    sets = dict(audience_sets(state))
    for key, audience in state.audiences:
        seen = sets[key] if key in sets else visible_indexes(state, key)
        if seen not in built:
            view = view_of_set(state, seen, model, now_ms)
            bundle = view_bundle(
                state, view, seq=audience.seq, c=c, model=model, now_ms=now_ms, enrichment=facts
            )
            built[seen] = (view, bundle)
        view, bundle = built[seen]
        if view.status == "none":
            continue
        record["views"][key] = {
            "seq": audience.seq,
            "since": audience.since,
            "status": view.status,
            "tlp": view.tlp.label,
            "score": view.score,
            "scam_types": sorted(view.scam_types),
            "bundle": with_version(bundle, audience.seq),
        }
    return record


def with_version(bundle: dict[str, Any], version: int) -> dict[str, Any]:
    """``bundle`` with its indicator's scamshare version set to ``version`` (copies only what changes)."""
    indicator, *rest = bundle["objects"]
    ext = indicator["extensions"][INDICATOR_EXTENSION_ID]
    if ext.get("version") == version:
        return bundle
    extensions = {**indicator["extensions"], INDICATOR_EXTENSION_ID: {**ext, "version": version}}
    return {**bundle, "objects": [{**indicator, "extensions": extensions}, *rest]}


@dataclass(frozen=True, slots=True)
class RoutedView:
    """What routing needs to know of one audience's view in a record."""

    key: str
    seq: int
    since: int
    status: str
    tlp: TLP
    score: int
    scam_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class IndicatorView:
    """What routing needs to know of one published version: its identity and every audience's view."""

    indicator_id: str
    version: int
    kind: str
    country: str
    revoked: bool
    views: Mapping[str, RoutedView]


def view_of(record: Mapping[str, Any]) -> IndicatorView:
    """Routing view of a scam.indicators record. Raises KeyError/ValueError/TypeError on a malformed one."""
    views: dict[str, RoutedView] = {}
    for key, raw in dict(record["views"]).items():
        tlp = parse_tlp(str(raw["tlp"]))
        if tlp is None:
            raise ValueError(f"unknown TLP {raw['tlp']!r} in view {key!r}")
        views[str(key)] = RoutedView(
            key=str(key),
            seq=int(raw["seq"]),
            since=int(raw["since"]),
            status=str(raw["status"]),
            tlp=TLP(tlp),
            score=int(raw["score"]),
            scam_types=frozenset(raw.get("scam_types", [])),
        )
    if record["revoked"] and not isinstance(record.get("final"), dict):
        raise ValueError("a revoked record carries its final bundle")
    return IndicatorView(
        indicator_id=str(record["indicator_id"]),
        version=int(record["version"]),
        kind=str(record["kind"]),
        country=str(record.get("country", "")),
        revoked=bool(record["revoked"]),
        views=views,
    )
