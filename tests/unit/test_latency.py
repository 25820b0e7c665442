from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from pipeline.state.latency import bucket_label, histogram, observe


def test_buckets_are_upper_bounds() -> None:
    assert [bucket_label(x) for x in (0, 5, 5.1, 999, 1000, 1001, 10**6)] == [
        "5",
        "5",
        "10",
        "1000",
        "1000",
        "2500",
        "inf",
    ]


@given(st.lists(st.floats(min_value=-10, max_value=1e6, allow_nan=False), max_size=50))
def test_histogram_is_cumulative_and_counts_everything(samples: list[float]) -> None:
    stats = observe("e2e", samples)
    buckets, total_ms, count = histogram(stats, "e2e")
    assert count == len(samples)
    assert buckets[-1] == ("+Inf", len(samples))
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
    assert total_ms == (round(sum(max(0.0, s) for s in samples)) if samples else 0)
