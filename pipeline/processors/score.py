"""Score 0-100 of what one audience can see: corroboration by distinct organisations, weighted by trust. Pure.

Each distinct reporting organisation *i* in the view is evidence ``e_i = trust_i × confidence_i / 100``:
its registered trust and the confidence *it* stated (its organisation default where it stated none) —
never another reporter's. Independent evidence combines as ``1 − Π(1 − w·e_i)`` with
``w = single_reporter_cap`` (0.8). True-positive and blocked sightings add ``sighting_weight`` (0.1) per
sighting organisation (at most 5); false positives subtract twice that per organisation (at most 10).

**No single organisation can force a block.** Unless the view holds at least ``min_corroboration`` (2)
distinct organisations — reporters and sighting organisations together, and with ``diversity`` set, of
distinct sectors or countries — the score is capped at ``block − 1`` (79), whatever the trust, the
confidence, the number of reports or sightings. The score decays with the time since the view's last
report: half of it is gone after the kind's half-life (:mod:`pipeline.canon.registry`; phone 30 d,
URL 14 d, domain 180 d, e-mail 90 d, wallet 365 d, bank account 180 d, social 60 d, IMEI 180 d).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pipeline.canon import REGISTRY
from pipeline.state.indicator import Contribution

DAY_MS: Final = 86_400_000

#: Kind → half-life in days, as each kind declares it.
DEFAULT_HALF_LIFE_DAYS: Final[Mapping[str, float]] = REGISTRY.half_lives()

Diversity = Literal["sector", "country"]


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """Parameters of the score; the worker fills ``trust`` and ``profiles`` from the registry."""

    #: organisation → trust 0-1 (registered producers)
    trust: Mapping[str, float] = field(default_factory=dict)
    #: trust of an organisation the model has no entry for (the worker: 0, nothing counts unregistered)
    default_trust: float = 0.0
    single_reporter_cap: float = 0.8
    sighting_weight: float = 0.1
    #: distinct organisations a view needs before its score may reach the blocking band
    min_corroboration: int = 2
    #: if set, those organisations must also differ in sector (or country); needs ``profiles``
    diversity: Diversity | None = None
    #: organisation → (sector, country), for ``diversity``
    profiles: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: false-positive organisations needed before an indicator can be suppressed (and more than support it)
    fp_quorum: int = 2
    half_life_days: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_HALF_LIFE_DAYS))
    #: lower bounds of the bands: [0, medium) low, [medium, block) medium, [block, 100] block
    medium: int = 40
    block: int = 80
    #: how long a state outlives its last report's validity (two half-lives) before the store drops it
    state_grace_days: float = 30.0

    def __post_init__(self) -> None:
        missing = [kind for kind in REGISTRY.names if kind not in self.half_life_days]
        if missing:
            raise ValueError(f"half_life_days has no half-life for {missing}: give one for every kind")
        if self.min_corroboration < 1:
            raise ValueError("min_corroboration must be at least 1")

    def half_life_ms(self, kind: str) -> float:
        """The decay half-life of ``kind`` in milliseconds. KeyError for a kind the model does not know."""
        try:
            return self.half_life_days[kind] * DAY_MS
        except KeyError:
            raise KeyError(f"no half-life for indicator kind {kind!r}") from None

    def expires_at_ms(self, kind: str, last_ms: int, now_ms: int) -> int:
        """When the state of an indicator last reported at ``last_ms`` may be dropped: its validity (two
        half-lives) plus the grace, and never before ``now_ms`` plus the grace."""
        grace = self.state_grace_days * DAY_MS
        return int(max(last_ms + 2 * self.half_life_ms(kind), now_ms) + grace)

    def trust_of(self, org: str) -> float:
        return min(1.0, max(0.0, self.trust.get(org, self.default_trust)))

    def corroborated(self, orgs: Collection[str]) -> bool:
        """Whether these organisations are enough, and diverse enough, to reach the blocking band."""
        if len(orgs) < self.min_corroboration:
            return False
        if self.diversity is None:
            return True
        index = 0 if self.diversity == "sector" else 1
        groups = {self.profiles.get(o, ("", ""))[index] or f"?{o}" for o in orgs}
        return len(groups) >= self.min_corroboration

    def score(
        self,
        kind: str,
        contributions: Iterable[Contribution],
        tp_by: Collection[str],
        fp_by: Collection[str],
        now_ms: int,
    ) -> int:
        """The score of a view made of these (active) contributions and the sighting organisations."""
        confidence: dict[str, int] = {}
        last_ms = 0
        for c in contributions:
            confidence[c.org] = max(confidence.get(c.org, 0), c.confidence)
            last_ms = max(last_ms, c.last_ms)
        if not confidence:
            return 0
        miss = 1.0
        for org, conf in confidence.items():
            miss *= 1 - self.single_reporter_cap * self.trust_of(org) * conf / 100
        evidence = 1 - miss
        evidence += self.sighting_weight * (min(len(tp_by), 5) - min(len(fp_by), 10) * 2)
        evidence = min(1.0, max(0.0, evidence))
        age = max(0, now_ms - last_ms)
        decayed: float = evidence * 0.5 ** (age / self.half_life_ms(kind))
        value = round(100 * decayed)
        if not self.corroborated(set(confidence) | set(tp_by)):
            value = min(value, self.block - 1)
        return value


def band(score: int, model: ScoreModel) -> str:
    """'low', 'medium' or 'block'."""
    if score >= model.block:
        return "block"
    if score >= model.medium:
        return "medium"
    return "low"
