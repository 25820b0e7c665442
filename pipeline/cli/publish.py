"""``scamshare publish FILE... --producer ID``: validate reports from files and publish them.

Every file is read once as a check before anything is sent, so an unreadable file (bad encoding, invalid
JSON, a CSV without the required columns) stops the run with exit code 2 and nothing published. Then the
files are read again and sent as they are read, in bounded memory (:mod:`pipeline.producers.bulk`):
rejected entries are counted and listed with ``file:line`` and the reason, the good ones are still
published, and the exit code is 1. Entries the exchange does not carry (file hashes, IPs, YARA rules, MISP
context attributes) are *skipped*: counted by type, listed, and no error. ``--dry-run`` stops after
validation and needs no broker.

Each report's submission id is derived from (producer, SHA-256 of the file, location in the file), so
publishing the same file twice is dropped as a repeat by the pipeline instead of being counted twice; an
edited file is new reports (see :func:`pipeline.producers.records.file_submission_id`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from confluent_kafka import KafkaException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.canon import KINDS
from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors, print_json
from pipeline.errors import ConfigError, InputError
from pipeline.identity.channel import speaking_for
from pipeline.producers.bulk import BundleWriter, Tally, accepted_reports, auto_workers, prepare_all
from pipeline.producers.publisher import (
    DeliveryReport,
    Publisher,
    Submission,
    build_submission,
    check_producer_id,
)
from pipeline.producers.readers import FORMATS, Prepared, load_source
from pipeline.producers.records import DEFAULT_OPTIONS, Accepted, ReadOptions, normalise_kind, parse_country
from pipeline.producers.sources import SourceFile
from pipeline.stix.tlp import TLP
from pipeline.wire.fields import FieldError

logger = logging.getLogger(__name__)

EXIT_REJECTED = 1
EXIT_UNREADABLE = 2
_TLP_CHOICES = [level.label for level in TLP]


def collect(
    sources: list[SourceFile], fmt: str | None, producer: str, options: ReadOptions = DEFAULT_OPTIONS
) -> tuple[list[tuple[Accepted, str]], Tally]:
    """Every accepted report (with its submission id) of small inputs, and the tally: for tests and tools."""
    tally = Tally()
    accepted = list(accepted_reports(prepare_all(sources, fmt, options), producer, tally))
    return accepted, tally


@contextmanager
def _progress(enabled: bool, obj: CliContext, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A bar on a terminal's stderr, told how many entries are done (it redraws a few times a second)."""
    if not enabled or total == 0:
        yield lambda done: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=obj.err, transient=False) as progress:
        task = progress.add_task(label, total=total)

        shown = [0]

        def update(done: int) -> None:
            if done - shown[0] >= 512 or done >= total:
                shown[0] = done
                progress.update(task, completed=done)

        yield update
        progress.update(task, completed=total)


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
@click.option(
    "--type",
    "kind",
    default=None,
    metavar="KIND",
    help=f"The kind of every value of a plain list (one value per line, or a JSON array of strings), and of "
    f"CSV/JSON Lines rows that name none: {', '.join(KINDS)}.",
)
@click.option(
    "--country",
    default=None,
    metavar="CC",
    help="Country (ISO 3166 alpha-2) of national phone numbers and bank accounts; a row's own wins.",
)
@click.option(
    "--include-non-ids",
    is_flag=True,
    help="Keep MISP attributes marked to_ids: false (context by MISP's convention; skipped by default).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes that canonicalise values [default 0: one per core, at most 4, from 20,000 entries].",
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
    kind: str | None,
    country: str | None,
    include_non_ids: bool,
    workers: int,
    dry_run: bool,
    emit_stix: str | None,
    default_tlp: str,
    timeout: float,
    as_json: bool,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:
    """Publish scam reports from FILE... (CSV, JSON Lines, a plain list, STIX 2.1 or MISP; '-' = stdin).

    CSV header: type,value,country,scam_type,confidence,tlp,first_seen,description (only type and value
    are required; type may come from --type). A plain list is one value per line with --type KIND.
    Exit code 0 when all was published (skipped entries are no error), 1 when entries were rejected (the
    rest is still published) or not delivered, 2 for unreadable files and usage errors.
    """
    if as_json and emit_stix == "-":
        raise click.UsageError("--emit-stix - and --json both write to stdout; give --emit-stix a file")
    tlp = TLP[default_tlp.upper().replace("+", "_")]
    options = _read_options(kind, country, include_non_ids)
    try:
        producer_id = check_producer_id(speaking_for(obj.settings, producer_id))
        if emit_stix not in (None, "-"):
            _check_writable(emit_stix)
        stdin = click.get_binary_stream("stdin")
        prepared = prepare_all([load_source(path, stdin=stdin) for path in files], fmt, options)
        # After reading: a bad file is reported even where no broker is configured yet.
        settings = (
            None if dry_run else connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
        )
    except (InputError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_UNREADABLE) from exc

    tally = Tally()
    report: DeliveryReport | None = None
    show_progress = not as_json and obj.err.is_terminal
    total = sum(file.entries for file in prepared)
    workers = workers or auto_workers(total)
    with _bundle_writer(emit_stix) as writer:
        if settings is None:
            with _progress(show_progress, obj, total, "validating") as advance:
                _validate(prepared, producer_id, tally, writer, tlp, advance, workers)
        else:
            try:
                publisher = Publisher(
                    settings,
                    producer_id=producer_id,
                    default_tlp=tlp,
                    flush_timeout=timeout + 5,
                    # Past this, librdkafka gives up on a message and says why, instead of keeping it queued.
                    kafka_overrides={"message.timeout.ms": int(timeout * 1000)},
                )
            except KafkaException as exc:
                click.echo(f"error: invalid Kafka client configuration: {exc}", err=True)
                raise SystemExit(EXIT_UNREADABLE) from exc
            with _progress(show_progress, obj, total, "publishing") as advance:
                try:
                    reports = accepted_reports(prepared, producer_id, tally, workers=workers)
                    for (canonical, rep), sid in reports:
                        sub = publisher.publish(canonical, rep, submission_id=sid)
                        if writer is not None:
                            writer.add(sub.bundle, canonical.indicator_id, canonical.sco_type)
                        advance(_done(tally))
                except InputError as exc:  # the file changed between the check and the send
                    report = publisher.flush()
                    click.echo(f"error: {exc} (after {report.delivered} report(s) were published)", err=True)
                    raise SystemExit(EXIT_UNREADABLE) from exc
            report = publisher.flush()

    summary = _summary(
        tally,
        report,
        dry_run=dry_run,
        topic=None if settings is None else settings.topics.submissions_of(producer_id),
    )
    summary["emitted_stix"] = emit_stix
    if as_json:
        print_json(summary)
    else:
        _print_summary(obj.err if emit_stix == "-" else obj.console, summary)
    if tally.rejected_total or (report is not None and not report.ok):
        raise SystemExit(EXIT_REJECTED)


def _read_options(kind: str | None, country: str | None, include_non_ids: bool) -> ReadOptions:
    canonical_kind = None
    if kind is not None:
        canonical_kind = normalise_kind(kind)
        if canonical_kind is None:
            raise click.BadParameter(
                f"unknown type {kind!r}; expected one of {', '.join(KINDS)}", param_hint="--type"
            )
    try:
        code = parse_country(country)
    except FieldError as exc:
        raise click.BadParameter(str(exc), param_hint="--country") from exc
    # A chain alias (btc, xmr, ...) is kept as given: the reader checks each address belongs to that chain.
    named = kind.strip().lower() if kind is not None and canonical_kind == "wallet" else canonical_kind
    return ReadOptions(country=code, kind=named, include_non_ids=include_non_ids)


def _validate(
    prepared: list[Prepared],
    producer: str,
    tally: Tally,
    writer: BundleWriter | None,
    tlp: TLP,
    advance: Callable[[int], None],
    workers: int,
) -> None:
    """--dry-run: canonicalise every report; build the STIX only when --emit-stix wants it."""
    for (canonical, rep), sid in accepted_reports(prepared, producer, tally, workers=workers):
        if writer is not None:
            sub: Submission = build_submission(
                canonical, producer=producer, now=datetime.now(UTC), submission_id=sid, report=rep,
                default_tlp=tlp,
            )  # fmt: skip
            writer.add(sub.bundle, canonical.indicator_id, canonical.sco_type)
        advance(_done(tally))
    advance(_done(tally))


def _done(tally: Tally) -> int:
    return tally.reports + tally.rejected_total + tally.skipped_total


@contextmanager
def _bundle_writer(target: str | None) -> Iterator[BundleWriter | None]:
    if target is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        stream: IO[bytes]
        if target == "-":
            stream = click.get_binary_stream("stdout")
        else:
            try:
                stream = stack.enter_context(Path(target).open("wb"))
            except OSError as exc:
                click.echo(f"error: {target}: cannot write: {exc.strerror or exc}", err=True)
                raise SystemExit(EXIT_UNREADABLE) from exc
        with BundleWriter(stream) as writer:
            yield writer


def _check_writable(target: str) -> None:
    """Fail before publishing, not after, when the --emit-stix file cannot be created."""
    parent = Path(target).resolve().parent
    if not parent.is_dir():
        raise InputError(target, None, f"cannot write: directory {parent} does not exist")


def _summary(
    tally: Tally, report: DeliveryReport | None, *, dry_run: bool, topic: str | None
) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "topic": topic,
        "files": tally.files,
        "reports": tally.reports,
        "published": report.delivered if report is not None else 0,
        "failed": report.failed if report is not None else 0,
        "pending": report.pending if report is not None else 0,
        "failures": report.problems() if report is not None else [],
        "rejected_total": tally.rejected_total,
        "rejected": [{"source": r.source, "reason": r.reason} for r in tally.rejected],
        "skipped_total": tally.skipped_total,
        "skipped_by_type": dict(tally.skipped_by.most_common()),
        "skipped": [{"source": s.source, "reason": s.reason, "category": s.category} for s in tally.skipped],
    }


#: Skipped entries listed one by one in the text summary (all are counted; --json lists more).
_SKIPPED_SHOWN = 20


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
    if summary["skipped_total"]:
        by_type = ", ".join(f"{kind} {n}" for kind, n in summary["skipped_by_type"].items())
        line(
            f"skipped {summary['skipped_total']} (not carried by the exchange, or context): {by_type}",
            "yellow",
        )
        for item in summary["skipped"][:_SKIPPED_SHOWN]:
            line(f"  {item['source']}: {item['reason']}")
        if summary["skipped_total"] > _SKIPPED_SHOWN:
            line(f"  ... {summary['skipped_total'] - _SKIPPED_SHOWN} more (--json lists them)")
    if summary["rejected_total"]:
        line(f"rejected {summary['rejected_total']}:", "bold red")
        for item in summary["rejected"]:
            line(f"  {item['source']}: {item['reason']}")
        if summary["rejected_total"] > len(summary["rejected"]):
            line(f"  ... and {summary['rejected_total'] - len(summary['rejected'])} more")
