"""The Redis field encoding of an indicator's state: round trip, and HSET over older fields is safe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.merge import apply_sighting, hold, merge
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.state.redis_store import state_from_fields, state_to_fields
from pipeline.stix.tlp import TLP

from .factories import T0, report

MODEL = ScoreModel(default_trust=0.6)


def as_redis(fields: list[str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in zip(fields[::2], fields[1::2], strict=True)}


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("report"),
            st.sampled_from(["a", "b", "c"]),
            st.booleans(),
            st.sampled_from(list(TLP)),
            st.sampled_from([(), ("romance",), ("investment", "job")]),
        ),
        st.tuples(
            st.just("sighting"),
            st.sampled_from(["true_positive", "false_positive", "blocked"]),
            st.sampled_from(["telco", "bank"]),
        ),
        st.tuples(st.just("hold")),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_writing_each_new_state_over_the_old_fields_reads_back_the_new_state(plan: list[tuple]) -> None:  # type: ignore[type-arg]
    stored: dict[bytes, bytes] = {}
    state: IndicatorState | None = None
    for i, step in enumerate(plan):
        if step[0] == "report":
            _, producer, revoked, tlp, scam_types = step
            state = merge(state, report(producer=producer, sub=str(i), revoked=revoked, tlp=tlp,
                                        scam_types=scam_types, at=T0 + i), MODEL, T0 + i).state  # fmt: skip
        elif state is not None and step[0] == "sighting":
            state = apply_sighting(state, step[1], MODEL, T0 + i, org=step[2]).state
        elif state is not None:
            state = hold(state, state).state
        if state is None:
            continue
        stored.update(
            as_redis(state_to_fields(state))
        )  # what HSET does: fields not written stay as they were
        loaded, delivered = state_from_fields(state.indicator_id, stored)
        assert loaded == state
        assert delivered == {}


def test_a_plain_new_indicator_writes_only_the_core_fields_each_value_short() -> None:
    state = merge(None, report(scam_types=()), MODEL, T0).state
    fields = state_to_fields(state)
    names = fields[::2]
    assert {n for n in names if ":" not in n} == {"k", "val", "n", "s", "v", "r", "cc"}
    assert {n for n in names if ":" in n} == {"c:telco-a:1"} | {f"a:{k}" for k, _ in state.audiences}
    # Every field and value within Redis's listpack limit (64 bytes): the hash stays compact.
    assert max(len(x) for x in fields) <= 64


def test_a_state_written_before_tlp_per_report_reads_as_contributions_at_its_merged_tlp() -> None:
    old = {"k": "phone", "val": "+66812345678", "f": str(T0), "l": str(T0 + 5), "n": "3", "p": "a,b",
           "rt": "c", "c": "80", "t": "romance", "tlp": "3", "s": "70", "v": "2", "r": "4", "cc": "TH",
           "d:telco": "2"}  # fmt: skip
    state, delivered = state_from_fields("indicator--1", {k.encode(): v.encode() for k, v in old.items()})
    assert state is not None and delivered == {"telco": 2}
    assert [(c.org, c.tlp, c.confidence, c.withdrawn, c.reports) for c in state.contributions] == [
        ("a", TLP.AMBER_STRICT, 80, False, 1), ("b", TLP.AMBER_STRICT, 80, False, 1),
        ("c", TLP.AMBER_STRICT, 80, True, 1),
    ]  # fmt: skip
    assert state.reporters == {"a", "b"} and state.audiences == () and state.version == 2
    # Its next change is material for every audience that can see it.
    after = merge(state, report(producer="a", sub="new", tlp=TLP.GREEN), MODEL, T0 + 10)
    assert after.publish and after.state.version == 3
