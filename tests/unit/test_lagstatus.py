"""Burrow-style status rules: examples for each status, and invariants with hypothesis."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from pipeline.ops.lag import offset_lag, partition_labels
from pipeline.ops.lagstatus import CommitSample, Status, StatusRules, offset_since, partition_status, worst

RULES = StatusRules(window_s=60, min_samples=3, min_span_s=20, err_lag_seconds=120)


def history(*rows: tuple[float, int | None, int]) -> list[CommitSample]:
    return [CommitSample(at, committed, end) for at, committed, end in rows]


def test_caught_up_is_ok() -> None:
    v = partition_status(history((0, 5, 5), (10, 9, 9), (20, 12, 12)), now=20, rules=RULES)
    assert v.status is Status.OK
    assert v.reason == "caught up"


def test_growing_lag_with_moving_offsets_warns() -> None:
    v = partition_status(history((0, 0, 10), (10, 5, 20), (20, 10, 30), (30, 15, 40)), now=30, rules=RULES)
    assert v.status is Status.WARN


def test_shrinking_lag_is_ok() -> None:
    v = partition_status(history((0, 0, 40), (10, 20, 45), (20, 40, 48)), now=20, rules=RULES)
    assert v.status is Status.OK


def test_no_commit_for_longer_than_the_window_is_stop() -> None:
    v = partition_status(history((0, 5, 10), (100, 5, 20)), now=100, rules=RULES)
    assert v.status is Status.STOP
    assert "no commit past 5" in v.reason


def test_never_committed_and_behind_for_longer_than_the_window_is_stop() -> None:
    v = partition_status(history((0, None, 3), (90, None, 3)), now=90, rules=RULES)
    assert v.status is Status.STOP


def test_live_members_on_the_same_offset_is_stall() -> None:
    rows = history((0, 5, 10), (10, 5, 12), (20, 5, 14), (30, 5, 16))
    assert partition_status(rows, now=30, rules=RULES, active=True).status is Status.STALL
    # the same history without members is not STALL (and not yet STOP: 30 s < the 60 s window)
    assert partition_status(rows, now=30, rules=RULES, active=False).status is Status.WARN


def test_live_members_are_never_stop() -> None:
    rows = history((0, 5, 10), (100, 5, 20), (110, 5, 21), (130, 5, 22))
    assert partition_status(rows, now=130, rules=RULES, active=True).status is Status.STALL


def test_offset_going_back_is_rewind() -> None:
    v = partition_status(history((0, 50, 60), (10, 20, 60)), now=10, rules=RULES)
    assert v.status is Status.REWIND
    assert "20" in v.reason


def test_time_lag_over_the_slo_is_err() -> None:
    rows = history((0, 0, 100), (10, 50, 100), (20, 70, 100), (30, 80, 100))
    assert partition_status(rows, now=30, rules=RULES, lag_seconds=500).status is Status.ERR
    assert partition_status(rows, now=30, rules=RULES, lag_seconds=5).status is Status.OK


def test_too_short_a_window_is_not_judged() -> None:
    v = partition_status(history((0, 0, 10), (1, 1, 20), (2, 2, 30)), now=2, rules=RULES)
    assert v.status is Status.OK
    assert "too short" in v.reason


def test_offset_since_finds_the_start_of_the_trailing_run() -> None:
    assert offset_since(history((0, 1, 5), (10, 3, 5), (20, 3, 6), (30, 3, 7))) == 10
    assert offset_since([]) is None


def test_worst_orders_by_severity() -> None:
    assert worst([]) is Status.OK
    assert worst([Status.OK, Status.WARN, Status.STOP, Status.STALL]) is Status.STOP
    assert worst([Status.REWIND, Status.ERR]) is Status.ERR


# --- invariants -----------------------------------------------------------------------------------------

offsets = st.integers(min_value=0, max_value=10**9)


@given(committed=st.none() | st.integers(min_value=-1, max_value=10**9), end=offsets, start=offsets)
def test_lag_is_never_negative(committed: int | None, end: int, start: int) -> None:
    assert offset_lag(committed, end, start) >= 0
    assert CommitSample(0, committed, end, start).lag >= 0


@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0.1, max_value=100), st.integers(min_value=0, max_value=1000)),
        min_size=1,
        max_size=30,
    ),
    active=st.none() | st.booleans(),
)
def test_a_consumer_that_keeps_up_is_ok(steps: list[tuple[float, int]], active: bool | None) -> None:
    """Committed == end at every sample, whatever the production rate and timing: always OK."""
    at, end, rows = 0.0, 0, []
    for gap, produced in steps:
        at += gap
        end += produced
        rows.append(CommitSample(at, end, end))
    assert partition_status(rows, now=at, rules=RULES, active=active, lag_seconds=0).status is Status.OK


@given(
    lags=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
    gap=st.floats(min_value=0.5, max_value=50),
)
def test_status_is_always_defined_and_ok_when_the_last_lag_is_zero(lags: list[int], gap: float) -> None:
    rows = [CommitSample(i * gap, i * 10, i * 10 + lag) for i, lag in enumerate(lags)]
    v = partition_status(rows, now=rows[-1].at, rules=RULES)
    assert v.status in Status
    assert v.reason
    if lags[-1] == 0:
        assert v.status is Status.OK


@given(
    committed=st.lists(st.integers(min_value=0, max_value=1000), min_size=2, max_size=20),
)
def test_any_decrease_in_the_window_is_rewind(committed: list[int]) -> None:
    rows = [CommitSample(float(i), c, 2000) for i, c in enumerate(committed)]
    decreased = any(b < a for a, b in pairwise(committed))
    v = partition_status(rows, now=float(len(rows) - 1), rules=StatusRules(window_s=1000))
    assert (v.status is Status.REWIND) == decreased


def test_partition_labels() -> None:
    assert partition_labels(None, 0, 5) == ("no-commit",)
    assert partition_labels(3, 0, 5) == ()
    assert partition_labels(1, 4, 4, compacted=True) == ("out-of-range", "empty", "compacted")
    assert partition_labels(7, 0, 7, deleted=True) == ("topic-deleted",)
