"""The latency side of the pipeline benchmark: the 200 ms target, percentiles of producer send → feed
latencies, the warm-up a steady run leaves out, and the settings that bound a latency."""

from __future__ import annotations

from typing import Any

from pipeline.config import Settings
from pipeline.dev.latency import latency_figures

#: The steady-state latency target: p99 producer send → feed message, in milliseconds.
TARGET_P99_MS = 200.0


def feed_latency(samples: list[tuple[int, float]], mode: str, warmup_s: float | None) -> dict[str, Any]:
    """The ``latency_ms`` of a run from its (submitted ms, latency ms) samples: over all of them, and with
    ``warmup_s`` also over the reports submitted that long after the first one (``after_warmup``)."""
    every = [lat for _, lat in samples]
    out: dict[str, Any] = latency_figures(every) | {"samples": len(every), "mode": mode}
    if warmup_s is not None:
        start = min((sub for sub, _ in samples), default=0) + warmup_s * 1000
        warm = [lat for sub, lat in samples if sub >= start]
        out["after_warmup"] = latency_figures(warm) | {"samples": len(warm), "warmup_s": warmup_s}
    return out


def warmup_seconds(n: int, rate: float) -> float:
    """The start of a steady run that ``after_warmup`` leaves out: a quarter of it, at most 3 s."""
    return round(min(3.0, n / rate / 4), 2)


def latency_settings(settings: Settings) -> dict[str, Any]:
    """The settings that bound a steady-state latency, as the run used them."""
    return {
        "consumer_fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
        "worker_batch_within_s": settings.worker_batch_within_s,
        "worker_batch_gap_s": settings.worker_batch_gap_s,
        "worker_batch_size": settings.worker_batch_size,
        "note": "tansu (the embedded broker) holds an empty fetch for the whole consumer_fetch_max_wait_ms "
        "even when data arrives meanwhile (Apache Kafka answers at once); a report crosses two consumer hops "
        "(submissions → ingest, indicators → fan-out), each closing a batch once no message came for "
        "worker_batch_gap_s (or it is full, or worker_batch_within_s passed)",
    }
