"""TLP per report: each subscription's bundle comes from the reports it may see, and nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.score import ScoreModel
from pipeline.processors.validate import Report
from pipeline.processors.visibility import (
    audience_keys,
    audience_sets,
    view_from,
    view_of_set,
    visible,
    visible_indexes,
)
from pipeline.state.indicator import Contribution, IndicatorState, sorted_contributions
from pipeline.stix.tlp import TLP

from .exchange import Exchange, sub
from .factories import T0, report

TELCO = sub("telco-th", "telco", tlp="green")
BANK = sub("bank-sg", "bank", sector="bank", tlp="amber")
PLATFORM = sub("platform-x", "platform", sector="platform", tlp="green")
POLICE = sub("police-au", "police", sector="law-enforcement", tlp="amber+strict")
SUBS = [TELCO, BANK, PLATFORM, POLICE]
MODEL = ScoreModel(trust={"telco": 0.8, "bank": 0.9, "platform": 0.6, "police": 1.0, "c": 0.7})


def test_a_green_reporter_never_receives_anyone_elses_amber_strict_report() -> None:
    # Measured: a telecom that reported GREEN received the bank's AMBER+STRICT version (scam type,
    # confidence and first-seen time included). Reporting a value must not be a probe for others' data.
    ex = Exchange(SUBS, MODEL)
    ex.report(report(producer="bank", sub="b1", tlp=TLP.AMBER_STRICT, scam_types=("romance",),
                     confidence=95, at=T0))  # fmt: skip
    assert ex.inbox.keys() == {"bank-sg"}
    ex.report(report(producer="telco", sub="t1", tlp=TLP.GREEN, scam_types=("investment",),
                     confidence=60, at=T0 + 5000))  # fmt: skip
    telco = ex.last("telco-th")
    assert telco is not None
    assert telco.ext["scam_types"] == ["investment"]
    assert telco.indicator["confidence"] == 60
    assert telco.ext["first_reported"] == "2026-05-28T20:26:45.000Z"
    assert telco.ext["reporter_count"] == 1 and telco.ext["report_count"] == 1
    assert telco.indicator["object_marking_refs"] == [TLP.GREEN.marking_id]
    bank = ex.last("bank-sg")
    assert bank is not None and bank.ext["scam_types"] == ["investment", "romance"]
    assert bank.ext["reporter_count"] == 2 and bank.indicator["confidence"] == 95
    assert bank.indicator["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]


def test_a_red_report_never_freezes_what_others_see() -> None:
    # Measured: a RED report of an already delivered GREEN value froze it; later corroboration never
    # reached any subscriber.
    ex = Exchange(SUBS, MODEL)
    ex.report(report(producer="platform", sub="p1", tlp=TLP.GREEN))
    assert set(ex.inbox) == {"telco-th", "bank-sg", "platform-x", "police-au"}
    assert ex.report(report(producer="police", sub="r1", tlp=TLP.RED)) == []
    got = ex.report(report(producer="telco", sub="t1", tlp=TLP.GREEN))
    assert set(got) == {"telco-th", "bank-sg", "platform-x", "police-au"}
    for s in SUBS:
        item = ex.last(s.id)
        assert item is not None and item.ext["reporter_count"] == 2 and item.status == "active"


def test_who_can_see_nothing_gets_nothing() -> None:
    ex = Exchange(SUBS, MODEL)
    assert ex.report(report(producer="bank", sub="b1", tlp=TLP.AMBER)) == ["bank-sg", "police-au"]
    assert ex.report(report(producer="c", sub="c1", tlp=TLP.AMBER_STRICT)) == []
    assert ex.report(report(producer="c", sub="c2", tlp=TLP.RED)) == []
    assert "telco-th" not in ex.inbox and "platform-x" not in ex.inbox


def test_own_reports_are_visible_to_the_reporter_at_any_clearance() -> None:
    ex = Exchange([sub("telco-th", "telco", tlp="clear")], MODEL)
    assert ex.report(report(producer="telco", sub="t1", tlp=TLP.AMBER)) == ["telco-th"]


def test_a_subscriber_that_no_longer_sees_any_active_report_gets_a_withdrawal_others_keep_theirs() -> None:
    ex = Exchange(SUBS, MODEL)
    ex.report(report(producer="platform", sub="p1", tlp=TLP.GREEN))
    ex.report(report(producer="bank", sub="b1", tlp=TLP.AMBER_STRICT))
    got = ex.report(report(producer="platform", sub="p2", revoked=True))
    assert set(got) == {"telco-th", "bank-sg", "platform-x", "police-au"}
    for s in (TELCO, PLATFORM, POLICE):
        item = ex.last(s.id)
        assert item is not None and item.status == "withdrawn"
        assert "scam_types" not in item.ext and item.ext["reporter_count"] == 0
    bank = ex.last("bank-sg")
    assert bank is not None and bank.status == "active" and bank.ext["reporter_count"] == 1
    # A new report brings it back: withdrawal is not final.
    assert "telco-th" in ex.report(report(producer="telco", sub="t9", tlp=TLP.GREEN))
    back = ex.last("telco-th")
    assert back is not None and back.status == "active" and back.ext["reporter_count"] == 1


def test_visibility_rules() -> None:
    def c(org: str, tlp: TLP) -> Contribution:
        return Contribution(org, tlp, T0, T0, 1, 50, frozenset())

    assert visible(c("a", TLP.CLEAR), 0, None)
    assert not visible(c("a", TLP.GREEN), 0, None) and visible(c("a", TLP.GREEN), 1, None)
    assert not visible(c("a", TLP.AMBER), 1, None) and visible(c("a", TLP.AMBER), 2, None)
    assert visible(c("a", TLP.AMBER), 0, "a")
    assert not visible(c("a", TLP.AMBER_STRICT), 2, None) and not visible(c("a", TLP.AMBER_STRICT), 2, "b")
    assert visible(c("a", TLP.AMBER_STRICT), 0, "a")
    assert not visible(c("a", TLP.RED), 2, "a")


ORGS = ["telco", "bank", "platform", "police", "c"]
reports_strategy = st.lists(
    st.builds(
        lambda i, org, tlp, conf, types, at, withdraw: report(
            producer=org,
            sub=f"s{i}",
            tlp=tlp,
            confidence=conf,
            scam_types=types,
            at=T0 - at,
            revoked=withdraw,
        ),
        st.integers(0, 10**9),
        st.sampled_from(ORGS),
        st.sampled_from(list(TLP)),
        st.none() | st.integers(0, 100),
        st.sets(st.sampled_from(["investment", "romance", "phishing"]), max_size=2).map(
            lambda s: tuple(sorted(s))
        ),
        st.integers(0, 10**8),
        st.sampled_from([False, False, False, True]),
    ),
    min_size=1,
    max_size=10,
)


def _sees(s_org: str, cleared: TLP, r: Report) -> bool:
    contribution = Contribution(r.producer, r.tlp, 0, 0, 1, 0, frozenset())
    return visible(contribution, int(min(cleared, TLP.AMBER)), s_org)


@settings(max_examples=300, deadline=None)
@given(reports_strategy, st.sampled_from(SUBS), st.lists(st.sampled_from(["true_positive",
       "false_positive", "blocked"]), max_size=3), st.lists(st.sampled_from(ORGS), max_size=3))  # fmt: skip
def test_no_field_a_subscriber_receives_depends_on_a_report_it_may_not_see(
    reports: list[Report], s: object, kinds: list[str], sighters: list[str]
) -> None:
    """Run the reports with and without the ones ``s`` may not see: ``s`` receives the same, in order."""
    assert s in SUBS
    subscription = SUBS[SUBS.index(s)]  # type: ignore[arg-type]
    seen = [
        r for r in reports
        if r.revoked or _sees(subscription.organisation, subscription.tlp, r)
    ]  # fmt: skip
    full, only = Exchange([subscription], MODEL), Exchange([subscription], MODEL)
    for ex, batch in ((full, reports), (only, seen)):
        for r in batch:
            ex.report(r)
        if ex.state is not None:
            for kind, org in zip(kinds, sighters, strict=False):
                ex.sight(kind, org)
    got_full = [(i.status, i.version, i.indicator) for i in full.inbox.get(subscription.id, [])]
    got_only = [(i.status, i.version, i.indicator) for i in only.inbox.get(subscription.id, [])]
    assert got_full == got_only


contributions_strategy = st.lists(
    st.builds(
        Contribution,
        org=st.sampled_from(ORGS),
        tlp=st.sampled_from(list(TLP)),
        first_ms=st.integers(0, 10**9),
        last_ms=st.integers(0, 10**9),
        reports=st.integers(1, 5),
        confidence=st.integers(0, 100),
        scam_types=st.frozensets(st.sampled_from(["investment", "romance", "phishing"]), max_size=2),
        withdrawn=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda c: c.key,
)


@settings(max_examples=300, deadline=None)
@given(contributions_strategy, st.frozensets(st.sampled_from(ORGS)), st.frozensets(st.sampled_from(ORGS)))
def test_every_audience_sees_what_the_rules_say_and_its_view_is_computed_from_exactly_that(
    contributions: list[Contribution], tp_by: frozenset[str], fp_by: frozenset[str]
) -> None:
    # audience_sets and the one-pass view_from are the fast forms of visible() and of the plain definition.
    state = IndicatorState(
        "indicator--x", "phone", "+66812345678", contributions=sorted_contributions(contributions),
        tp_by=tp_by, fp_by=fp_by,
    )  # fmt: skip
    assert audience_sets(state) == tuple((k, visible_indexes(state, k)) for k in audience_keys(state))
    model = ScoreModel(fp_quorum=1)
    for _, seen in audience_sets(state):
        shown = [state.contributions[i] for i in seen]
        active = [c for c in shown if not c.withdrawn]
        view = view_from(state, shown, model, T0)
        if not shown:
            assert view.status == "none"
            continue
        if not active:
            assert (view.status, view.tlp) == ("withdrawn", max(c.tlp for c in shown))
            continue
        assert view.reporter_count == len({c.org for c in active})
        assert view.report_count == sum(c.reports for c in active)
        assert view.scam_types == frozenset(t for c in active for t in c.scam_types)
        assert (view.first_ms, view.last_ms) == (
            min(c.first_ms for c in active),
            max(c.last_ms for c in active),
        )
        assert (view.tlp, view.confidence) == (max(c.tlp for c in active), max(c.confidence for c in active))
        support = ({c.org for c in active} | tp_by) - fp_by
        suppressed = len(fp_by) >= 1 and len(fp_by) > len(support)
        assert (view.status == "suppressed") == suppressed


@pytest.mark.parametrize("tlp", list(TLP))
@pytest.mark.parametrize("withdrawn", [False, True])
def test_one_report_has_the_audiences_the_rules_give(tlp: TLP, withdrawn: bool) -> None:
    one = Contribution("bank-sg", tlp, 1, 2, 1, 50, frozenset({"romance"}), withdrawn)
    state = IndicatorState("indicator--x", "phone", "+66812345678", contributions=(one,))
    assert audience_sets(state) == tuple((k, visible_indexes(state, k)) for k in audience_keys(state))


def test_audience_sets_are_remembered_for_the_same_contributions_only() -> None:
    # Merging and publishing one state compute its audience sets from one contributions tuple: the second
    # call is a lookup. Equal contents in another tuple, or other contents, are computed afresh and right.
    green = Contribution("bank-sg", TLP.GREEN, 1, 2, 1, 50, frozenset({"job"}))
    state = IndicatorState("indicator--x", "phone", "+66812345678", contributions=(green,))
    first = audience_sets(state)
    assert audience_sets(replace(state, score=40)) is first
    strict = replace(green, tlp=TLP.AMBER_STRICT)
    other = replace(state, contributions=(strict,))
    assert audience_sets(other) == tuple((k, visible_indexes(other, k)) for k in audience_keys(other))
    assert dict(audience_sets(other))["1"] == () and dict(first)["1"] == (0,)


def test_a_remembered_view_is_recomputed_when_what_it_depends_on_changes() -> None:
    # The memo stands for view_from only while the contributions, sightings, kind, model and moment hold.
    green = Contribution("bank-sg", TLP.GREEN, T0 - 10, T0 - 5, 1, 50, frozenset({"job"}))
    state = IndicatorState("indicator--x", "phone", "+66812345678", contributions=(green,))
    model = ScoreModel(fp_quorum=1)
    seen = (0,)
    first = view_of_set(state, seen, model, T0)
    assert first == view_from(state, [green], model, T0) and first.status == "active"
    assert view_of_set(replace(state, version=9), seen, model, T0) is first
    against = replace(state, fp_by=frozenset({"telco-th", "bank-au"}))
    assert view_of_set(against, seen, model, T0) == view_from(against, [green], model, T0)
    assert view_of_set(against, seen, model, T0).status == "suppressed"
    later = T0 + 10 * model.half_life_ms("phone")
    assert view_of_set(state, seen, model, later).status == "expired"
    other = ScoreModel(fp_quorum=5)
    assert view_of_set(against, seen, other, T0) == view_from(against, [green], other, T0)
    assert view_of_set(against, seen, other, T0).status == "active"
