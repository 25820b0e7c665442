"""Latency histograms kept as plain counters in the stats hash (read by the Prometheus exporter).

Fields, per stage (``ingest``: producer send → version on scam.indicators; ``e2e``: producer send → feed):
``latency:<stage>:le:<bound>`` (non-cumulative count of observations in the bucket ending at ``bound`` ms,
``inf`` for the last), ``latency:<stage>:sum_ms`` and ``latency:<stage>:count``. Progress counters, not
exactly-once: a replayed batch observes again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

BUCKETS_MS: Final = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def bucket_label(ms: float) -> str:
    """The upper bound of the bucket ``ms`` falls in, as written in the field name."""
    i = bisect_left(BUCKETS_MS, ms)
    return str(BUCKETS_MS[i]) if i < len(BUCKETS_MS) else "inf"


def observe(stage: str, samples_ms: Iterable[float]) -> dict[str, int]:
    """Counter increments for a batch of observations."""
    counts: Counter[str] = Counter()
    total = 0.0
    for ms in samples_ms:
        value = max(0.0, ms)
        counts[f"latency:{stage}:le:{bucket_label(value)}"] += 1
        counts[f"latency:{stage}:count"] += 1
        total += value
    if counts:
        counts[f"latency:{stage}:sum_ms"] += round(total)
    return dict(counts)


def histogram(stats: Mapping[str, int], stage: str) -> tuple[list[tuple[str, int]], int, int]:
    """Cumulative buckets ``[(le_seconds, count), ..., ("+Inf", count)]``, sum in ms and count of a stage."""
    cumulative = 0
    out: list[tuple[str, int]] = []
    for bound in BUCKETS_MS:
        cumulative += stats.get(f"latency:{stage}:le:{bound}", 0)
        out.append((f"{bound / 1000:g}", cumulative))
    cumulative += stats.get(f"latency:{stage}:le:inf", 0)
    out.append(("+Inf", cumulative))
    return out, stats.get(f"latency:{stage}:sum_ms", 0), stats.get(f"latency:{stage}:count", 0)
