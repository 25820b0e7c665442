"""The latency figures of the pipeline benchmark: percentiles, and the warm-up a steady run leaves out."""

from __future__ import annotations

from pipeline.dev.bench_latency import feed_latency, warmup_seconds
from pipeline.dev.latency import latency_figures


def test_latency_figures_are_nearest_rank_over_every_sample() -> None:
    figures = latency_figures([float(v) for v in range(1, 101)])
    assert figures == {"p50": 50.0, "p99": 99.0, "max": 100.0}
    assert latency_figures([]) == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    # A run's latency_ms carries the same figures and its sample count.
    out = feed_latency([(i, float(v)) for i, v in enumerate(range(1, 101))], "m", warmup_s=None)
    assert out == {**figures, "samples": 100, "mode": "m"}


def test_after_warmup_leaves_out_only_the_reports_submitted_in_the_first_seconds() -> None:
    # A slow start (the first 2 s of submissions take 900 ms), then a steady 100 ms.
    start = 1_700_000_000_000
    samples = [(start + ms, 900.0) for ms in range(0, 2000, 10)]
    samples += [(start + ms, 100.0) for ms in range(2000, 10_000, 10)]
    out = feed_latency(samples, "steady: test", warmup_s=2.0)
    # The headline keeps every sample, the slow start included: nothing is hidden.
    assert (out["samples"], out["max"], out["mode"]) == (len(samples), 900.0, "steady: test")
    assert out["p99"] == 900.0
    warm = out["after_warmup"]
    assert warm == {"p50": 100.0, "p99": 100.0, "max": 100.0, "samples": 800, "warmup_s": 2.0}
    # The boundary is measured from the first submission, not from the clock.
    shifted = feed_latency([(t + 5_000, lat) for t, lat in samples], "m", warmup_s=2.0)
    assert shifted["after_warmup"]["samples"] == 800


def test_a_burst_has_no_warmup_split() -> None:
    assert "after_warmup" not in feed_latency([(0, 5.0)], "burst", warmup_s=None)


def test_the_warmup_is_a_quarter_of_the_run_and_at_most_3_s() -> None:
    assert warmup_seconds(100, 50.0) == 0.5  # a 2 s run
    assert warmup_seconds(3000, 300.0) == 2.5  # a 10 s round of the sweep
    assert warmup_seconds(30_000, 1000.0) == 3.0
