"""Score 0-100: corroboration by distinct reporters weighted by trust, sightings, and age decay. Pure.

Each distinct reporter *i* is evidence ``e_i = trust_i × confidence/100``; independent evidence combines as
``1 − Π(1 − w·e_i)`` with ``w = single_reporter_cap`` (0.8), so one reporter alone — however trusted — reaches
at most 80 (the blocking band starts at 80), one of default trust (0.55) at most 44, and three
default-trust reporters at full confidence reach 82. True-positive and blocked
sightings add evidence; false positives subtract. The score decays with the time since the last report:
half of it is gone after the kind's half-life, declared with the kind (:mod:`pipeline.canon.registry`;
phone 30 d, URL 14 d, domain 180 d, e-mail 90 d, wallet 365 d, bank account 180 d, social 60 d, IMEI 180 d).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pipeline.canon import REGISTRY

if TYPE_CHECKING:
    from pipeline.state.indicator import IndicatorState

DAY_MS: Final = 86_400_000

#: Kind → half-life in days, as each kind declares it.
DEFAULT_HALF_LIFE_DAYS: Final[Mapping[str, float]] = REGISTRY.half_lives()


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """Parameters of the score; built from settings."""

    trust: Mapping[str, float] = field(default_factory=dict)
    default_trust: float = 0.55
    single_reporter_cap: float = 0.8
    sighting_weight: float = 0.1
    half_life_days: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_HALF_LIFE_DAYS))
    #: lower bounds of the bands: [0, medium) low, [medium, block) medium, [block, 100] block
    medium: int = 40
    block: int = 80
    revoke_below: int = 10

    def __post_init__(self) -> None:
        missing = [kind for kind in REGISTRY.names if kind not in self.half_life_days]
        if missing:
            raise ValueError(f"half_life_days has no half-life for {missing}: give one for every kind")

    def half_life_ms(self, kind: str) -> float:
        """The decay half-life of ``kind`` in milliseconds. KeyError for a kind the model does not know."""
        try:
            return self.half_life_days[kind] * DAY_MS
        except KeyError:
            raise KeyError(f"no half-life for indicator kind {kind!r}") from None

    def trust_of(self, producer: str) -> float:
        return min(1.0, max(0.0, self.trust.get(producer, self.default_trust)))

    def score(self, state: IndicatorState, now_ms: int) -> int:
        """The indicator's score at ``now_ms``; 0 for a revoked one."""
        if state.revoked or not state.reporters:
            return 0
        conf = state.confidence / 100
        miss = 1.0
        for producer in state.reporters:
            miss *= 1 - self.single_reporter_cap * self.trust_of(producer) * conf
        evidence = 1 - miss
        tp, fp, blocked = state.sightings
        evidence += self.sighting_weight * (min(tp + blocked, 5) - min(fp, 10) * 2)
        evidence = min(1.0, max(0.0, evidence))
        half_life = self.half_life_ms(state.kind)
        age = max(0, now_ms - state.last_ms)
        decayed: float = evidence * 0.5 ** (age / half_life)
        return round(100 * decayed)


def band(score: int, model: ScoreModel) -> str:
    """'low', 'medium' or 'block'."""
    if score >= model.block:
        return "block"
    if score >= model.medium:
        return "medium"
    return "low"
