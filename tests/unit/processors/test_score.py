"""The score: no single organisation can force a block; each reporter counts with its own confidence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.merge import apply_sighting, merge
from pipeline.processors.score import DAY_MS, ScoreModel, band
from pipeline.processors.visibility import CLASSES, compute_view
from pipeline.state.indicator import IndicatorState
from pipeline.stix.tlp import TLP

from .factories import T0, report

MODEL = ScoreModel(trust={"police-th": 1.0, "spammy": 0.2, "a": 0.55, "b": 0.55, "c": 0.55})


def state_with(*producers: str, confidence: int | None = 100, at: int = T0, model: ScoreModel = MODEL):
    s = None
    for i, p in enumerate(producers):
        s = merge(s, report(producer=p, sub=str(i), confidence=confidence, at=at), model, at).state
    assert s is not None
    return s


def score(state: IndicatorState, now_ms: int = T0, model: ScoreModel = MODEL) -> int:
    return compute_view(state, int(TLP.AMBER), None, model, now_ms).score


def test_invented_organisations_count_for_nothing() -> None:
    # Measured: unknown ids got trust 0.55; three invented producers pushed a landline to 82, ten to 100.
    invented = [f"ghost-{i}" for i in range(10)]
    assert score(state_with(*invented[:3])) == 0
    assert score(state_with(*invented)) == 0


def test_each_reporter_counts_with_its_own_confidence_never_anothers() -> None:
    # Measured: confidence was the maximum over all reports and applied to every reporter: nine reports
    # at confidence 1 scored 4, a tenth at 100 made it 100.
    model = ScoreModel(default_trust=0.5)
    orgs = [f"org-{i}" for i in range(10)]
    s = None
    for i, org in enumerate(orgs):
        conf = 100 if i == 9 else 1
        s = merge(s, report(producer=org, sub=str(i), confidence=conf), model, T0).state
    assert s is not None
    nine_low = score(state_with(*orgs[:9], confidence=1, model=model), model=model)
    assert nine_low <= 4
    assert score(s, model=model) == 42  # 1 − 0.996⁹ · 0.6: the tenth adds its own evidence, not 100
    assert band(score(s, model=model), model) == "medium"


def test_one_low_trust_reporter_cannot_reach_the_blocking_band() -> None:
    assert band(score(state_with("spammy")), MODEL) == "low"


def test_a_fully_trusted_reporter_alone_stays_below_the_blocking_band() -> None:
    assert score(state_with("police-th")) == 79  # 80 uncapped: one organisation never blocks alone
    assert score(state_with("police-th", "a")) >= 80


def test_corroboration_by_distinct_reporters_raises_the_score() -> None:
    one, two, three = score(state_with("a")), score(state_with("a", "b")), score(state_with("a", "b", "c"))
    assert one < two < three
    assert band(three, MODEL) == "block"


def test_diversity_option_needs_distinct_sectors() -> None:
    profiles = {"a": ("bank", "TH"), "b": ("bank", "SG"), "c": ("telecom", "TH")}
    trust = {"a": 0.9, "b": 0.9, "c": 0.9}
    assert score(state_with("a", "b", model=ScoreModel(trust=trust)), model=ScoreModel(trust=trust)) >= 80
    model = ScoreModel(trust=trust, diversity="sector", profiles=profiles)
    assert score(state_with("a", "b", model=model), model=model) == 79  # two banks: one sector
    assert score(state_with("a", "c", model=model), model=model) >= 80
    by_country = ScoreModel(trust=trust, diversity="country", profiles=profiles)
    assert score(state_with("a", "c", model=by_country), model=by_country) == 79  # both TH


def test_score_halves_after_the_kind_half_life() -> None:
    s = state_with("a", "b")
    fresh = score(s, T0)
    aged = score(s, T0 + 30 * DAY_MS)  # phone: 30 days
    assert abs(aged - fresh / 2) <= 1


def test_an_imei_decays_over_180_days() -> None:
    s = merge(None, report("imei", "352099001761481", producer="a"), MODEL, T0).state
    fresh = score(s, T0)
    assert score(s, T0 + 30 * DAY_MS) > fresh * 0.85  # a phone would have halved by now
    assert abs(score(s, T0 + 179 * DAY_MS) - fresh / 2) <= 1


@given(
    st.lists(st.sampled_from(["a", "b", "c", "spammy", "police-th"]), min_size=1, max_size=5),
    st.integers(0, 100),
)
def test_score_is_bounded(producers: list[str], confidence: int) -> None:
    assert 0 <= score(state_with(*producers, confidence=confidence)) <= 100


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(TLP)), st.none() | st.integers(0, 100), st.integers(0, 10**7)),
        min_size=1,
        max_size=12,
    ),
    st.floats(0, 1),
    st.lists(st.sampled_from(["true_positive", "blocked", "false_positive"]), max_size=3),
)
def test_no_set_of_reports_from_one_organisation_reaches_blocking(
    reports: list[tuple[TLP, int | None, int]], trust: float, sightings: list[str]
) -> None:
    """Whatever one organisation reports, at any TLP, confidence or trust, and sights itself: < block."""
    model = ScoreModel(trust={"solo": trust})
    s = None
    for i, (tlp, conf, ago) in enumerate(reports):
        s = merge(
            s, report(producer="solo", sub=str(i), tlp=tlp, confidence=conf, at=T0 - ago), model, T0
        ).state
    assert s is not None
    for kind in sightings:
        s = apply_sighting(s, kind, model, T0, org="solo").state
    for cls in CLASSES:
        for org in (None, "solo"):
            assert compute_view(s, int(cls), org, model, T0).score < model.block
    assert s.score < model.block
