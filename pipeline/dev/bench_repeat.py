"""The same pipeline benchmark several times in one process: ``scamshare bench pipeline --repeat K``.

One 20 s steady run is not a measurement of p99: on this 2-core machine consecutive runs at one rate gave p99
from 278 to 2,196 ms. ``--repeat K`` runs the burst (or the ``--rate`` run) K times, one after another
against the same broker and Redis, each in a fresh namespace (topic prefix, Redis key prefix, consumer group)
so no run sees another's state or backlog, and reports every run beside the spread of the figures that decide
issue 15's targets: the median, the lowest and the highest. "Three consecutive runs print ratio >= 0.33" is
``ratio.min`` of ``--repeat 3``; a steady p99 is ``p99_ms.median`` with its range. Never fails on speed.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pipeline.dev.bench_latency import TARGET_P99_MS

#: What a burst's spread is taken over: a figure's name and where it is in one run's JSON.
BURST_FIGURES: dict[str, tuple[str, ...]] = {
    "pipeline_per_s": ("pipeline_per_s",),
    "passthrough_per_s": ("passthrough_per_s",),
    "ratio": ("ratio",),
    "p99_ms": ("latency_ms", "p99"),
}
#: The same for a steady run.
STEADY_FIGURES: dict[str, tuple[str, ...]] = {
    "achieved_per_s": ("achieved_per_s",),
    "p50_ms": ("latency_ms", "p50"),
    "p99_ms": ("latency_ms", "p99"),
    "max_ms": ("latency_ms", "max"),
    "p99_after_warmup_ms": ("latency_ms", "after_warmup", "p99"),
}


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, lowest and highest of one figure over the runs (the median of an even count is the mean of
    the middle two)."""
    if not values:
        raise ValueError("no runs to take a spread over")
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def figure(run: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = run
    for key in path:
        value = value[key]
    return float(value)


def repeated_summary(runs: Sequence[dict[str, Any]], *, steady: bool) -> dict[str, Any]:
    """The JSON of K runs: every run as it was, and the spread of the figures that decide the targets."""
    figures = STEADY_FIGURES if steady else BURST_FIGURES
    out: dict[str, Any] = {
        "mode": "repeated",
        "repeat": len(runs),
        "of": "steady" if steady else "burst",
        **{name: spread([figure(run, path) for run in runs]) for name, path in figures.items()},
    }
    if steady:
        out["offered_per_s"] = runs[0]["offered_per_s"]
        out["runs_p99_within_200ms"] = sum(1 for run in runs if run["p99_within_200ms"])
        out["runs_p99_after_warmup_within_200ms"] = sum(
            1 for run in runs if run["p99_after_warmup_within_200ms"]
        )
    out["target_p99_ms"] = TARGET_P99_MS
    out["runs"] = list(runs)
    return out


async def run_repeated(
    repeat: int,
    one_run: Callable[[int], Awaitable[dict[str, Any]]],
    *,
    steady: bool,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """``one_run(i)`` for i in 0..repeat-1, one after another (each is expected to use a namespace of its
    own), then :func:`repeated_summary` of them."""
    runs = []
    for i in range(repeat):
        progress(f"run {i + 1} of {repeat}")
        runs.append(await one_run(i))
    return repeated_summary(runs, steady=steady)
