"""evolve: the fast ``dataclasses.replace`` merging uses for IndicatorState."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.state.indicator import Audience, Contribution, IndicatorState, evolve
from pipeline.stix.tlp import TLP

STATE = IndicatorState(
    "indicator--1",
    "phone",
    "+66812345678",
    contributions=(Contribution("bank-sg", TLP.GREEN, 1, 2, 1, 60, frozenset({"romance"})),),
    reports=1,
    tp_by=frozenset({"telco-th"}),
    country="TH",
    audiences=(("1", Audience("abc", 1, 1)),),
)

CHANGES = [
    {},
    {"reports": 2},
    {"score": 71, "rev": 3, "version": 2},
    {"revoked": True, "allowlisted": True, "audiences": ()},
    {"contributions": (), "sightings": (1, 0, 2), "fp_by": frozenset({"x"})},
    {name: getattr(STATE, name) for name in (f.name for f in dataclasses.fields(IndicatorState))},
]


@pytest.mark.parametrize("changes", CHANGES)
def test_evolve_gives_what_replace_gives(changes: dict[str, object]) -> None:
    before = dataclasses.replace(STATE)
    got = evolve(STATE, **changes)
    assert got == dataclasses.replace(STATE, **changes)
    assert type(got) is IndicatorState
    assert got is not STATE and before == STATE  # the original is untouched
    # what is not changed is the same object (the visibility memo is keyed by the contributions tuple)
    assert ("contributions" in changes) or got.contributions is STATE.contributions


def test_evolve_refuses_a_name_that_is_no_field_as_replace_does() -> None:
    with pytest.raises(TypeError, match="no field"):
        evolve(STATE, score=1, scroe=2)
    with pytest.raises(TypeError):
        dataclasses.replace(STATE, scroe=2)  # type: ignore[call-arg]


def test_an_evolved_state_stays_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolve(STATE, score=1).score = 2  # type: ignore[misc]
