"""What a lookup answers about one value, for one organisation: the view fan-out would give it. Pure.

A lookup (``GET /v1/lookup/{kind}/{value}``) must never tell an organisation more than its feeds would: the
answer is computed with the same TLP rules as fan-out (:func:`pipeline.processors.visibility.compute_view`)
for the caller's clearance class and the caller's own reports. A value nobody visible to the caller has
reported is a miss (``known: false``) exactly like a value nobody reported at all, so a lookup is no probe
for another organisation's AMBER+STRICT or RED report. An erased value is a miss too: erasure means the
exchange forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pipeline.canon import Canonical
from pipeline.processors.score import ScoreModel
from pipeline.processors.visibility import clearance_class, compute_view
from pipeline.state.indicator import IndicatorState
from pipeline.stix.times import stix_timestamp
from pipeline.stix.tlp import TLP
from pipeline.wire.sighting import SIGHTING_KINDS


def lookup_clearance(cleared: Iterable[TLP]) -> TLP:
    """An organisation's clearance for lookups: the highest of its subscriptions (none: CLEAR only).

    Fail closed: an organisation that subscribes to nothing was cleared for nothing beyond CLEAR (and its
    own reports, which it always sees)."""
    return max(cleared, default=TLP.CLEAR)


def _time(ms: int) -> str | None:
    return stix_timestamp(datetime.fromtimestamp(ms / 1000, UTC)) if ms else None


def miss(c: Canonical) -> dict[str, Any]:
    return {
        "kind": c.kind, "canonical": c.value, "id": c.indicator_id, "sco_id": c.sco_id, "known": False,
    }  # fmt: skip


def answer(
    state: IndicatorState | None,
    c: Canonical,
    *,
    org: str,
    cleared: TLP,
    model: ScoreModel,
    now_ms: int,
    erased: bool = False,
) -> dict[str, Any]:
    """The lookup answer of canonical value ``c`` for organisation ``org`` cleared for ``cleared``."""
    if state is None or erased:
        return miss(c)
    view = compute_view(state, clearance_class(cleared), org, model, now_ms)
    if view.status == "none":
        return miss(c)
    status: str = view.status
    score, band = view.score, view.band
    if state.revoked:
        status, score, band = "revoked", 0, "low"
    elif state.allowlisted:
        status, score, band = "allowlisted", 0, "low"
    return {
        **miss(c),
        "known": True,
        "status": status,
        "score": score,
        "band": band,
        "tlp": TLP(view.tlp).label,
        "scam_types": sorted(view.scam_types),
        "first_seen": _time(view.first_ms),
        "last_seen": _time(view.last_ms),
        "reporters": view.reporter_count,
        "reports": view.report_count,
        "sightings": dict(zip(SIGHTING_KINDS, state.sightings, strict=True)),
        # RED is shared with nobody, its reporter included (fan-out delivers it to no feed): a RED report
        # of the caller's own does not make the value "reported by you" either.
        "reported_by_you": any(
            x.org == org and not x.withdrawn and x.tlp != TLP.RED for x in state.contributions
        ),
    }
