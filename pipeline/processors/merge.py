"""Merge: fold accepted reports into the state of their indicator. Pure; the store persists the result.

Reports are folded per organisation and TLP level (:class:`~pipeline.state.indicator.Contribution`): first
seen is a min, last seen a max, scam types a union, confidence the organisation's own maximum (its default
where it stated none). Reports of one organisation never change another's contribution, so folding the same
reports in any order gives the same state (commutative); the store's per-submission dedup makes a replayed
report a no-op (idempotent). A withdrawal marks the organisation's contributions withdrawn; its next report
makes the level of that report count again.

A new *version* is published when some audience's view (:mod:`pipeline.processors.visibility`) changed in
something a subscriber acts on: status, TLP, band, scam types or the number of reporting organisations.
Anything else counts as a duplicate. Only erasure and the allowlist revoke (final, STIX ``revoked``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pipeline.processors.score import ScoreModel
from pipeline.processors.validate import Report
from pipeline.processors.visibility import fingerprints, next_audiences, widest_score
from pipeline.state.indicator import Contribution, IndicatorState, evolve, sorted_contributions
from pipeline.wire.sighting import SIGHTING_KINDS

#: the confidence of a report that states none, when the caller did not apply its organisation's default
UNSTATED_CONFIDENCE = 50


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
        indicator_id=c.indicator_id, kind=c.kind, value=c.value, country=c.facts.get("country", "")
    )


def fold(state: IndicatorState | None, report: Report) -> IndicatorState:
    """The state with one more report folded in (no score, no versions: see :func:`finish`)."""
    base = new_state(report) if state is None else state
    reports = base.reports + 1
    if base.revoked and not base.allowlisted:
        return evolve(base, reports=reports)  # final: later reports are counted, nothing else changes
    # (an allowlisted value keeps recording who reports it: it may be a poisoning attempt)
    if report.revoked:
        mine = [replace(c, withdrawn=True) if c.org == report.producer else c for c in base.contributions]
        return evolve(base, reports=reports, contributions=tuple(mine))
    confidence = report.confidence if report.confidence is not None else UNSTATED_CONFIDENCE
    old = base.contribution(report.producer, report.tlp)
    if old is None:
        new = Contribution(
            org=report.producer,
            tlp=report.tlp,
            first_ms=report.observed_ms,
            last_ms=report.observed_ms,
            reports=1,
            confidence=confidence,
            scam_types=frozenset(report.scam_types),
        )
    else:
        new = Contribution(
            org=old.org,
            tlp=old.tlp,
            first_ms=min(old.first_ms, report.observed_ms),
            last_ms=max(old.last_ms, report.observed_ms),
            reports=old.reports + 1,
            confidence=max(old.confidence, confidence),
            scam_types=old.scam_types | set(report.scam_types),
        )
    # A new report makes only its own level count again: what others see never depends on a report
    # they may not see.
    if not base.contributions:
        return evolve(base, reports=reports, contributions=(new,))
    others = [c for c in base.contributions if c.key != new.key]
    return evolve(base, reports=reports, contributions=sorted_contributions([*others, new]))


def finish(
    before: IndicatorState | None, after: IndicatorState, model: ScoreModel, now_ms: int
) -> MergeOutcome:
    """Score ``after``, move the audiences whose view changed, and bump the version if any did."""
    old = before.audience_map() if before is not None else {}
    version = (before.version if before is not None else 0) + 1
    rev = (before.rev if before is not None else 0) + 1
    if after.revoked:
        material = () if before is not None and before.revoked else ("revoked",)
        state = evolve(after, score=0, rev=rev, version=version if material else after.version)
        return MergeOutcome(state, material)
    audiences = next_audiences(old, fingerprints(after, model, now_ms), version)
    changed = sorted(k for k, a in audiences.items() if old.get(k) != a)
    score = widest_score(after, model, now_ms)
    if not changed:
        return MergeOutcome(evolve(after, score=score, rev=rev))
    reasons = ("new",) if before is None else tuple(f"view:{k}" for k in changed)
    state = evolve(after, score=score, rev=rev, audiences=tuple(sorted(audiences.items())), version=version)
    return MergeOutcome(state, reasons)


def merge(state: IndicatorState | None, report: Report, model: ScoreModel, now_ms: int) -> MergeOutcome:
    """Fold one report into the indicator's state and say whether the change is material.

    >>> # merge(None, report, model, now_ms).material == ("new",)
    """
    return finish(state, fold(state, report), model, now_ms)


def fold_sighting(state: IndicatorState, kind: str, org: str) -> IndicatorState:
    """The state with one organisation's sighting folded in (no score, no versions: see :func:`finish`)."""
    if state.revoked:
        return state
    index = SIGHTING_KINDS.index(kind)
    sightings = list(state.sightings)
    sightings[index] += 1
    return evolve(
        state,
        sightings=(sightings[0], sightings[1], sightings[2]),
        tp_by=state.tp_by | {org} if kind != "false_positive" else state.tp_by,
        fp_by=state.fp_by | {org} if kind == "false_positive" else state.fp_by,
    )


def apply_sighting(
    state: IndicatorState, kind: str, model: ScoreModel, now_ms: int, *, org: str
) -> MergeOutcome:
    """Fold one organisation's sighting (true positive, false positive, blocked) into the state.

    One vote per organisation and kind (the caller's marks ensure it). True positives and blocks count as
    corroboration by ``org``; false positives lower the score and, past the quorum, suppress the
    indicator in every view where they outnumber the organisations that support it (reversible).
    """
    return finish(state, fold_sighting(state, kind, org), model, now_ms)


def hold(before: IndicatorState | None, after: IndicatorState) -> MergeOutcome:
    """An allowlisted indicator: flagged; if it had been published, its revocation is published once."""
    held = evolve(after, allowlisted=True, rev=(before.rev if before is not None else 0) + 1)
    if before is not None and before.version > 0 and not before.revoked and not before.allowlisted:
        return MergeOutcome(evolve(held, revoked=True, score=0, version=before.version + 1), ("allowlisted",))
    version = before.version if before is not None else 0
    return MergeOutcome(evolve(held, version=version, audiences=before.audiences if before else ()))


def merge_many(
    state: IndicatorState | None, reports: list[Report], model: ScoreModel, now_ms: int
) -> tuple[IndicatorState, tuple[str, ...], list[bool]]:
    """Fold several reports of one indicator; returns the state, the material reasons, and per report
    whether it added something (the rest count as duplicates). One version per batch."""
    flags: list[bool] = []
    current = state
    for report in reports:
        flags.append(adds_something(current, report))
        current = fold(current, report)
    assert current is not None
    outcome = finish(state, current, model, now_ms)
    return outcome.state, outcome.material, flags


def adds_something(state: IndicatorState | None, report: Report) -> bool:
    """Whether a report is more than a repeat: a new indicator, a withdrawal, a new organisation or TLP
    level, a level that was withdrawn, new scam types or a higher confidence. (Whether a version is
    published is :func:`finish`'s decision; this only tells duplicates apart, cheaply.)"""
    if state is None or report.revoked:
        return True
    old = state.contribution(report.producer, report.tlp)
    if old is None or old.withdrawn:
        return True
    confidence = report.confidence if report.confidence is not None else UNSTATED_CONFIDENCE
    return not set(report.scam_types) <= old.scam_types or confidence > old.confidence
