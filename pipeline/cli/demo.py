"""``scamshare demo``: the main job on the embedded stack (or on the broker and Redis you point it at)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import click
from rich.table import Table

from pipeline.cli.context import CliContext, connection_options, handle_errors, override, print_json
from pipeline.config import Settings


@contextlib.contextmanager
def demo_settings(obj: CliContext, settings: Settings, say: bool) -> Iterator[Settings]:
    """Settings for the run: given addresses, else a running dev stack, else a fresh embedded stack.

    On a stack the demo did not start, it runs in its own namespace (topics ``<prefix>demo-<time>.``, its
    own Redis key prefix and consumer groups) so it neither sees nor disturbs what is already there, and
    it leaves that stack running.
    """
    from pipeline.dev import control as devstack  # noqa: PLC0415

    if not (settings.bootstrap and settings.redis_url):
        state = devstack.read_state(settings.dev_file)
        if state is not None and state.alive():
            settings = devstack.with_dev_stack(settings)
            if say:
                obj.err.print(f"using the running dev stack: {state.bootstrap}, {state.redis_url}")
    if settings.bootstrap and settings.redis_url:
        stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S")
        yield override(
            settings,
            topic_prefix=f"{settings.topic_prefix}demo-{stamp}.",
            redis_key_prefix=f"{settings.redis_key_prefix}demo-{stamp}:",
            app_id=f"{settings.app_id}-demo-{stamp}",
        )
        return
    demo_dir = settings.state_dir / "demo-stack"
    # Each demo starts from nothing: a Redis left by an earlier run (or an earlier release) is not reused.
    shutil.rmtree(demo_dir, ignore_errors=True)
    with devstack.EmbeddedStack(demo_dir) as stack:
        if say:
            obj.err.print(f"started embedded broker {stack.bootstrap} and Redis {stack.redis_url}")
        yield override(
            settings,
            bootstrap=settings.bootstrap or stack.bootstrap,
            redis_url=settings.redis_url_value() or stack.redis_url,
        )
    if say:
        obj.err.print("stopped the embedded broker and Redis")


@click.command("demo")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--timeout", type=float, default=90.0, show_default=True, help="Give up after this many seconds."
)
@click.pass_obj
@handle_errors
def demo(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    as_json: bool,
    timeout: float,
) -> None:
    """Publish the bundled sample set from 4 producers, process it, fan it out to 4 subscribers, report.

    Starts an embedded broker and Redis unless --bootstrap/--redis-url (or a running `scamshare dev up`)
    provide them, and stops whatever it started before exiting.
    """
    from pipeline.dev.demo import run_demo  # noqa: PLC0415

    overrides: dict[str, object] = {"bootstrap": bootstrap, "redis_url": redis_url}
    if kafka_option:
        overrides["kafka_options"] = {**obj.settings.kafka_options, **kafka_option}
    base = override(obj.settings, **overrides)
    say = not as_json
    with demo_settings(obj, base, say) as settings:
        summary = asyncio.run(
            run_demo(
                settings,
                timeout_s=timeout,
                progress=(lambda m: obj.err.print(f"  {m}")) if say else print_nothing,
            )
        )
    if as_json:
        print_json(summary.to_json())
        return
    render(obj, summary)


def print_nothing(_message: str) -> None:
    return None


def render(obj: CliContext, summary: object) -> None:
    from pipeline.dev.demo import DemoSummary  # noqa: PLC0415

    assert isinstance(summary, DemoSummary)
    c = obj.console
    table = Table(title="scamshare demo", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("reports received", str(summary.received))
    for producer, n in summary.producers.items():
        table.add_row(f"  sent by {producer}", str(n))
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected_by_reason.items()))
    table.add_row("rejected to the DLQ", f"{summary.rejected}" + (f" ({reasons})" if reasons else ""))
    table.add_row("accepted", str(summary.accepted))
    table.add_row("held by the allowlist", str(summary.allowlisted))
    table.add_row("duplicates (no new version)", str(summary.duplicates))
    table.add_row("unique indicators", str(summary.unique_indicators))
    table.add_row("versions published", str(summary.versions))
    for sub, n in summary.delivered.items():
        table.add_row(f"delivered to {sub}", str(n))
    lat = summary.latency_ms
    table.add_row("end-to-end latency p50 / p99", f"{lat.get('p50', 0):.0f} ms / {lat.get('p99', 0):.0f} ms")
    table.add_row("elapsed", f"{summary.elapsed_s:.1f} s")
    c.print(table)
    gw = summary.gateway
    look = gw.lookup
    asked = f"{look.get('kind')} {look.get('value')} ({look.get('country')})"
    gateway = Table(title=f"the gateway: lookup {asked} and TAXII, as each subscriber", title_justify="left")
    for col in ("subscription", "known", "score", "band", "status", "TAXII objects", "pages"):
        gateway.add_column(col, justify="left" if col in ("subscription", "band", "status") else "right")
    for sub, answer in gw.answers.items():
        pages = gw.collections.get(sub, {})
        known = bool(answer.get("known"))
        gateway.add_row(
            sub, "yes" if known else "no", str(answer.get("score", "")) if known else "",
            str(answer.get("band", "")), str(answer.get("status", "")),
            str(pages.get("objects", 0)), str(pages.get("pages", 0)),
        )  # fmt: skip
    c.print(gateway)
    lag = Table(title="consumer lag", title_justify="left")
    for col in ("group", "topic", "partitions", "committed", "end", "lag"):
        lag.add_column(col, justify="left" if col in ("group", "topic") else "right")
    for g in summary.lag:
        topics = sorted({p.topic for p in g.partitions})
        for topic in topics:
            parts = [p for p in g.partitions if p.topic == topic]
            committed = sum(p.committed or 0 for p in parts)
            end = sum(p.end for p in parts)
            total = sum(p.lag for p in parts)
            style = "green" if total == 0 else "yellow"
            lag.add_row(
                g.group, topic, str(len(parts)), str(committed), str(end), f"[{style}]{total}[/{style}]"
            )
    c.print(lag)
