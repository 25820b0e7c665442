"""Lookups see what fan-out would deliver to the caller, and nothing else (pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.lookup import answer, lookup_clearance
from pipeline.processors.merge import merge
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.stix.tlp import TLP
from tests.unit.processors.factories import T0, canonical, report

MODEL = ScoreModel(default_trust=0.6)
C = canonical("phone", "+66812345678")


def state_of(*reports: object) -> IndicatorState:
    state = None
    for r in reports:
        state = merge(state, r, MODEL, T0).state  # type: ignore[arg-type]
    assert state is not None
    return state


def look(state: IndicatorState | None, org: str, cleared: TLP = TLP.AMBER, **kw: object) -> dict[str, object]:
    return answer(state, C, org=org, cleared=cleared, model=MODEL, now_ms=T0 + 1000, **kw)  # type: ignore[arg-type]


def test_an_amber_strict_report_is_known_only_to_its_own_organisation() -> None:
    """Before: there was no lookup at all; the risk is that one answers from the whole state."""
    state = state_of(report(producer="bank-a", tlp=TLP.AMBER_STRICT, sub="a1"))
    own = look(state, "bank-a")
    assert own["known"] is True and own["reporters"] == 1 and own["tlp"] == "amber+strict"
    assert own["reported_by_you"] is True and own["scam_types"] == ["investment"]
    # Another organisation cleared for AMBER learns nothing: the same answer as for an unknown value.
    assert look(state, "telco-b") == look(None, "telco-b")
    assert look(state, "telco-b") == {
        "kind": "phone", "canonical": "+66812345678", "id": C.indicator_id, "sco_id": C.sco_id,
        "known": False,
    }  # fmt: skip


def test_red_is_seen_by_nobody_not_even_its_reporter() -> None:
    state = state_of(report(producer="police", tlp=TLP.RED, sub="r1"))
    assert look(state, "police")["known"] is False
    assert look(state, "bank-a")["known"] is False


def test_clearance_decides_amber_and_counts_only_visible_reports() -> None:
    state = state_of(
        report(producer="bank-a", tlp=TLP.GREEN, sub="g1", confidence=40),
        report(producer="bank-c", tlp=TLP.AMBER, sub="a1", confidence=90, scam_types=("romance",)),
    )
    green = look(state, "telco-b", TLP.GREEN)
    amber = look(state, "telco-b", TLP.AMBER)
    assert (green["reporters"], green["scam_types"]) == (1, ["investment"])
    assert (amber["reporters"], amber["scam_types"]) == (2, ["investment", "romance"])
    # The AMBER reporter sees its own report even when cleared for GREEN only.
    assert look(state, "bank-c", TLP.GREEN)["reporters"] == 2


def test_an_erased_value_is_a_miss() -> None:
    state = state_of(report(producer="bank-a", sub="e1"))
    assert look(state, "bank-a", erased=True)["known"] is False


def test_withdrawn_by_its_only_reporter() -> None:
    state = state_of(report(producer="bank-a", sub="w1"), report(producer="bank-a", sub="w2", revoked=True))
    found = look(state, "telco-b")
    assert found["known"] is True and found["status"] == "withdrawn" and found["score"] == 0


def test_an_organisation_without_subscriptions_is_cleared_for_clear_only() -> None:
    assert lookup_clearance([]) == TLP.CLEAR
    assert lookup_clearance([TLP.GREEN, TLP.AMBER]) == TLP.AMBER


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["bank-a", "telco-b", "plat-c"]), st.sampled_from(list(TLP))),
        min_size=1, max_size=6,
    ),
    st.sampled_from(["bank-a", "telco-b", "plat-c", "nobody"]),
    st.sampled_from([TLP.CLEAR, TLP.GREEN, TLP.AMBER]),
)  # fmt: skip
def test_no_field_depends_on_a_report_the_caller_may_not_see(
    reports: list[tuple[str, TLP]], caller: str, cleared: TLP
) -> None:
    """The answer with every report equals the answer with only the reports the caller may see."""

    def may_see(org: str, tlp: TLP) -> bool:
        if tlp == TLP.RED:
            return False
        return org == caller or (tlp != TLP.AMBER_STRICT and int(tlp) <= int(cleared))

    every = [report(producer=o, tlp=t, sub=f"s{i}") for i, (o, t) in enumerate(reports)]
    seen = [r for r, (o, t) in zip(every, reports, strict=True) if may_see(o, t)]
    full = look(state_of(*every), caller, cleared)
    only = look(state_of(*seen), caller, cleared) if seen else look(None, caller, cleared)
    assert full == only
