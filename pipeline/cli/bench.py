"""``scamshare bench pipeline``: throughput of the processors against a plain Kafka loop, in one run."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from pipeline.cli.context import CliContext, handle_errors, override, print_json
from pipeline.cli.context import connection_options as _connection_options
from pipeline.config import Settings
from pipeline.errors import ScamshareError


@click.group("bench")
def bench() -> None:
    """Benchmarks; each prints one JSON object with --json."""


@contextlib.contextmanager
def bench_settings(
    obj: CliContext, settings: Settings, say: bool, cluster: int = 0
) -> Iterator[tuple[Settings, str]]:
    """Settings for one run: in a fresh namespace on the given broker and Redis, else on an embedded stack
    started (and stopped) here — with ``cluster`` > 0 its state on an embedded Redis Cluster of that many
    primaries. Yields the settings and where they point ("external", "embedded", "embedded-cluster")."""
    stamp = f"{datetime.now(UTC):%Y%m%dt%H%M%S}-{uuid.uuid4().hex[:6]}"
    namespaced: dict[str, Any] = {
        "topic_prefix": f"{settings.topic_prefix}bench-{stamp}.",
        "redis_key_prefix": f"{settings.redis_key_prefix}bench-{stamp}:",
        "app_id": f"{settings.app_id}-bench-{stamp}",
    }
    if settings.bootstrap and settings.redis_url and not cluster:
        run = override(settings, **namespaced)
        try:
            yield run, "external"
        finally:
            _delete_bench_topics(obj, run)
        return
    if settings.bootstrap or settings.redis_url:
        raise click.UsageError(
            "give both --bootstrap and --redis-url, or neither (embedded stack; --redis-cluster: neither; "
            "for your own cluster set SCAMSHARE_REDIS_CLUSTER=true)"
        )
    from pipeline.dev import stack as devstack  # noqa: PLC0415
    from pipeline.dev.redis_cluster import RedisClusterStack  # noqa: PLC0415

    with contextlib.ExitStack() as running:
        tmp = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="scamshare-bench-")))
        stack = running.enter_context(devstack.EmbeddedStack(tmp / "stack"))
        redis_url, where = stack.redis_url, "embedded"
        if cluster:
            redis_url = running.enter_context(RedisClusterStack(tmp / "cluster", primaries=cluster)).url
            namespaced["redis_cluster"] = True
            where = "embedded-cluster"
        if say:
            obj.err.print(f"started embedded broker {stack.bootstrap} and Redis {redis_url} ({where})")
        yield override(settings, bootstrap=stack.bootstrap, redis_url=redis_url, **namespaced), where


def _delete_bench_topics(obj: CliContext, run: Settings) -> None:
    """Delete the run's own topics on a broker that outlives it (its Redis keys go after each run): left
    behind, a dev broker gathered thousands of partitions, and a fresh producer's first deliveries there came
    up to 1.4 s late. A failure is reported, not raised: the figures are printed either way."""
    from pipeline.kafka.clients import build_admin  # noqa: PLC0415
    from pipeline.kafka.topics import delete_topics, list_topics  # noqa: PLC0415

    try:
        admin = build_admin(run)
        delete_topics(admin, list_topics(admin, run.topic_prefix))
    except ScamshareError as exc:
        obj.err.print(f"warning: the benchmark's topics {run.topic_prefix}* were not deleted: {exc}")


@bench.command("pipeline")
@_connection_options
@click.option("--reports", "n", type=click.IntRange(10, 10_000_000), default=10_000, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the synthetic report mix.")
@click.option("--rate", type=click.FloatRange(1, 1_000_000), default=None,
              help="Steady state: offer this many reports per second evenly (with --duration) instead of a "
              "burst; reports latency, not capacity.")  # fmt: skip
@click.option("--duration", type=click.FloatRange(1, 3600), default=None,
              help="Seconds to offer --rate for (default 30), or of each --sweep round (10).")  # fmt: skip
@click.option("--sweep", is_flag=True,
              help="Measure the burst capacity C, then steady rounds at 0.25C, 0.5C, ... (each --duration "
              "s, fresh namespace) until p99 > 200 ms; gives the top rate within 200 ms, 0.5C.")  # fmt: skip
@click.option(
    "--rates",
    default=None,
    hidden=True,
    help="With --sweep: these reports/s (comma-separated) instead of the ladder; 0.5C still runs.",
)
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Run the burst (or the --rate run) this many times, each in a fresh namespace, and report "
              "every run and the median, lowest and highest of its figures.")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Scale-out: the burst through 1 and then N `scamshare worker` subprocesses in one group, "
              "4 partitions.")  # fmt: skip
@click.option(
    "--profile",
    "profile_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="cProfile the worker while it processes the burst; write pstats here, top 25 to stderr.",
)
@click.option("--redis-cluster", "cluster", type=click.IntRange(0, 16), default=0, show_default=True,
              help="Keep the state on an embedded Redis Cluster of this many primaries (with the embedded "
              "broker); 0 = one Redis.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")
@click.pass_obj
@handle_errors
def pipeline_cmd(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    n: int,
    seed: int,
    rate: float | None,
    duration: float | None,
    sweep: bool,
    rates: str | None,
    repeat: int,
    workers: int,
    profile_out: Path | None,
    cluster: int,
    as_json: bool,
) -> None:
    """Publish N synthetic reports (12 producers, ~30% repeats, every kind), run one worker in this process
    through validate, merge, score and fan-out to 3 subscribers, and compare its rate with a plain
    confluent-kafka consume → decode → encode → produce loop over the same messages on the same broker.

    Starts an embedded broker and Redis unless --bootstrap and --redis-url are given (then it works in its own
    namespace there, and deletes its keys and topics afterwards). With --rate R the reports are offered evenly
    at R per second for --duration seconds instead, and the JSON gives producer send → feed latency at that
    rate (p50/p99/max) and whether p99 stayed within 200 ms; the passthrough loop is not run then. --sweep
    measures the capacity C with a burst of N, then steady rounds at fractions of C, and reports the highest
    offered rate whose p99 stayed within 200 ms and the round at 0.5 C. --repeat K runs the burst or the
    --rate run K times, each in a fresh namespace, and gives every run and the spread (median, lowest,
    highest) of the rates, the ratio and the latencies, and how many runs kept p99 within 200 ms. --workers N
    runs the burst through 1 and then N worker subprocesses in one consumer group (4 partitions) and reports
    both rates and the CPU seconds of every process. The latency settings in effect (fetch wait, batch window
    and size) are in the JSON. Reports what it measures; never fails on speed.
    """
    modes = [
        m for m, on in (("--rate", rate is not None), ("--sweep", sweep), ("--workers", workers > 1)) if on
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} are different runs: give one of them")
    if rates is not None and not sweep:
        raise click.UsageError("--rates goes with --sweep")
    if profile_out is not None and (sweep or workers > 1):
        raise click.UsageError("--profile profiles the in-process worker: not with --sweep or --workers")
    if repeat > 1 and (sweep or workers > 1 or profile_out is not None):
        raise click.UsageError(
            "--repeat repeats the burst or the --rate run: not with --sweep, --workers or --profile"
        )
    try:
        explicit = [float(r) for r in rates.split(",") if r.strip()] if rates else None
    except ValueError as exc:
        raise click.BadParameter(f"{rates!r} is not a list of numbers", param_hint="--rates") from exc
    if explicit is not None and not all(r >= 1 for r in explicit):
        raise click.BadParameter("rates are at least 1 report/s", param_hint="--rates")
    overrides: dict[str, Any] = {"bootstrap": bootstrap, "redis_url": redis_url}
    if kafka_option:
        overrides["kafka_options"] = {**obj.settings.kafka_options, **kafka_option}
    if workers > 1:
        overrides["partitions"] = 4
    base = override(obj.settings, **overrides)
    say = not as_json
    progress = (lambda m: obj.err.print(f"  {m}")) if say else (lambda _m: None)
    profile = cProfile.Profile() if profile_out is not None else None
    if rate is not None:
        n = max(10, int(rate * (duration or 30.0)))
    with bench_settings(obj, base, say, cluster) as (settings, where):
        result = asyncio.run(
            _run(settings, n, seed, rate, duration, sweep, explicit, repeat, workers, profile, progress)
        )
    result["stack"] = where
    result["redis_cluster"] = settings.redis_cluster  # the state on a Redis Cluster (embedded or yours)
    if profile is not None and profile_out is not None:
        profile.dump_stats(str(profile_out))
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(25)
        obj.err.print(text.getvalue(), markup=False, highlight=False)
    print_json(result)


async def _run(
    settings: Settings,
    n: int,
    seed: int,
    rate: float | None,
    duration: float | None,
    sweep: bool,
    rates: list[float] | None,
    repeat: int,
    workers: int,
    profile: cProfile.Profile | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The one run the options ask for (the modules import faust: imported here, not for --help)."""
    if sweep:
        from pipeline.dev.bench_steady import run_sweep  # noqa: PLC0415

        return await run_sweep(
            settings, n, duration_s=duration or 10.0, rates=rates, seed=seed, progress=progress
        )
    if workers > 1:
        from pipeline.dev.bench_scale import run_scale_bench  # noqa: PLC0415

        return await run_scale_bench(settings, n, workers, seed=seed, progress=progress)
    from pipeline.dev.bench import run_pipeline_bench  # noqa: PLC0415

    if repeat > 1:
        from pipeline.dev.bench_repeat import run_repeated  # noqa: PLC0415
        from pipeline.dev.bench_steady import fresh_namespace  # noqa: PLC0415

        async def one_run(i: int) -> dict[str, Any]:
            run = fresh_namespace(settings, f"run{i}")
            return await run_pipeline_bench(run, n, seed=seed, rate=rate, progress=progress)

        return await run_repeated(repeat, one_run, steady=rate is not None, progress=progress)
    return await run_pipeline_bench(settings, n, seed=seed, profile=profile, rate=rate, progress=progress)


@bench.command("gateway")
@_connection_options
@click.option("--states", type=click.IntRange(10, 10_000_000), default=5000, show_default=True,
              help="Indicator states written for the lookups (half the single lookups miss).")  # fmt: skip
@click.option("--sizes", default="100000,1000000", show_default=True,
              help="Collection sizes at which TAXII pages are timed, comma-separated.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")
@click.pass_obj
@handle_errors
def gateway_cmd(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    states: int,
    sizes: str,
    concurrency: int,
    as_json: bool,
) -> None:
    """Lookup p50/p99 (one value; 1,000-value batches) and 1,000-object TAXII page times at each collection
    size, against a real `scamshare gateway` process over loopback. Targets: single p99 <= 10 ms, batch
    p99 <= 50 ms, page <= 100 ms at 1,000,000 objects. Reports what it measures; never fails on speed."""
    import os  # noqa: PLC0415

    from pipeline.dev.bench_gateway import run_gateway_bench  # noqa: PLC0415

    try:
        wanted = sorted({int(s) for s in sizes.split(",") if s.strip()})
    except ValueError as exc:
        raise click.BadParameter(f"{sizes!r} is not a list of numbers", param_hint="--sizes") from exc
    overrides: dict[str, Any] = {"bootstrap": bootstrap, "redis_url": redis_url}
    if kafka_option:
        overrides["kafka_options"] = {**obj.settings.kafka_options, **kafka_option}
    say = not as_json
    with bench_settings(obj, override(obj.settings, **overrides), say) as (settings, where):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
        env |= {
            "SCAMSHARE_REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix,
            "SCAMSHARE_GATEWAY_RATE_LIMIT": "1000000000",
        }
        with tempfile.TemporaryDirectory(prefix="scamshare-bench-gw-") as tmp:
            result = asyncio.run(
                run_gateway_bench(
                    settings, env=env, log=Path(tmp) / "gateway.log", states=states, sizes=wanted,
                    concurrency=concurrency,
                    progress=(lambda m: obj.err.print(f"  {m}")) if say else (lambda _m: None),
                )
            )  # fmt: skip
    result["stack"] = where
    print_json(result)
