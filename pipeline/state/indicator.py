"""The state of one indicator: the record the store persists and the processors fold reports into.

An indicator's state keeps each organisation's reports apart, one :class:`Contribution` per organisation
and TLP level, so what a subscriber receives can be computed from the reports it may see and nothing else
(:mod:`pipeline.processors.visibility`). The *audiences* remember, per group of subscribers that see the
same reports, the fingerprint of their last material view, its own version number, and the global version at
which it last changed: fan-out delivers a version to a subscriber only when its own view changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Final

from pipeline.stix.tlp import TLP
from pipeline.wire.sighting import SIGHTING_KINDS

__all__ = ["SIGHTING_KINDS", "Audience", "Contribution", "IndicatorState", "evolve"]

#: The view of an audience that can see no report: nothing delivered (a past recipient gets a withdrawal).
NO_VIEW: Final = ""


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one organisation reported of one indicator at one TLP level (its reports folded together)."""

    org: str
    tlp: TLP
    first_ms: int
    last_ms: int
    reports: int
    #: the highest confidence this organisation stated at this level (its default where it stated none)
    confidence: int
    scam_types: frozenset[str]
    #: the organisation withdrew its report; a later report of it makes it count again
    withdrawn: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.org, int(self.tlp))


@dataclass(frozen=True, slots=True)
class Audience:
    """What one audience last saw: view fingerprint, its own version, the global version it changed at."""

    fingerprint: str = NO_VIEW
    seq: int = 0
    since: int = 0


@dataclass(frozen=True, slots=True)
class IndicatorState:
    """Everything the pipeline knows about one indicator (persisted as one Redis hash)."""

    indicator_id: str
    kind: str
    value: str
    contributions: tuple[Contribution, ...] = ()
    #: every report folded in (withdrawals included), for operators; not a field any bundle shows
    reports: int = 0
    #: sighting counts (true positive, false positive, blocked): one per organisation and kind
    sightings: tuple[int, int, int] = (0, 0, 0)
    #: organisations whose true-positive or blocked sightings count as corroboration
    tp_by: frozenset[str] = frozenset()
    #: organisations that reported a false positive
    fp_by: frozenset[str] = frozenset()
    #: final: erased, or held by the allowlist after it was published (STIX ``revoked``)
    revoked: bool = False
    #: held by the allowlist: merged and counted, never published (a published one is revoked once)
    allowlisted: bool = False
    #: the score of the widest view (every report but RED) — operators' number; bundles carry their own
    score: int = 0
    version: int = 0
    rev: int = 0
    country: str = ""
    #: audience key → what that audience last saw (absent: the same as its parent audience)
    audiences: tuple[tuple[str, Audience], ...] = ()

    # -- derived --------------------------------------------------------------------------------------
    @property
    def active(self) -> tuple[Contribution, ...]:
        return tuple(c for c in self.contributions if not c.withdrawn)

    @property
    def reporters(self) -> frozenset[str]:
        """Organisations with a report that is not withdrawn (any TLP)."""
        return frozenset(c.org for c in self.contributions if not c.withdrawn)

    @property
    def retracted(self) -> frozenset[str]:
        """Organisations that withdrew every report they made of it."""
        return frozenset(c.org for c in self.contributions) - self.reporters

    @property
    def first_ms(self) -> int:
        return min((c.first_ms for c in self.contributions), default=0)

    @property
    def last_ms(self) -> int:
        return max((c.last_ms for c in self.contributions), default=0)

    @property
    def scam_types(self) -> frozenset[str]:
        return frozenset(t for c in self.active for t in c.scam_types)

    @property
    def tlp(self) -> TLP:
        """The most restrictive level of the active reports (CLEAR when there is none)."""
        return max((c.tlp for c in self.active), default=TLP.CLEAR)

    @property
    def confidence(self) -> int:
        return max((c.confidence for c in self.active), default=0)

    def audience_map(self) -> dict[str, Audience]:
        return dict(self.audiences)

    def contribution(self, org: str, tlp: TLP) -> Contribution | None:
        for c in self.contributions:
            if c.org == org and c.tlp == tlp:
                return c
        return None

    def comparable(self) -> tuple[object, ...]:
        """The state without its order-dependent counters (version, rev, score, audiences): for
        commutativity checks."""
        return (
            self.indicator_id, self.kind, self.value, self.contributions, self.reports, self.sightings,
            self.tp_by, self.fp_by, self.revoked, self.country, self.allowlisted,
        )  # fmt: skip


def sorted_contributions(items: Iterable[Contribution]) -> tuple[Contribution, ...]:
    return tuple(sorted(items, key=lambda c: c.key))


_STATE_FIELDS: Final = tuple(f.name for f in fields(IndicatorState))
_STATE_FIELD_SET: Final = frozenset(_STATE_FIELDS)
_SET: Final = object.__setattr__


def evolve(state: IndicatorState, **changes: Any) -> IndicatorState:
    """``dataclasses.replace(state, **changes)`` in about 60 % of its time (merging calls it twice per
    report): the fields are copied into a new object, not passed through the generated ``__init__``.
    TypeError for a name that is not a field, as ``replace`` raises."""
    if not changes.keys() <= _STATE_FIELD_SET:
        raise TypeError(f"IndicatorState has no field {sorted(changes.keys() - _STATE_FIELD_SET)}")
    obj = object.__new__(IndicatorState)
    for name in _STATE_FIELDS:
        _SET(obj, name, changes[name] if name in changes else getattr(state, name))
    return obj
