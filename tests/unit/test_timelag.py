"""Time lag: interpolation between (time, end offset) points, extrapolation outside them, the evaluator."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.ops.lag import GroupLag, PartitionLag
from pipeline.ops.lagstatus import Status, StatusRules
from pipeline.ops.timelag import EndPoint, MemoryHistory, evaluate, lag_seconds, monotone_tail, offset_time


def test_interpolates_between_points() -> None:
    pts = [EndPoint(100.0, 0), EndPoint(110.0, 100), EndPoint(120.0, 300)]
    assert offset_time(pts, 50) == pytest.approx(105.0)
    assert offset_time(pts, 200) == pytest.approx(115.0)
    assert lag_seconds(pts, committed=200, end=300, now=130.0) == pytest.approx(15.0)


def test_uses_the_last_point_of_a_plateau() -> None:
    # the end sat at 10 until t=50: message 10 was written after t=50, not at t=0
    pts = [EndPoint(0.0, 10), EndPoint(50.0, 10), EndPoint(60.0, 20)]
    assert offset_time(pts, 10) == pytest.approx(50.0)


def test_extrapolates_before_the_oldest_point() -> None:
    pts = [EndPoint(100.0, 1000), EndPoint(110.0, 1100)]  # 10 msg/s
    assert offset_time(pts, 900) == pytest.approx(90.0)
    assert lag_seconds(pts, committed=900, end=1100, now=110.0) == pytest.approx(20.0)


def test_without_production_the_oldest_point_is_a_lower_bound() -> None:
    pts = [EndPoint(100.0, 50), EndPoint(130.0, 50)]
    assert lag_seconds(pts, committed=10, end=50, now=130.0) == pytest.approx(30.0)


def test_caught_up_is_zero_and_no_points_is_unknown() -> None:
    assert lag_seconds([], committed=5, end=5, now=1.0) == 0.0
    assert lag_seconds([], committed=None, end=0, now=1.0) == 0.0
    assert lag_seconds([], committed=4, end=5, now=1.0) is None


def test_a_recreated_topic_forgets_the_old_log() -> None:
    pts = [EndPoint(0.0, 500), EndPoint(10.0, 600), EndPoint(20.0, 3), EndPoint(30.0, 13)]
    assert monotone_tail(pts) == pts[2:]


points_strategy = st.lists(
    st.tuples(st.floats(min_value=0.01, max_value=100), st.integers(min_value=0, max_value=10_000)),
    min_size=1,
    max_size=25,
).map(
    lambda steps: [
        EndPoint(sum(g for g, _ in steps[: i + 1]), sum(n for _, n in steps[: i + 1]))
        for i in range(len(steps))
    ]
)


@given(pts=points_strategy, a=st.integers(min_value=0, max_value=300_000), b=st.integers(0, 300_000))
def test_time_lag_is_non_negative_and_older_offsets_are_further_behind(
    pts: list[EndPoint], a: int, b: int
) -> None:
    end, now = pts[-1].end, pts[-1].at + 1.0
    lo, hi = sorted((a, b))
    s_lo = lag_seconds(pts, lo, end, now)
    s_hi = lag_seconds(pts, hi, end, now)
    assert s_lo is not None and s_hi is not None
    assert s_lo >= 0 and s_hi >= 0
    assert s_lo >= s_hi - 1e-6
    if hi >= end:
        assert s_hi == 0.0


@given(
    rate=st.floats(min_value=0.5, max_value=1000),
    n=st.integers(min_value=2, max_value=20),
    frac=st.floats(min_value=0, max_value=1),
)
def test_exact_for_a_constant_rate(rate: float, n: int, frac: float) -> None:
    pts = [EndPoint(float(i), round(rate * i * 100)) for i in range(n)]
    assume(pts[-1].end > pts[0].end)
    offset = round(frac * (pts[-1].end - 1))
    at = offset_time(pts, offset)
    assert at is not None
    assert pts[0].at <= at <= pts[-1].at
    assert at == pytest.approx(offset / (rate * 100), abs=1.0 / (rate * 100) + 1e-6)


def group(committed: int | None, end: int, name: str = "g") -> GroupLag:
    lag = max(0, end - (committed or 0))
    return GroupLag(name, (PartitionLag("t", 0, committed, end, lag),), state="empty")


def test_evaluate_grows_time_lag_and_stops_a_consumer_that_stopped() -> None:
    history = MemoryHistory()
    rules = StatusRules(window_s=30, min_samples=3, min_span_s=10)
    reports = []
    for i in range(8):  # production of 10 msg/s; the consumer stops at offset 20
        reports.append(evaluate([group(min(20, 10 * i), 10 * i)], history, now=float(i * 10), rules=rules)[0])
    seconds = [r.lag_seconds for r in reports[3:]]
    assert all(s is not None for s in seconds)
    assert seconds == sorted(seconds)  # type: ignore[type-var]
    assert reports[-1].lag == 50
    assert reports[-1].lag_seconds == pytest.approx(50.0)  # offset 20 was the end at t=20; now t=70
    assert reports[-1].status is Status.STOP
    assert reports[0].status is Status.OK


def test_evaluate_keeps_a_consumer_that_keeps_up_ok() -> None:
    history = MemoryHistory()
    for i in range(10):
        report = evaluate([group(5 * i, 5 * i)], history, now=float(i))[0]
        assert report.status is Status.OK
        assert report.lag == 0
        assert report.lag_seconds == 0.0
    assert report.to_json()["partitions"][0]["status"] == "OK"


def test_memory_history_is_bounded() -> None:
    history = MemoryHistory(max_points=5)
    for i in range(20):
        history.record_ends({("t", 0): i}, float(i))
    assert [p.end for p in history.end_points([("t", 0)])[("t", 0)]] == [15, 16, 17, 18, 19]
