"""bench/bench_canon.py's cold loop, pass by pass: its spread and the rate it gives are the same passes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_canon.py"


@pytest.fixture(scope="module")
def bench_canon() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_canon_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_spread_is_of_each_pass_and_the_median_is_its_middle_pass(bench_canon: ModuleType) -> None:
    # 100 values a pass: 0.01 s is 10,000/s, 0.002 s 50,000/s; the one slow pass does not move the median
    spread = bench_canon.pass_spread(100, [0.002, 0.0025, 0.01, 0.002, 0.002])
    assert spread == {"median": 50_000, "lowest": 10_000, "highest": 50_000, "passes": 5}
    # the whole loop's rate is of all the passes together: 500 values in 0.0185 s
    assert bench_canon.per_second(100, [0.002, 0.0025, 0.01, 0.002, 0.002]) == pytest.approx(500 / 0.0185)


def test_a_cold_pass_parses_every_value_again_and_the_passes_add_up_to_the_time(
    bench_canon: ModuleType,
) -> None:
    cases = bench_canon.make_cases(3)
    domains = sum(1 for kind, _, _ in cases if kind == "domain")
    memo = bench_canon._VALUE_CACHES["pipeline.canon.domain.canonicalize"]
    bench_canon.pass_seconds(cases, 0.01, cold=True)  # the first pass loads the Public Suffix List
    passes = bench_canon.pass_seconds(cases, 0.05, cold=True)
    assert len(passes) > 1
    assert sum(passes) >= 0.05 > sum(passes[:-1])  # it stopped at the first pass that reached the time
    # the memos were cleared before the last pass, so it found none of its values there
    assert (memo.cache_info().hits, memo.cache_info().misses) == (0, domains)
    warm = bench_canon.pass_seconds(cases, 0.01, cold=False)
    assert memo.cache_info().hits == domains * len(warm)
    assert bench_canon.rate(cases, 0.01, cold=True) > 0
