"""Latency percentiles, shared by the demo and the benchmarks' producer send → feed figures."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # The smallest value with at least q% of the values at or below it (round(x + 0.5) rounded half to even:
    # the p99 of 100 values came out as the maximum).
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_figures(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and max of latencies in milliseconds, rounded to 0.1 ms; 0.0 each for none."""
    return {
        "p50": round(percentile(latencies, 50), 1),
        "p99": round(percentile(latencies, 99), 1),
        "max": round(max(latencies, default=0.0), 1),
    }
