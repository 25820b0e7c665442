"""How often the benchmark polls for the end of a run: rarely while much is left, every poll_s near it."""

from __future__ import annotations

import pytest

from pipeline.dev.bench_done import MAX_POLL_S, next_poll_s


def test_before_any_report_and_once_all_are_in_it_polls_every_poll_s() -> None:
    assert next_poll_s(0, 10_000, 1.0, 0.02) == 0.02
    assert next_poll_s(10_000, 10_000, 5.0, 0.02) == 0.02  # the fan-out tail: seen within poll_s
    assert next_poll_s(500, 1000, 0.0, 0.02) == 0.02


def test_it_sleeps_an_eighth_of_the_time_left_at_the_rate_so_far() -> None:
    # 2,000 of 10,000 in 1 s: 4 s left at that rate, capped at MAX_POLL_S.
    assert next_poll_s(2_000, 10_000, 1.0, 0.02) == MAX_POLL_S
    # 9,000 in 4.5 s: 0.5 s left, an eighth of it.
    assert next_poll_s(9_000, 10_000, 4.5, 0.02) == pytest.approx(0.0625)
    # 9,990 in 5 s: 5 ms left, never less than poll_s.
    assert next_poll_s(9_990, 10_000, 5.0, 0.02) == 0.02


def test_a_burst_is_polled_about_fifty_times_and_its_end_seen_within_poll_s() -> None:
    n, rate, poll_s = 10_000, 2_000.0, 0.02  # a 5 s burst at a steady rate
    t, polls = 0.0, 0
    while True:
        polls += 1
        received = min(n, int(t * rate))
        if received >= n:
            break
        t += next_poll_s(received, n, t, poll_s)
    assert 30 <= polls <= 70  # 250 at a fixed 20 ms
    assert t - n / rate <= poll_s
