"""The steady-state sweep of the pipeline benchmark: ``scamshare bench pipeline --sweep``.

First the burst run of :func:`pipeline.dev.bench.run_pipeline_bench` measures the capacity C (reports per
second through one in-process worker). Then steady-state rounds offer reports evenly at a ladder of rates,
each for ``duration_s`` seconds and each in a fresh namespace (topic prefix, Redis key prefix, consumer
group), so no round sees another's state or backlog. The ladder: 0.25 C and 0.5 C always (0.5 C is the
``half_capacity`` figure), then 0.75 C and C while p99 stays within 200 ms; if even 0.25 C misses it, lower
rungs (C/8, C/16); finally one bisection between the highest rate within 200 ms and the lowest above it.
Explicit ``rates`` replace the ladder (0.5 C is still run). Never fails on speed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pipeline.config import Settings
from pipeline.dev.bench import run_pipeline_bench
from pipeline.dev.bench_latency import TARGET_P99_MS, latency_settings

#: Fractions of the capacity tried upwards (stopping at the first p99 above the target), then downwards.
UP = (0.25, 0.5, 0.75, 1.0)
DOWN = (0.125, 0.0625)
MIN_RATE = 1.0


def fresh_namespace(settings: Settings, tag: str) -> Settings:
    """``settings`` in a namespace of its own: topic prefix, Redis key prefix and app id (group) under tag."""
    tag = f"{tag}-{uuid.uuid4().hex[:4]}"
    return settings.replace(
        topic_prefix=f"{settings.topic_prefix}{tag}.",
        redis_key_prefix=f"{settings.redis_key_prefix}{tag}:",
        app_id=f"{settings.app_id}-{tag}",
    )


def round_summary(result: dict[str, Any]) -> dict[str, Any]:
    latency = result["latency_ms"]
    return {
        "offered_per_s": result["offered_per_s"],
        "achieved_per_s": result["achieved_per_s"],
        "reports": result["reports"],
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "samples": latency["samples"],
        "p99_within_200ms": result["p99_within_200ms"],
        "p99_after_warmup_ms": latency["after_warmup"]["p99"],
        "warmup_s": latency["after_warmup"]["warmup_s"],
        "accepted": result["counts"]["accepted"],
    }


async def run_sweep(
    settings: Settings,
    burst_reports: int,
    *,
    duration_s: float,
    rates: Sequence[float] | None = None,
    seed: int = 2026,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """The sweep (module docstring) against the broker and Redis of ``settings``; one JSON-able dict."""
    progress(f"capacity: a burst of {burst_reports} reports")
    capacity_run = await run_pipeline_bench(
        fresh_namespace(settings, "capacity"), burst_reports, seed=seed, progress=progress
    )
    capacity = float(capacity_run["pipeline_per_s"])
    rounds: dict[float, dict[str, Any]] = {}

    async def at(rate: float) -> dict[str, Any]:
        rate = round(max(MIN_RATE, rate), 1)
        if rate not in rounds:
            n = max(10, int(rate * duration_s))
            progress(f"steady: {rate:g}/s for {n / rate:.1f} s")
            result = await run_pipeline_bench(
                fresh_namespace(settings, f"r{len(rounds)}"), n, seed=seed, rate=rate, progress=progress
            )
            rounds[rate] = round_summary(result)
            progress(f"  p50 {rounds[rate]['p50_ms']} ms, p99 {rounds[rate]['p99_ms']} ms")
        return rounds[rate]

    half = await at(capacity / 2)
    if rates:
        for rate in rates:
            await at(rate)
    else:
        await ladder(capacity, at)
    ordered = [rounds[r] for r in sorted(rounds)]
    within = [r["offered_per_s"] for r in ordered if r["p99_within_200ms"]]
    warm = [r["offered_per_s"] for r in ordered if r["p99_after_warmup_ms"] <= TARGET_P99_MS]
    return {
        "mode": "sweep",
        "target_p99_ms": TARGET_P99_MS,
        "capacity_per_s": capacity,
        "capacity": {
            k: capacity_run[k]
            for k in ("reports", "pipeline_per_s", "passthrough_per_s", "ratio", "latency_ms")
        },
        "duration_s": duration_s,
        "ladder": "explicit --rates"
        if rates
        else "0.25C, 0.5C, then up while p99 <= 200 ms, else down; one bisection",
        "rounds": ordered,
        "max_rate_p99_within_200ms": max(within, default=None),
        # The same, leaving out each round's warm-up (latency_ms.after_warmup): the steady state proper.
        "max_rate_p99_after_warmup_within_200ms": max(warm, default=None),
        "finding": finding(ordered, within) + warm_finding(warm),
        "half_capacity": {
            k: half[k]
            for k in ("offered_per_s", "achieved_per_s", "p50_ms", "p99_ms", "max_ms", "p99_after_warmup_ms")
        }
        | {"fraction_of_capacity": 0.5, "p99_within_200ms": half["p99_within_200ms"]},
        "settings": latency_settings(settings),
    }


def finding(ordered: Sequence[dict[str, Any]], within: Sequence[float]) -> str:
    """One sentence on what the rounds show."""
    low, high = ordered[0], ordered[-1]
    spread = (
        f"p99 went from {low['p99_ms']:g} ms at {low['offered_per_s']:g}/s to {high['p99_ms']:g} ms at "
        f"{high['offered_per_s']:g}/s"
    )
    if within:
        return f"p99 stayed within 200 ms up to {max(within):g}/s offered; {spread}"
    return (
        f"no offered rate kept p99 within 200 ms; {spread}. Even the lowest rate pays the per-hop waits: two "
        "consumer hops, each up to consumer_fetch_max_wait_ms on tansu plus the batch it waits in (settings)"
    )


def warm_finding(warm: Sequence[float]) -> str:
    """What the rounds show once each round's warm-up is left out."""
    if warm:
        return f". Leaving out each round's warm-up, p99 stayed within 200 ms up to {max(warm):g}/s"
    return ". Even leaving out each round's warm-up, no rate kept p99 within 200 ms"


async def ladder(capacity: float, at: Callable[[float], Awaitable[dict[str, Any]]]) -> None:
    """Rungs up from 0.25 C until p99 misses the target (0.25 and 0.5 always), else down; one bisection."""
    passed: list[float] = []
    failed: list[float] = []

    async def rung(fraction: float) -> None:
        got = await at(capacity * fraction)
        (passed if got["p99_within_200ms"] else failed).append(got["offered_per_s"])

    for i, fraction in enumerate(UP):
        await rung(fraction)
        if i >= 1 and failed:
            break
    for fraction in DOWN:
        if passed:
            break
        await rung(fraction)
    above = [r for r in failed if passed and r > max(passed)]
    if above and min(above) / max(passed) > 1.15:
        await at((max(passed) + min(above)) / 2)
