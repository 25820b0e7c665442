"""``bench pipeline --repeat K``: the spread over K runs, and the options it does not combine with."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext
from pipeline.config import Settings
from pipeline.dev.bench_repeat import repeated_summary, run_repeated, spread


def burst(rate: float, passthrough: float, p99: float) -> dict[str, Any]:
    return {
        "pipeline_per_s": rate,
        "passthrough_per_s": passthrough,
        "ratio": round(rate / passthrough, 3),
        "latency_ms": {"p50": p99 / 2, "p99": p99, "max": p99 * 2},
    }


def steady(p99: float, warm_p99: float) -> dict[str, Any]:
    return {
        "mode": "steady",
        "offered_per_s": 800,
        "achieved_per_s": 790.0,
        "latency_ms": {"p50": 60.0, "p99": p99, "max": p99 + 50, "after_warmup": {"p99": warm_p99}},
        "p99_within_200ms": p99 <= 200,
        "p99_after_warmup_within_200ms": warm_p99 <= 200,
    }


def test_the_spread_is_the_median_and_the_range() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert spread([4.0, 1.0, 2.0, 10.0]) == {"median": 3.0, "min": 1.0, "max": 10.0}  # mean of the middle two
    assert spread([5.0]) == {"median": 5.0, "min": 5.0, "max": 5.0}
    with pytest.raises(ValueError, match="no runs"):
        spread([])


def test_three_bursts_give_every_run_and_the_lowest_ratio() -> None:
    runs = [burst(1600, 20000, 5000), burst(1200, 24000, 6000), burst(1800, 20000, 4000)]
    out = repeated_summary(runs, steady=False)
    assert (out["mode"], out["of"], out["repeat"]) == ("repeated", "burst", 3)
    assert out["runs"] == runs  # every run as it was
    assert out["pipeline_per_s"] == {"median": 1600, "min": 1200, "max": 1800}
    assert out["passthrough_per_s"] == {"median": 20000, "min": 20000, "max": 24000}
    # "Three consecutive runs at ratio >= 0.33" is the lowest of the three: here 0.05, not the median 0.08.
    assert out["ratio"] == {"median": 0.08, "min": 0.05, "max": 0.09}
    assert out["p99_ms"] == {"median": 5000, "min": 4000, "max": 6000}
    assert "runs_p99_within_200ms" not in out  # a burst is not a latency run


def test_steady_runs_count_the_runs_within_the_target() -> None:
    runs = [steady(150, 120), steady(2196, 180), steady(278, 260)]
    out = repeated_summary(runs, steady=True)
    assert (out["of"], out["offered_per_s"], out["target_p99_ms"]) == ("steady", 800, 200.0)
    assert out["p99_ms"] == {"median": 278, "min": 150, "max": 2196}
    assert out["p99_after_warmup_ms"] == {"median": 180, "min": 120, "max": 260}
    assert out["max_ms"]["max"] == 2246
    assert (out["runs_p99_within_200ms"], out["runs_p99_after_warmup_within_200ms"]) == (1, 2)


def test_runs_go_one_after_another_in_order() -> None:
    calls: list[int] = []

    async def one_run(i: int) -> dict[str, Any]:
        calls.append(i)
        await asyncio.sleep(0)
        return burst(1000 + i, 20000, 100)

    out = asyncio.run(run_repeated(3, one_run, steady=False))
    assert calls == [0, 1, 2]
    assert [r["pipeline_per_s"] for r in out["runs"]] == [1000, 1001, 1002]


@pytest.mark.parametrize("other", [["--sweep"], ["--workers", "2"], ["--profile", "p.pstats"]])
def test_repeat_is_refused_with_the_runs_it_does_not_repeat(other: list[str], tmp_path: Any) -> None:
    result = CliRunner().invoke(
        bench,
        ["pipeline", "--repeat", "2", *other],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert result.exit_code == 2, result.output
    assert "--repeat" in result.output
