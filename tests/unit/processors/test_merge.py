from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.merge import apply_sighting, merge, merge_many
from pipeline.processors.score import ScoreModel
from pipeline.stix.tlp import TLP

from .factories import T0, report

MODEL = ScoreModel(default_trust=0.6)
NOW = T0 + 1000


def test_first_report_creates_a_published_indicator() -> None:
    out = merge(None, report(), MODEL, NOW)
    assert out.material == ("new",)
    s = out.state
    assert (s.reports, s.reporters, s.version, s.rev) == (1, frozenset({"telco-a"}), 1, 1)
    assert s.country == "TH"


def test_same_reporter_again_is_a_duplicate_new_reporter_is_material() -> None:
    first = merge(None, report(), MODEL, NOW).state
    again = merge(first, report(sub="s2", at=T0 + 10), MODEL, NOW)
    assert again.material == ()
    assert again.state.reports == 2 and again.state.version == 1 and again.state.last_ms == T0 + 10
    other = merge(again.state, report(producer="bank-b", sub="s3"), MODEL, NOW)
    assert other.publish
    assert other.state.version == 2 and len(other.state.reporters) == 2


def test_each_report_keeps_its_own_tlp() -> None:
    s = merge(None, report(tlp=TLP.GREEN, scam_types=("investment",)), MODEL, NOW).state
    out = merge(s, report(producer="p2", tlp=TLP.AMBER, scam_types=("romance",)), MODEL, NOW)
    levels = {(c.org, c.tlp, c.scam_types) for c in out.state.contributions}
    assert levels == {
        ("telco-a", TLP.GREEN, frozenset({"investment"})),
        ("p2", TLP.AMBER, frozenset({"romance"})),
    }
    assert out.publish and out.state.tlp == TLP.AMBER


def test_each_reporter_keeps_its_own_confidence() -> None:
    s = merge(None, report(producer="a", confidence=1), MODEL, NOW).state
    s = merge(s, report(producer="b", sub="2", confidence=100), MODEL, NOW).state
    assert {(c.org, c.confidence) for c in s.contributions} == {("a", 1), ("b", 100)}


def test_withdrawal_by_every_reporter_withdraws_and_a_new_report_brings_it_back() -> None:
    s = merge(None, report(producer="a"), MODEL, NOW).state
    s = merge(s, report(producer="b", sub="2"), MODEL, NOW).state
    half = merge(s, report(producer="a", sub="3", revoked=True), MODEL, NOW)
    assert half.state.reporters == {"b"} and half.state.retracted == {"a"} and half.publish
    full = merge(half.state, report(producer="b", sub="4", revoked=True), MODEL, NOW)
    assert not full.state.revoked and full.state.reporters == frozenset() and full.publish
    assert full.state.score == 0
    later = merge(full.state, report(producer="c", sub="5"), MODEL, NOW)
    assert later.publish and later.state.reporters == {"c"} and later.state.score > 0


def test_a_revoked_indicator_is_final() -> None:
    s = merge(None, report(producer="a"), MODEL, NOW).state
    gone = replace(s, revoked=True)
    later = merge(gone, report(producer="c", sub="5"), MODEL, NOW)
    assert later.state.revoked and later.material == () and later.state.reports == gone.reports + 1


def test_merge_many_publishes_one_version_per_batch() -> None:
    reports = [report(producer=p, sub=p) for p in ("a", "b", "c")]
    state, reasons, flags = merge_many(None, reports, MODEL, NOW)
    assert state.version == 1
    assert reasons == ("new",)
    assert flags == [True, True, True]
    assert all(a.since == 1 for _, a in state.audiences)


def test_false_positive_sightings_lower_the_score() -> None:
    s = merge(None, report(producer="a"), MODEL, NOW).state
    s = merge(s, report(producer="b", sub="2"), MODEL, NOW).state
    after = apply_sighting(s, "false_positive", MODEL, NOW, org="bank")
    assert after.state.sightings == (0, 1, 0) and after.state.fp_by == {"bank"}
    assert after.state.score < s.score


reports_strategy = st.lists(
    st.builds(
        lambda p, t, c, tlp, st_, i: report(
            producer=p, at=T0 + t, confidence=c, tlp=tlp, scam_types=st_, sub=f"s{i}"
        ),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, 10**9),
        st.none() | st.integers(0, 100),
        st.sampled_from(list(TLP)),
        st.sets(st.sampled_from(["investment", "romance", "phishing"]), max_size=2).map(
            lambda s: tuple(sorted(s))
        ),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(reports_strategy, st.randoms(use_true_random=False))
def test_merge_is_commutative(reports: list, rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(reports)
    rnd.shuffle(shuffled)
    a, _, _ = merge_many(None, reports, MODEL, NOW)
    b, _, _ = merge_many(None, shuffled, MODEL, NOW)
    assert a.comparable() == b.comparable()
    assert a.score == b.score


@settings(max_examples=100, deadline=None)
@given(reports_strategy)
def test_version_only_grows_and_score_stays_in_range(reports: list) -> None:  # type: ignore[no-untyped-def]
    state = None
    for r in reports:
        out = merge(state, r, MODEL, NOW)
        if state is not None:
            assert out.state.version >= state.version
            assert out.state.rev == state.rev + 1
        assert 0 <= out.state.score <= 100
        assert all(a.since <= out.state.version for _, a in out.state.audiences)
        state = out.state
    assert state is not None and state == replace(state)
