"""`scamshare bench pipeline` through the click runner, on the session's broker and Redis, with a small N.

Checks the JSON keys and that the counts add up; speed is never asserted (it goes in bench/).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext
from pipeline.config import Settings
from pipeline.dev.bench import BENCH_SUBSCRIBERS
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics
from tests.conftest import StackAddresses
from tests.integration.helpers import on_one_engine

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
    cpu = out["cpu"]  # the loop's thread is part of the process
    assert 0 < cpu["loop_thread_s"] <= cpu["process_s"] and cpu["loop_thread_us_per_report"] > 0
    assert cpu["process_us_per_report"] == pytest.approx(cpu["process_s"] / 300 * 1e6, rel=0.01)

    counts = out["counts"]
    assert counts["published"] == out["reports"] == 300
    assert counts["accepted"] + counts["rejected"] + counts["allowlisted"] == 300
    assert counts["rejected"] == 0  # the synthetic reports are all valid
    assert counts["held"] == 0  # its organisations' quotas are real but far above the run
    # Not indicators <= versions: 2% of the mix is RED, and an indicator only ever reported RED is counted
    # (first seen) but publishes no version (RED is shared with nobody).
    assert 0 < counts["indicators"] <= counts["accepted"] and 0 < counts["versions"] <= counts["accepted"]
    assert counts["indicators"] < 300  # ~30% of the reports repeat an earlier scam
    subs = {s.id for s in BENCH_SUBSCRIBERS}
    assert set(counts["delivered"]) == subs
    for sub in subs:  # fan-out ran once per version: every delivery is one feed message
        assert counts["delivered"][sub] == counts["feed_messages"][sub] == counts["feed_versions"][sub] > 0
    assert out["latency_ms"]["samples"] == sum(counts["feed_messages"].values())
    # On Apache Kafka every partition the run writes was pre-written and emptied (bench_prewrite), and the
    # exact counts above show no reader saw those records; tansu refuses DeleteRecords, so nothing there.
    if stack.engine in ("tansu", "kafka"):
        assert out["prewritten"]["done"] is (stack.engine == "kafka"), out["prewritten"]
    if out["prewritten"]["done"]:  # 12 submission topics and 3 feeds, then the passthrough output: 4 each
        assert out["prewritten"]["partitions"] == 16 * 4

    redis_figures = out["redis"]
    assert redis_figures["keys"]["i"]["keys"] == counts["indicators"]
    # every batch went through admission's counting, as a registered organisation's does: its quota
    # windows (q:{org}:<quota>:<window>) are there, one hour's new indicators per producer at least
    assert redis_figures["keys"]["q"]["keys"] >= 1
    assert redis_figures["bytes_per_indicator"] > 0
    assert redis_figures["used_memory_delta_per_indicator"] > 0
    assert not list(tmp_path.glob("*-data"))  # the worker's faust data dir was removed
    # Its topics are deleted too (its Redis keys were): benchmarks do not pile partitions up on a dev broker.
    admin = build_admin(Settings(bootstrap=stack.bootstrap))
    deadline = time.monotonic() + 15  # a deleted topic can linger in metadata for a moment
    while list_topics(admin, "scam.bench-") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list_topics(admin, "scam.bench-") == {}


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
    # The first half second (a quarter of the 2 s run) is also left out apart; the headline keeps it.
    warm = latency["after_warmup"]
    assert warm["warmup_s"] == 0.5 and 0 < warm["samples"] < latency["samples"]
    assert 0 <= warm["p50"] <= warm["p99"] <= warm["max"] <= latency["max"]
    assert out["p99_after_warmup_within_200ms"] == (warm["p99"] <= 200)
    assert_latency_settings(out["settings"])
    assert 0 < out["cpu"]["loop_thread_s"] <= out["cpu"]["process_s"]  # at the steady rate too
    counts = out["counts"]
    assert counts["accepted"] + counts["rejected"] + counts["allowlisted"] == 100
    assert latency["samples"] == sum(counts["feed_messages"].values()) > 0


def test_bench_pipeline_repeated_at_a_steady_rate_runs_each_in_its_own_namespace(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_one_engine(stack, "tansu")
    monkeypatch.chdir(tmp_path)
    out = run_bench(stack, tmp_path, "--rate", "40", "--duration", "1", "--repeat", "2")
    assert (out["mode"], out["of"], out["repeat"], out["offered_per_s"]) == ("repeated", "steady", 2, 40)
    runs = out["runs"]
    assert len(runs) == 2
    for run in runs:
        assert (run["mode"], run["reports"]) == ("steady", 40)
        assert_counts_add_up(run["counts"], 40)
    # The same seed gives each run the same reports, and a fresh namespace means the second found none of
    # the first's state: the same indicators and versions, not duplicates of the first run's.
    assert runs[0]["counts"]["indicators"] == runs[1]["counts"]["indicators"]
    assert runs[0]["counts"]["versions"] == runs[1]["counts"]["versions"]
    p99s = [run["latency_ms"]["p99"] for run in runs]
    assert out["p99_ms"] == {"median": sum(p99s) / 2, "min": min(p99s), "max": max(p99s)}
    assert out["runs_p99_within_200ms"] == sum(1 for p in p99s if p <= 200)


def run_bench(stack: StackAddresses, tmp_path: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        bench,
        ["pipeline", *args, "--json", "--bootstrap", stack.bootstrap, "--redis-url", stack.redis_url],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["stack"] == "external"
    return out


def assert_latency_settings(figures: dict[str, Any]) -> None:
    """The settings that bound the latency are in the JSON, as the run used them (and the tansu caveat)."""
    defaults = Settings()
    for key in ("consumer_fetch_max_wait_ms", "worker_batch_within_s", "worker_batch_size"):
        assert figures[key] == getattr(defaults, key), key
    assert "tansu" in figures["note"] and "fetch" in figures["note"]


def assert_counts_add_up(counts: dict[str, Any], n: int) -> None:
    assert counts["published"] == n
    assert counts["accepted"] + counts["rejected"] + counts["allowlisted"] == n
    assert counts["rejected"] == 0
    assert 0 < counts["indicators"] <= counts["accepted"] and 0 < counts["versions"] <= counts["accepted"]
    for sub in (s.id for s in BENCH_SUBSCRIBERS):
        assert counts["delivered"][sub] == counts["feed_messages"][sub] == counts["feed_versions"][sub] > 0


def test_bench_pipeline_sweep_reports_consistent_rounds_and_the_settings_in_effect(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_one_engine(stack, "kafka")
    monkeypatch.chdir(tmp_path)
    # Explicit rates (hidden --rates) instead of the ladder keep it short; 0.5 C is always run.
    out = run_bench(stack, tmp_path, "--sweep", "--reports", "200", "--duration", "1", "--rates", "20,40")
    assert out["mode"] == "sweep" and out["duration_s"] == 1
    capacity = out["capacity_per_s"]
    assert capacity > 0 and capacity == out["capacity"]["pipeline_per_s"]
    assert out["capacity"]["reports"] == 200 and out["capacity"]["passthrough_per_s"] > 0

    rounds = out["rounds"]
    offered = [r["offered_per_s"] for r in rounds]
    assert offered == sorted(set(offered))  # sorted, one round per rate
    assert {20, 40, round(max(1.0, capacity / 2), 1)} == set(offered)
    for r in rounds:
        assert r["reports"] == max(10, int(r["offered_per_s"] * 1)) == r["accepted"]
        assert r["achieved_per_s"] > 0
        assert 0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] and r["samples"] > 0
        assert r["p99_within_200ms"] == (r["p99_ms"] <= 200)
        assert r["warmup_s"] == round(min(3.0, r["reports"] / r["offered_per_s"] / 4), 2)
        assert 0 <= r["p99_after_warmup_ms"] <= r["max_ms"]
    within = [r["offered_per_s"] for r in rounds if r["p99_ms"] <= 200]
    assert out["max_rate_p99_within_200ms"] == max(within, default=None)
    warm = [r["offered_per_s"] for r in rounds if r["p99_after_warmup_ms"] <= 200]
    assert out["max_rate_p99_after_warmup_within_200ms"] == max(warm, default=None)

    half = out["half_capacity"]
    assert half["offered_per_s"] == pytest.approx(capacity / 2, abs=0.06)
    assert half["fraction_of_capacity"] == 0.5
    assert half["p99_within_200ms"] == (half["p99_ms"] <= 200)
    same = next(r for r in rounds if r["offered_per_s"] == half["offered_per_s"])
    assert (same["p99_ms"], same["p50_ms"]) == (half["p99_ms"], half["p50_ms"])
    assert same["p99_after_warmup_ms"] == half["p99_after_warmup_ms"]
    assert_latency_settings(out["settings"])
    assert isinstance(out["finding"], str) and out["finding"]


def test_bench_pipeline_scale_out_runs_one_and_two_workers_and_leaves_none_running(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_one_engine(stack, "tansu")
    monkeypatch.chdir(tmp_path)
    out = run_bench(stack, tmp_path, "--workers", "2", "--reports", "300")
    assert (out["mode"], out["workers"], out["partitions"], out["reports"]) == ("scale-out", 2, 4, 300)
    assert out["cpu_count"] == os.cpu_count()
    one, two = out["runs"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for run in (one, two):
        for key in ("pipeline_per_s", "passthrough_per_s", "ratio"):
            assert run[key] > 0, key
        assert run["ratio"] == pytest.approx(run["pipeline_per_s"] / run["passthrough_per_s"], abs=1e-3)
        assert set(run["cpu_s"]) == {*(f"worker-{i + 1}" for i in range(run["workers"])), "broker", "redis",
                                     "bench"}  # fmt: skip
        assert_counts_add_up(run["counts"], 300)
        assert run["latency_ms"]["samples"] == sum(run["counts"]["feed_messages"].values())
        # Every worker process was stopped and reaped.
        assert len(run["worker_pids"]) == run["workers"] and None not in run["worker_exit_codes"]
        for pid in run["worker_pids"]:
            assert not Path(f"/proc/{pid}").exists() or pid_is_not_a_worker(pid), pid
    assert out["pipeline_per_s"] == two["pipeline_per_s"] and out["ratio"] == two["ratio"]
    assert out["one_worker"]["pipeline_per_s"] == one["pipeline_per_s"]
    assert out["speedup"] == pytest.approx(two["pipeline_per_s"] / one["pipeline_per_s"], abs=1e-3)
    assert out["counts"] == two["counts"]
    assert "cores" in out["limits"] and "worker-2" in out["limits"]
    assert not list(tmp_path.glob("*-data"))


def pid_is_not_a_worker(pid: int) -> bool:
    """A reused pid: whatever runs there now is not a benchmark worker."""
    try:
        return b"bench_worker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def test_bench_pipeline_on_an_embedded_redis_cluster_counts_the_same(
    stack: StackAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--redis-cluster 3``: its own embedded broker and a 3-primary Redis Cluster, stopped afterwards."""
    on_one_engine(stack, "tansu")  # it starts its own embedded broker, whatever the session's engine
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        bench,
        ["pipeline", "--reports", "200", "--redis-cluster", "3", "--json"],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert (out["stack"], out["redis_cluster"]) == ("embedded-cluster", True)
    counts = out["counts"]
    assert counts["published"] == counts["accepted"] == 200 and counts["rejected"] == 0
    for sub in (s.id for s in BENCH_SUBSCRIBERS):
        assert counts["delivered"][sub] == counts["feed_messages"][sub] > 0
    assert out["redis"]["keys"]["i"]["keys"] == counts["indicators"] > 0

    refused = CliRunner().invoke(
        bench,
        ["pipeline", "--redis-cluster", "3", "--bootstrap", stack.bootstrap, "--redis-url", stack.redis_url],
        obj=CliContext(settings=Settings(state_dir=tmp_path / ".scamshare")),
    )
    assert refused.exit_code == 2 and "SCAMSHARE_REDIS_CLUSTER=true" in refused.output
