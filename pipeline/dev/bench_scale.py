"""Scale-out of the pipeline benchmark: ``scamshare bench pipeline --workers N``.

The burst of :mod:`pipeline.dev.bench` run twice in one invocation, each in a fresh namespace with the same
partition count: once through one worker process, once through N in one consumer group. Both runs use worker
subprocesses (:mod:`pipeline.dev.bench_worker`: the worker the in-process benchmark runs, one per process;
this process only sends the burst and polls the counters), so they differ only in the worker count. The
burst starts once every worker reports itself ready and the workers together own every input partition
exactly once (the embedded broker describes no group members, so the workers say it themselves). Each run
also measures the passthrough loop, and the CPU seconds of every process involved (workers, broker, Redis,
this process) over the measured window, from ``/proc/<pid>/stat``: with everything on one machine those say
what limits the scaling. Never fails on speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import Settings
from pipeline.dev.bench import (
    bench_inputs,
    delete_namespace,
    feed_figures,
    passthrough,
    prepare,
    run_counts,
    send_burst,
)
from pipeline.dev.bench_done import wait_done
from pipeline.dev.bench_steady import fresh_namespace
from pipeline.dev.proc import log_tail, proc_stat, settings_env, signal_group, spawn
from pipeline.dev.synthetic import build_messages, synthetic_reports
from pipeline.kafka.clients import await_leaders, build_producer
from pipeline.state.redis_store import RedisStore

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of ``pid`` so far (every thread), or None without /proc."""
    stat = proc_stat(pid) if pid else None
    if stat is None or len(stat) < 13:
        return None
    return (int(stat[11]) + int(stat[12])) / _CLK_TCK


def process_name(pid: int | None) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() if pid else None
    except OSError:
        return None


def listening_pid(address: str) -> int | None:
    """The pid listening on ``host:port`` of this machine (Linux /proc), None if not found or not ours."""
    port = address.rsplit(":", 1)[-1]
    if not port.isdigit():
        return None
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == int(port):
                inodes.add(f"socket:[{cols[9]}]")
    for entry in Path("/proc").iterdir() if inodes else ():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def worker_env(settings: Settings, state_dir: Path) -> dict[str, str]:
    """The environment of a worker subprocess for ``settings`` (none of our own SCAMSHARE_* leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    return env | settings_env(settings.replace(state_dir=state_dir))


def stop_all(procs: Sequence[subprocess.Popen[bytes]], grace_s: float = 20.0) -> None:
    """SIGTERM every worker (all at once: one leaving must not rebalance onto one still stopping), wait up to
    ``grace_s``, then SIGKILL what still runs."""
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait(10)


def group_gap(statuses: Sequence[Path], wanted: set[tuple[str, int]]) -> str | None:
    """What keeps the workers (their status files, :mod:`pipeline.dev.bench_worker`) from each being ready
    and together owning every partition of ``wanted`` exactly once; None once they do."""
    owned: list[set[tuple[str, int]]] = []
    for path in statuses:
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            return f"{path.stem} not started yet"
        if not status["ready"]:
            return f"{path.stem} not ready (rebalancing or recovering)"
        owned.append({(t, p) for t, p in status["owned"]} & wanted)
    if not all(owned):
        return f"{sum(map(bool, owned))}/{len(owned)} workers own input partitions"
    union = set().union(*owned)
    if union != wanted or sum(map(len, owned)) != len(wanted):
        return f"{len(union)}/{len(wanted)} partitions owned, {sum(map(len, owned))} claims"
    return None


async def wait_group(
    settings: Settings, procs: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path],
    statuses: Sequence[Path], timeout_s: float,
) -> float:  # fmt: skip
    """Until :func:`group_gap` finds none; returns the seconds it took. A worker that exits fails the run."""
    topics = [*bench_inputs(settings), settings.topics.indicators]
    wanted = {(t, p) for t in topics for p in range(settings.partitions)}
    started = time.monotonic()
    while True:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode} while joining:\n{log_tail(log)}")
        gap = group_gap(statuses, wanted)
        if gap is None:
            await asyncio.sleep(0.3)  # one more status round: no rebalance started meanwhile
            if group_gap(statuses, wanted) is None:
                return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{len(procs)} workers not ready after {timeout_s:.0f}s: {gap}")
        await asyncio.sleep(0.1)


async def burst_with_workers(
    settings: Settings, n: int, workers: int, servers: dict[str, int | None], *, seed: int,
    timeout_s: float, progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """One burst of ``n`` through ``workers`` worker subprocesses in a fresh namespace; its figures."""
    store = RedisStore.from_settings(settings)
    loop = asyncio.get_running_loop()
    passthrough_topic, prewritten = await prepare(settings, store)
    built = datetime.now(UTC)
    messages = build_messages(synthetic_reports(n, seed=seed), built)
    producer = build_producer(settings)
    await_leaders(producer, bench_inputs(settings))
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="scamshare-bench-scale-") as tmp:
        logs = [Path(tmp) / f"worker-{i + 1}.log" for i in range(workers)]
        statuses = [Path(tmp) / f"worker-{i + 1}.status" for i in range(workers)]
        try:
            for i in range(workers):
                home = Path(tmp) / f"w{i + 1}"  # faust writes its data dir into the working directory
                home.mkdir()
                argv = [sys.executable, "-m", "pipeline.dev.bench_worker", str(statuses[i])]
                env = worker_env(settings, home / ".scamshare")
                procs.append(spawn(argv, logs[i], death_signal=signal.SIGTERM, env=env, cwd=home))
            join_s = await wait_group(settings, procs, logs, statuses, 90)
            progress(f"{workers} worker(s) own all {settings.partitions} partitions after {join_s:.1f}s")
            pids = {f"worker-{i + 1}": p.pid for i, p in enumerate(procs)} | servers | {"bench": os.getpid()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            first = await loop.run_in_executor(None, send_burst, producer, settings.topics, messages, built)
            stats = await wait_done(store, n, timeout_s)
            elapsed = time.time() - first
            cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        finally:
            stop_all(procs)
    progress(f"{workers} worker(s): {n} reports in {elapsed:.2f}s; passthrough loop")
    await delete_namespace(store, settings.redis_key_prefix)
    await store.close()
    feeds = await loop.run_in_executor(None, feed_figures, settings, stats, "burst")
    passthrough_per_s = await loop.run_in_executor(
        None, passthrough, settings, bench_inputs(settings), passthrough_topic, n
    )
    cpu = {
        name: round(after - before, 2) if after is not None and before is not None else None
        for (name, before), after in zip(cpu_before.items(), cpu_after.values(), strict=True)
    }
    pipeline_per_s = n / elapsed
    return {
        "workers": workers,
        "pipeline_per_s": round(pipeline_per_s, 1),
        "passthrough_per_s": round(passthrough_per_s, 1),
        "ratio": round(pipeline_per_s / passthrough_per_s, 3),
        "pipeline_s": round(elapsed, 3),
        "group_join_s": round(join_s, 1),
        "cpu_s": cpu,
        "cores_busy": round(sum(v for v in cpu.values() if v is not None) / elapsed, 2),
        "worker_pids": [p.pid for p in procs],
        "worker_exit_codes": [p.returncode for p in procs],
        "latency_ms": feeds.pop("latency_ms"),
        "counts": run_counts(n, stats, feeds),
        "prewritten": prewritten,
    }


def limits(one: dict[str, Any], many: dict[str, Any], cpu_count: int | None, names: dict[str, Any]) -> str:
    """What the measurements say limits the scale-out on this machine, in one sentence or three."""
    cores = cpu_count or 1
    cpu = many["cpu_s"]
    window = many["pipeline_s"]
    parts = ", ".join(
        f"{name}{f' ({names[name]})' if names.get(name) else ''} {s:.1f}"
        for name, s in cpu.items()
        if s is not None
    )
    missing = [name for name, s in cpu.items() if s is None]
    speedup = many["pipeline_per_s"] / one["pipeline_per_s"]
    busy = many["cores_busy"]
    verdict = (
        f"CPU-bound: {busy:.2f} of {cores} cores busy"
        if busy >= 0.8 * cores
        else f"Not CPU-saturated ({busy:.2f} of {cores} cores busy): part of the window is waiting (fetch "
        "waits, batch windows, Redis and broker round trips), not compute"
    )
    single = one["cpu_s"].get("worker-1")
    alone = (
        f" With 1 worker, worker-1 used {single:.1f} CPU-s in {one['pipeline_s']:.1f} s "
        f"({single / one['pipeline_s']:.2f} of a core; {one['cores_busy']:.2f} cores busy in all)."
        if single is not None and one["pipeline_s"] > 0
        else ""
    )
    return (
        f"{many['workers']} workers ran {speedup:.2f}x the rate of 1. {verdict}. Every process shares the "
        f"{cores} cores of this machine: CPU seconds over the {window:.1f} s burst window: {parts}"
        + (f" ({', '.join(missing)} not measured: not a local process we could read)" if missing else "")
        + f".{alone} A worker is one Python process (one core at most) and the broker and redis-server need "
        "cores too, so once the cores are busy more workers cannot add throughput here."
    )


async def run_scale_bench(
    settings: Settings, n: int, workers: int, *, seed: int = 2026, timeout_s: float = 300.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:  # fmt: skip
    """1 worker, then ``workers`` workers, over the same burst (module docstring); one JSON-able dict."""
    redis_at = urlsplit(settings.redis_url_value() or "")
    servers = {
        "broker": listening_pid((settings.bootstrap or "").split(",")[0]),
        "redis": listening_pid(f"{redis_at.hostname}:{redis_at.port or 6379}"),
    }
    names = {name: process_name(pid) for name, pid in servers.items()}
    runs = []
    for k in (1, workers):
        progress(f"burst of {n} through {k} worker subprocess(es), {settings.partitions} partitions")
        runs.append(
            await burst_with_workers(
                fresh_namespace(settings, f"w{k}"),
                n,
                k,
                servers,
                seed=seed,
                timeout_s=timeout_s,
                progress=progress,
            )
        )
    one, many = runs
    cpu_count = os.cpu_count()
    return {
        "mode": "scale-out",
        "reports": n,
        "worker": "one process each (pipeline.dev.bench_worker: the in-process benchmark's worker), one "
        "consumer group; this process only sends the burst and polls the counters",
        "workers": workers,
        "partitions": settings.partitions,
        "pipeline_per_s": many["pipeline_per_s"],
        "passthrough_per_s": many["passthrough_per_s"],
        "ratio": many["ratio"],
        "one_worker": {k: one[k] for k in ("pipeline_per_s", "passthrough_per_s", "ratio", "pipeline_s")},
        "speedup": round(many["pipeline_per_s"] / one["pipeline_per_s"], 3),
        "cpu_count": cpu_count,
        "limits": limits(one, many, cpu_count, names),
        "processes": names,
        "runs": runs,
        "counts": many["counts"],
    }
