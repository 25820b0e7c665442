from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from pipeline.processors.merge import merge
from pipeline.processors.score import DAY_MS, ScoreModel, band

from .factories import T0, report

MODEL = ScoreModel(trust={"police-th": 1.0, "spammy": 0.2})


def state_with(*producers: str, confidence: int = 100, at: int = T0):
    s = None
    for i, p in enumerate(producers):
        s = merge(s, report(producer=p, sub=str(i), confidence=confidence, at=at), MODEL, at).state
    assert s is not None
    return s


def test_one_low_trust_reporter_cannot_reach_the_blocking_band() -> None:
    assert band(MODEL.score(state_with("spammy"), T0), MODEL) == "low"
    assert band(MODEL.score(state_with("unknown-org"), T0), MODEL) != "block"


def test_corroboration_by_distinct_reporters_raises_the_score() -> None:
    one = MODEL.score(state_with("a"), T0)
    two = MODEL.score(state_with("a", "b"), T0)
    three = MODEL.score(state_with("a", "b", "c"), T0)
    assert one < two < three
    assert band(three, MODEL) == "block"


def test_a_fully_trusted_reporter_alone_reaches_the_cap_only() -> None:
    assert MODEL.score(state_with("police-th"), T0) == 80


def test_score_halves_after_the_kind_half_life() -> None:
    s = state_with("a", "b")
    fresh = MODEL.score(s, T0)
    aged = MODEL.score(s, T0 + 30 * DAY_MS)  # phone: 30 days
    assert abs(aged - fresh / 2) <= 1


def test_an_imei_decays_over_180_days() -> None:
    s = merge(None, report("imei", "352099001761481", producer="a"), MODEL, T0).state
    fresh = MODEL.score(s, T0)
    assert MODEL.score(s, T0 + 30 * DAY_MS) > fresh * 0.85  # a phone would have halved by now
    assert abs(MODEL.score(s, T0 + 180 * DAY_MS) - fresh / 2) <= 1


def test_revoked_scores_zero() -> None:
    assert MODEL.score(replace(state_with("a"), revoked=True), T0) == 0


@given(
    st.lists(st.sampled_from(["a", "b", "c", "spammy", "police-th"]), min_size=1, max_size=5),
    st.integers(0, 100),
)
def test_score_is_bounded(producers: list[str], confidence: int) -> None:
    s = state_with(*producers, confidence=confidence)
    assert 0 <= MODEL.score(s, T0) <= 100
