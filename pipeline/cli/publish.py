"""``scamshare publish FILE... --producer ID``: validate reports from files and publish them.

Every file is read and checked before anything is sent, so an unreadable file (bad encoding, invalid
JSON, a CSV without the required columns) stops the run with exit code 2 and nothing published. Rejected
entries are listed with ``file:line`` and the reason; the good ones are still published, and the exit code
is 1. ``--dry-run`` stops after validation and needs no broker.

Each report's submission id is derived from (producer, SHA-256 of the file, location in the file), so
publishing the same file twice is dropped as a repeat by the pipeline instead of being counted twice; an
edited file is new reports (see :func:`pipeline.producers.records.file_submission_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson
from confluent_kafka import KafkaException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.errors import ConfigError, InputError
from pipeline.identity.channel import speaking_for
from pipeline.producers.publisher import (
    DeliveryReport,
    Publisher,
    Submission,
    build_submission,
    check_producer_id,
)
from pipeline.producers.readers import FORMATS, SourceFile, load_source, read_source
from pipeline.producers.records import (
    Accepted,
    Rejected,
    ReportInput,
    Skipped,
    file_submission_id,
    to_canonical_report,
)
from pipeline.stix.build import new_bundle_id
from pipeline.stix.tlp import TLP
from pipeline.wire.schemas import definitions_bundle

logger = logging.getLogger(__name__)

EXIT_REJECTED = 1
EXIT_UNREADABLE = 2
_TLP_CHOICES = [level.label for level in TLP]


@dataclass
class Batch:
    """What the files held: accepted reports with their submission ids, rejects and skipped entries."""

    accepted: list[tuple[Accepted, str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


def collect(sources: list[SourceFile], fmt: str | None, producer: str) -> Batch:
    """Read and canonicalise every source (raises InputError for an unreadable one)."""
    batch = Batch()
    for src in sources:
        before = (len(batch.accepted), len(batch.rejected), len(batch.skipped))
        for item in read_source(src, fmt):
            outcome = to_canonical_report(item) if isinstance(item, ReportInput) else item
            if isinstance(outcome, Accepted):
                sid = file_submission_id(producer, src.sha256, outcome.report.location)
                batch.accepted.append((outcome, sid))
            elif isinstance(outcome, Rejected):
                batch.rejected.append(outcome)
            else:
                batch.skipped.append(outcome)
        batch.files.append(
            {
                "file": src.name,
                "sha256": src.sha256,
                "reports": len(batch.accepted) - before[0],
                "rejected": len(batch.rejected) - before[1],
                "skipped": len(batch.skipped) - before[2],
            }
        )
    return batch


class BundleCollector:
    """Gathers the objects of many report bundles into one bundle, each id once (first one wins)."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Any]] = {obj["id"]: obj for obj in definitions_bundle()["objects"]}

    def add(self, bundle: dict[str, Any]) -> None:
        for obj in bundle["objects"]:
            self._objects.setdefault(obj["id"], obj)

    def bundle(self) -> dict[str, Any]:
        return {"type": "bundle", "id": new_bundle_id(), "objects": list(self._objects.values())}


@contextmanager
def _progress(enabled: bool, obj: CliContext, total: int, label: str) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=obj.err, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


@click.command("publish")
@click.argument(
    "files", nargs=-1, required=True, metavar="FILE...", type=click.Path(dir_okay=False, allow_dash=True)
)
@click.option(
    "--producer",
    "producer_id",
    default=None,
    metavar="ID",
    help="Your organisation's id (e.g. telco-au) [default: the one in --credentials / SCAMSHARE_ORG].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format [default: by extension/content].",
)
@click.option("--dry-run", is_flag=True, help="Validate only: publish nothing (no broker needed).")
@click.option(
    "--emit-stix",
    "emit_stix",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    metavar="OUT",
    help="Also write one STIX 2.1 bundle with every object that is (or would be) published ('-': stdout).",
)
@click.option(
    "--default-tlp",
    type=click.Choice(_TLP_CHOICES, case_sensitive=False),
    default="green",
    show_default=True,
    help="TLP for entries that state none.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for acknowledgements.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@connection_options
@click.pass_obj
@handle_errors
def publish(
    obj: CliContext,
    *,
    files: tuple[str, ...],
    producer_id: str | None,
    fmt: str | None,
    dry_run: bool,
    emit_stix: str | None,
    default_tlp: str,
    timeout: float,
    as_json: bool,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:
    """Publish scam reports from FILE... (CSV, JSON Lines, STIX 2.1 bundle or MISP event; '-' = stdin).

    CSV header: type,value,country,scam_type,confidence,tlp,first_seen,description (only type and value
    are required). Exit code 0 when all was published, 1 when entries were rejected (the rest is still
    published) or not delivered, 2 for unreadable files and usage errors.
    """
    if as_json and emit_stix == "-":
        raise click.UsageError("--emit-stix - and --json both write to stdout; give --emit-stix a file")
    tlp = TLP[default_tlp.upper().replace("+", "_")]
    try:
        producer_id = check_producer_id(speaking_for(obj.settings, producer_id))
        if emit_stix not in (None, "-"):
            _check_writable(emit_stix)
        stdin = click.get_binary_stream("stdin")
        batch = collect([load_source(path, stdin=stdin) for path in files], fmt, producer_id)
        # After reading: a bad file is reported even where no broker is configured yet.
        settings = (
            None if dry_run else connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
        )
    except (InputError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_UNREADABLE) from exc

    collector = BundleCollector() if emit_stix else None
    out = obj.err if emit_stix == "-" else obj.console
    show_progress = not as_json and obj.err.is_terminal
    report: DeliveryReport | None = None

    def collected(sub: Submission) -> None:
        if collector is not None:
            collector.add(sub.bundle)

    total = len(batch.accepted)
    if settings is None:
        with _progress(show_progress, obj, total, "validating") as advance:
            for (canonical, rep), sid in batch.accepted:
                sub = build_submission(
                    canonical, producer=producer_id, now=datetime.now(UTC), submission_id=sid, report=rep,
                    default_tlp=tlp,
                )  # fmt: skip
                collected(sub)
                advance()
    else:
        try:
            publisher = Publisher(
                settings,
                producer_id=producer_id,
                default_tlp=tlp,
                flush_timeout=timeout + 5,
                # Past this, librdkafka gives up on a message and reports why, instead of leaving it queued.
                kafka_overrides={"message.timeout.ms": int(timeout * 1000)},
            )
        except KafkaException as exc:
            click.echo(f"error: invalid Kafka client configuration: {exc}", err=True)
            raise SystemExit(EXIT_UNREADABLE) from exc
        with _progress(show_progress, obj, total, "publishing") as advance:
            for (canonical, rep), sid in batch.accepted:
                collected(publisher.publish(canonical, rep, submission_id=sid))
                advance()
        report = publisher.flush()

    if collector is not None and emit_stix is not None:
        _write_bundle(collector.bundle(), emit_stix)

    summary = _summary(
        batch,
        report,
        dry_run=dry_run,
        topic=None if settings is None else settings.topics.submissions_of(producer_id),
    )
    summary["emitted_stix"] = emit_stix
    if as_json:
        print_json(summary)
    else:
        _print_summary(out, summary)
    if batch.rejected or (report is not None and not report.ok):
        raise SystemExit(EXIT_REJECTED)


def _check_writable(target: str) -> None:
    """Fail before publishing, not after, when the --emit-stix file cannot be created."""
    parent = Path(target).resolve().parent
    if not parent.is_dir():
        raise InputError(target, None, f"cannot write: directory {parent} does not exist")


def _write_bundle(bundle: dict[str, Any], target: str) -> None:
    data = orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n"
    if target == "-":
        click.get_binary_stream("stdout").write(data)
        return
    try:
        Path(target).write_bytes(data)
    except OSError as exc:
        raise InputError(target, None, f"cannot write: {exc.strerror or exc}") from exc


def _summary(
    batch: Batch, report: DeliveryReport | None, *, dry_run: bool, topic: str | None
) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "topic": topic,
        "files": batch.files,
        "reports": len(batch.accepted),
        "published": report.delivered if report is not None else 0,
        "failed": report.failed if report is not None else 0,
        "pending": report.pending if report is not None else 0,
        "failures": report.problems() if report is not None else [],
        "rejected": [{"source": r.source, "reason": r.reason} for r in batch.rejected],
        "skipped": [{"source": s.source, "reason": s.reason} for s in batch.skipped],
    }


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    def line(text: str, style: str | None = None) -> None:
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    files = len(summary["files"])
    if summary["dry_run"]:
        line(f"dry run: {summary['reports']} valid report(s) in {files} file(s); nothing published", "bold")
    else:
        line(
            f"published {summary['published']} of {summary['reports']} report(s) to {summary['topic']}",
            "bold",
        )
    for failure in summary["failures"]:
        line(f"  not delivered: {failure}", "red")
    if summary["skipped"]:
        line(f"skipped {len(summary['skipped'])}:", "yellow")
        for item in summary["skipped"]:
            line(f"  {item['source']}: {item['reason']}")
    if summary["rejected"]:
        line(f"rejected {len(summary['rejected'])}:", "bold red")
        for item in summary["rejected"]:
            line(f"  {item['source']}: {item['reason']}")
