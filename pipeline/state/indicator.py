"""The state of one indicator: the record the store persists and the processors fold reports into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pipeline.stix.tlp import TLP
from pipeline.wire.sighting import SIGHTING_KINDS

__all__ = ["FP_REVOKE_SUBSCRIBERS", "SIGHTING_KINDS", "IndicatorState"]

FP_REVOKE_SUBSCRIBERS: Final = 2


@dataclass(frozen=True, slots=True)
class IndicatorState:
    """Everything the pipeline knows about one indicator (persisted as one Redis hash)."""

    indicator_id: str
    kind: str
    value: str
    first_ms: int
    last_ms: int
    reports: int
    reporters: frozenset[str]
    confidence: int
    scam_types: frozenset[str]
    tlp: TLP
    revoked: bool = False
    retracted: frozenset[str] = frozenset()
    sightings: tuple[int, int, int] = (0, 0, 0)
    score: int = 0
    version: int = 0
    rev: int = 0
    country: str = ""
    #: held by the allowlist: merged and counted, never published (a published one is revoked once)
    allowlisted: bool = False
    #: subscribers that reported a false positive (two or more distinct ones revoke the indicator)
    fp_by: frozenset[str] = frozenset()

    def comparable(self) -> tuple[object, ...]:
        """The state without its order-dependent counters (version, rev, score): for commutativity checks."""
        return (
            self.indicator_id, self.kind, self.value, self.first_ms, self.last_ms, self.reports,
            self.reporters, self.confidence, self.scam_types, self.tlp, self.revoked, self.retracted,
            self.sightings, self.country, self.allowlisted, self.fp_by,
        )  # fmt: skip
