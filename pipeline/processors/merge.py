"""Merge: fold accepted reports into the state of their indicator. Pure; the store persists the result.

The state is a join-semilattice apart from the version counter: first seen is a min, last seen a max,
reporters and scam types are unions, confidence and TLP are maxima (TLP: the most restrictive wins),
revocation is sticky. So folding the same reports in any order gives the same state (commutative), and the
store's per-submission dedup makes a replayed report a no-op (idempotent).

A new *version* is published only when something a subscriber acts on changes: a new indicator, a new
reporter, the score band, the scam types, the TLP, or revocation. Anything else counts as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pipeline.processors.score import ScoreModel, band
from pipeline.processors.validate import Report
from pipeline.state.indicator import FP_REVOKE_SUBSCRIBERS, IndicatorState
from pipeline.stix.tlp import TLP
from pipeline.wire.sighting import SIGHTING_KINDS


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    state: IndicatorState
    material: tuple[str, ...] = field(default_factory=tuple)

    @property
    def publish(self) -> bool:
        return bool(self.material)


def new_state(report: Report) -> IndicatorState:
    c = report.canonical
    return IndicatorState(
        indicator_id=c.indicator_id,
        kind=c.kind,
        value=c.value,
        first_ms=report.observed_ms,
        last_ms=report.observed_ms,
        reports=0,
        reporters=frozenset(),
        confidence=0,
        scam_types=frozenset(),
        tlp=TLP.CLEAR,
        country=c.facts.get("country", ""),
    )


def merge(state: IndicatorState | None, report: Report, model: ScoreModel, now_ms: int) -> MergeOutcome:
    """Fold one report into the indicator's state and say whether the change is material.

    >>> # merge(None, report, model, now_ms).material == ("new",)
    """
    created = state is None
    base = new_state(report) if state is None else state
    if base.revoked:
        # Revocation is final for this id (STIX); later reports are counted, nothing else changes.
        return MergeOutcome(replace(base, reports=base.reports + 1, rev=base.rev + 1))
    if report.revoked:
        reporters = base.reporters - {report.producer}
        merged = replace(
            base,
            reports=base.reports + 1,
            reporters=reporters,
            retracted=base.retracted | {report.producer},
            revoked=not reporters,
            last_ms=max(base.last_ms, report.observed_ms),
        )
    else:
        merged = replace(
            base,
            first_ms=min(base.first_ms, report.observed_ms),
            last_ms=max(base.last_ms, report.observed_ms),
            reports=base.reports + 1,
            reporters=base.reporters | {report.producer},
            confidence=max(base.confidence, report.confidence if report.confidence is not None else 50),
            scam_types=base.scam_types | set(report.scam_types),
            tlp=max(base.tlp, report.tlp),
        )
    return _finish(base, merged, created, model, now_ms)


def apply_sighting(
    state: IndicatorState, kind: str, count: int, model: ScoreModel, now_ms: int, *, subscriber: str = ""
) -> MergeOutcome:
    """Fold a subscriber's sighting (true positive, false positive, blocked) into the state.

    False positives from ``FP_REVOKE_SUBSCRIBERS`` distinct subscribers revoke the indicator.
    """
    if state.revoked:
        return MergeOutcome(replace(state, rev=state.rev + 1))
    index = SIGHTING_KINDS.index(kind)
    sightings = list(state.sightings)
    sightings[index] += count
    fp_by = state.fp_by | {subscriber} if kind == "false_positive" and subscriber else state.fp_by
    merged = replace(
        state,
        sightings=(sightings[0], sightings[1], sightings[2]),
        fp_by=fp_by,
        revoked=len(fp_by) >= FP_REVOKE_SUBSCRIBERS,
    )
    return _finish(state, merged, False, model, now_ms)


def hold(state: IndicatorState) -> MergeOutcome:
    """An allowlisted indicator: flagged; if it had been published, its revocation is published once."""
    held = replace(state, allowlisted=True)
    if state.version > 0 and not state.revoked and not state.allowlisted:
        return MergeOutcome(replace(held, revoked=True, score=0, version=state.version + 1), ("allowlisted",))
    return MergeOutcome(held)


def _finish(
    before: IndicatorState, merged: IndicatorState, created: bool, model: ScoreModel, now_ms: int
) -> MergeOutcome:
    score = model.score(merged, now_ms)
    merged = replace(merged, score=score, rev=before.rev + 1)
    material: list[str] = []
    if created:
        material.append("new")
    else:
        if merged.reporters - before.reporters:
            material.append("new_reporter")
        if merged.scam_types != before.scam_types:
            material.append("scam_types")
        if merged.tlp != before.tlp:
            material.append("tlp")
        if merged.revoked and not before.revoked:
            material.append("revoked")
        elif band(score, model) != band(before.score, model):
            material.append("score_band")
        if merged.retracted != before.retracted and "revoked" not in material:
            material.append("retracted")
    if material:
        merged = replace(merged, version=before.version + 1)
    return MergeOutcome(merged, tuple(material))


def merge_many(
    state: IndicatorState | None, reports: list[Report], model: ScoreModel, now_ms: int
) -> tuple[IndicatorState, tuple[str, ...], list[bool]]:
    """Fold several reports of one indicator; returns the state, all material reasons, and per report
    whether it was material (the rest count as duplicates). Publishes at most one version per batch."""
    reasons: list[str] = []
    flags: list[bool] = []
    version_before = state.version if state is not None else 0
    current = state
    for report in reports:
        outcome = merge(current, report, model, now_ms)
        reasons.extend(r for r in outcome.material if r not in reasons)
        flags.append(outcome.publish)
        current = outcome.state
    assert current is not None
    if current.version > version_before + 1:
        # Several material changes in one batch are one new version for subscribers.
        current = replace(current, version=version_before + 1)
    return current, tuple(reasons), flags
