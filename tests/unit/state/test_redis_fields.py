"""The Redis field layout of an indicator's state: exact round trip, short values, the earlier layouts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.merge import apply_sighting, hold, merge
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import NO_VIEW, Audience, Contribution, IndicatorState
from pipeline.state.redis_fields import KIND_CODES, PIECE_BYTES, state_from_fields, state_to_fields
from pipeline.stix.tlp import TLP
from tests.unit.processors.factories import T0, report

MODEL = ScoreModel(default_trust=0.6)


def as_redis(fields: list[str | bytes]) -> dict[bytes, bytes]:
    return {
        (k if isinstance(k, bytes) else k.encode()): (v if isinstance(v, bytes) else v.encode())
        for k, v in zip(fields[::2], fields[1::2], strict=True)
    }


def hset(stored: dict[bytes, bytes], fields: list[str | bytes]) -> None:
    """What the commit script does: HSET the fields, then delete the pieces past the new last one."""
    new = as_redis(fields)
    stored.update(new)
    piece = len(new) - 1
    while stored.pop(str(piece).encode(), None) is not None:
        piece += 1


orgs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
times = st.one_of(st.integers(0, 2**48 - 1), st.integers(-(2**62), 2**62))
numbers = st.integers(-(10**12), 10**12)
contributions = st.builds(
    Contribution,
    org=orgs,
    tlp=st.sampled_from(list(TLP)),
    first_ms=times,
    last_ms=times,
    reports=numbers,
    confidence=numbers,
    scam_types=st.frozensets(st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True), max_size=4),
    withdrawn=st.booleans(),
)
audiences = st.tuples(
    st.from_regex(r"[0-9](:[a-z0-9][a-z0-9_-]{0,10})?", fullmatch=True),
    st.builds(
        Audience,
        fingerprint=st.one_of(
            st.just(NO_VIEW), st.from_regex(r"[0-9a-f]{10}|[0-9a-z]{0,12}", fullmatch=True)
        ),
        seq=numbers,
        since=numbers,
    ),
)


@st.composite
def states(draw: st.DrawFn) -> IndicatorState:
    cs = tuple(draw(st.lists(contributions, max_size=5)))
    auds = draw(st.lists(audiences, max_size=8))
    if cs:  # keys naming a reporter, as the processors write them
        auds += [(f"{n % 3}:{cs[n % len(cs)].org}", a) for n, (_, a) in enumerate(draw(st.lists(audiences)))]
    return IndicatorState(
        indicator_id="indicator--" + draw(st.uuids()).hex,
        kind=draw(st.one_of(st.sampled_from(KIND_CODES), st.from_regex(r"[~0-9a-z-]{0,14}", fullmatch=True))),
        value=draw(st.text()),
        contributions=cs,
        reports=draw(st.one_of(st.just(sum(c.reports for c in cs)), numbers)),
        sightings=draw(st.tuples(numbers, numbers, numbers)),
        tp_by=draw(st.frozensets(orgs, max_size=3)),
        fp_by=draw(st.frozensets(orgs, max_size=3)),
        revoked=draw(st.booleans()),
        allowlisted=draw(st.booleans()),
        score=draw(numbers),
        version=draw(numbers),
        rev=draw(numbers),
        country=draw(st.one_of(st.just(""), st.from_regex(r"[A-Z]{2}", fullmatch=True))),
        audiences=tuple(auds),
    )


@settings(max_examples=500, deadline=None)
@given(states(), st.dictionaries(orgs, st.integers(0, 10**9), max_size=3))
def test_every_state_round_trips_exactly_with_its_delivery_marks(
    state: IndicatorState, delivered: dict[str, int]
) -> None:
    fields = state_to_fields(state)
    raw = as_redis(fields) | {f"d:{s}".encode(): str(v).encode() for s, v in delivered.items()}
    assert state_from_fields(state.indicator_id, raw) == (state, delivered)
    # Every field and value within Redis's listpack limit (64 bytes), however long the value is.
    assert max(len(x) for x in as_redis(fields).values()) <= PIECE_BYTES


@settings(max_examples=300, deadline=None)
@given(st.lists(states(), min_size=1, max_size=6))
def test_writing_a_state_over_any_earlier_one_reads_back_the_new_one(plan: list[IndicatorState]) -> None:
    stored: dict[bytes, bytes] = {b"d:telco": b"3"}
    for state in plan:
        hset(stored, state_to_fields(state))
        assert state_from_fields(state.indicator_id, stored) == (state, {"telco": 3})


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
def test_each_state_the_processors_make_reads_back_written_over_the_last(plan: list[tuple[Any, ...]]) -> None:
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
        hset(stored, state_to_fields(state))
        assert state_from_fields(state.indicator_id, stored) == (state, {})


def test_a_plain_new_indicator_is_its_revision_and_two_short_pieces_the_value_whole_in_the_first() -> None:
    state = merge(None, report(scam_types=("romance",)), MODEL, T0).state
    fields = state_to_fields(state)
    assert fields[:2] == ["r", str(state.rev)]
    assert fields[2::2] == [b"0", b"1"][: len(fields[2::2])]
    assert state.value.encode() in as_redis(fields)[b"0"]


#: A state as ``scamshare.indicator/2`` wrote it (one field per contribution and audience), every field
#: away from its default.
V2 = {"k": "phone", "val": "+66812345678", "n": "4", "s": "0", "v": "4", "r": "9",
      "c:bank-b:3": "1795347599995|1795347600000|2|90|romance|1",
      "c:telco-a:1": "1795347600000|1795347600007|1|80|investment,job|", "a:1": "abc1234567/3/4",
      "a:2:bank-b": "def4567890/1/2", "x": "1", "sg": "3,2,1", "tp": "police", "fp": "bank,telco", "cc": "TH",
      "al": "1", "d:telco": "2"}  # fmt: skip
AT = 1_795_347_600_000
V2_STATE = IndicatorState(
    indicator_id="indicator--1", kind="phone", value="+66812345678",
    contributions=(Contribution("bank-b", TLP.AMBER_STRICT, AT - 5, AT, 2, 90, frozenset({"romance"}), True),
                   Contribution("telco-a", TLP.GREEN, AT, AT + 7, 1, 80, frozenset({"investment", "job"}))),
    reports=4, sightings=(3, 2, 1), tp_by=frozenset({"police"}), fp_by=frozenset({"telco", "bank"}),
    revoked=True, allowlisted=True, score=0, version=4, rev=9, country="TH",
    audiences=(("1", Audience("abc1234567", 3, 4)), ("2:bank-b", Audience("def4567890", 1, 2))),
)  # fmt: skip


def test_a_state_of_the_field_per_contribution_layout_reads_as_it_was_written() -> None:
    raw = {k.encode(): v.encode() for k, v in V2.items()}
    assert state_from_fields("indicator--1", raw) == (V2_STATE, {"telco": 2})
    # Written again in the new layout (the commit script drops the old fields first), it reads the same.
    stored = {b"d:telco": b"2"}
    hset(stored, state_to_fields(V2_STATE))
    assert state_from_fields("indicator--1", stored) == (V2_STATE, {"telco": 2})


#: A state as ``scamshare.indicator/1`` wrote it (before TLP per report).
V1 = {"k": "phone", "val": "+66812345678", "f": str(T0), "l": str(T0 + 5), "n": "3", "p": "a,b", "rt": "c",
      "c": "80", "t": "romance", "tlp": "3", "s": "70", "v": "2", "r": "4", "cc": "TH",
      "d:telco": "2"}  # fmt: skip


def test_a_state_written_before_tlp_per_report_reads_as_contributions_at_its_merged_tlp() -> None:
    state, delivered = state_from_fields("indicator--1", {k.encode(): v.encode() for k, v in V1.items()})
    assert state is not None and delivered == {"telco": 2}
    assert [(c.org, c.tlp, c.confidence, c.withdrawn, c.reports) for c in state.contributions] == [
        ("a", TLP.AMBER_STRICT, 80, False, 1), ("b", TLP.AMBER_STRICT, 80, False, 1),
        ("c", TLP.AMBER_STRICT, 80, True, 1),
    ]  # fmt: skip
    assert state.reporters == {"a", "b"} and state.audiences == () and state.version == 2
    # Its next change is material for every audience that can see it.
    after = merge(state, report(producer="a", sub="new", tlp=TLP.GREEN), MODEL, T0 + 10)
    assert after.publish and after.state.version == 3


def test_delivery_marks_alone_are_no_state() -> None:
    assert state_from_fields("indicator--1", {b"d:telco": b"4"}) == (None, {"telco": 4})
    assert state_from_fields("indicator--1", {}) == (None, {})
