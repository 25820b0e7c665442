"""`scamshare bench pipeline` through the click runner, on the session's broker and Redis, with a small N.

Checks the JSON keys and that the counts add up; speed is never asserted (it goes in bench/).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext
from pipeline.config import Settings
from pipeline.dev.bench import BENCH_SUBSCRIBERS
from tests.conftest import StackAddresses

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_bench_pipeline_prints_one_json_object_whose_counts_add_up(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # faust writes its data dir into the working directory
    args = ["pipeline", "--reports", "300", "--json", "--bootstrap", stack.bootstrap]
    result = CliRunner().invoke(
        bench,
        [*args, "--redis-url", stack.redis_url],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])

    for key in ("pipeline_per_s", "passthrough_per_s", "ratio"):
        assert isinstance(out[key], int | float) and out[key] > 0, key
    assert out["ratio"] == pytest.approx(out["pipeline_per_s"] / out["passthrough_per_s"], abs=1e-3)
    assert 0 <= out["latency_ms"]["p50"] <= out["latency_ms"]["p99"] <= out["latency_ms"]["max"]
    assert out["stack"] == "external"

    counts = out["counts"]
    assert counts["published"] == out["reports"] == 300
    assert counts["accepted"] + counts["rejected"] + counts["allowlisted"] == 300
    assert counts["rejected"] == 0  # the synthetic reports are all valid
    # Not indicators <= versions: 2% of the mix is RED, and an indicator only ever reported RED is counted
    # (first seen) but publishes no version (RED is shared with nobody).
    assert 0 < counts["indicators"] <= counts["accepted"] and 0 < counts["versions"] <= counts["accepted"]
    assert counts["indicators"] < 300  # ~30% of the reports repeat an earlier scam
    subs = {s.id for s in BENCH_SUBSCRIBERS}
    assert set(counts["delivered"]) == subs
    for sub in subs:  # fan-out ran once per version: every delivery is one feed message
        assert counts["delivered"][sub] == counts["feed_messages"][sub] == counts["feed_versions"][sub] > 0
    assert out["latency_ms"]["samples"] == sum(counts["feed_messages"].values())

    redis_figures = out["redis"]
    assert redis_figures["keys"]["i"]["keys"] == counts["indicators"]
    assert redis_figures["bytes_per_indicator"] > 0
    assert redis_figures["used_memory_delta_per_indicator"] > 0
    assert not list(tmp_path.glob("*-data"))  # the worker's faust data dir was removed


def test_bench_pipeline_at_a_steady_rate_reports_latency_at_that_rate(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["pipeline", "--rate", "50", "--duration", "2", "--json", "--bootstrap", stack.bootstrap]
    result = CliRunner().invoke(
        bench,
        [*args, "--redis-url", stack.redis_url],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert (out["mode"], out["offered_per_s"], out["reports"]) == ("steady", 50, 100)
    assert "ratio" not in out and "passthrough_per_s" not in out  # a latency run, not a capacity run
    # Offered evenly: 100 reports take about 2 s, not a burst's fraction of one.
    assert 0 < out["achieved_per_s"] <= 60
    latency = out["latency_ms"]
    assert 0 <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert latency["mode"].startswith("steady: 50 reports/s")
    assert out["p99_within_200ms"] == (latency["p99"] <= 200)
    counts = out["counts"]
    assert counts["accepted"] + counts["rejected"] + counts["allowlisted"] == 100
    assert latency["samples"] == sum(counts["feed_messages"].values()) > 0
