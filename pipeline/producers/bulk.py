"""Publishing whole files in bounded memory: counts instead of lists, and a bundle written as it grows.

``scamshare publish`` reads every file once as a check (:func:`prepare_all`: nothing is sent from a set
of files one of which is unreadable), then streams: :func:`accepted_reports` yields each canonical report
with its deterministic submission id while a :class:`Tally` counts the rest. Rejects and skips are counted
exactly; only the first :data:`MAX_LISTED` of each are kept for the listing, so a file of a million bad
rows costs no more memory than a file of a thousand. :class:`BundleWriter` writes ``--emit-stix`` object
by object.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Final, Self

import orjson

from pipeline.canon import Canonical
from pipeline.producers.readers import Prepared, prepare
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    Skipped,
    file_submission_id,
    to_canonical_report,
)
from pipeline.producers.sources import SourceFile
from pipeline.stix.build import new_bundle_id
from pipeline.wire.schemas import definitions_bundle

#: Rejected and skipped entries listed in a summary (the counts are always exact).
MAX_LISTED: Final = 1000
#: Entries per batch handed to a pool process, and the run size from which a pool pays for itself.
BATCH: Final = 2000
POOL_FROM: Final = 20_000


@dataclass
class Tally:
    """What the files held: reports counted, rejects and skips counted (the first few kept), per file."""

    reports: int = 0
    rejected_total: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    skipped_total: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    skipped_by: Counter[str] = field(default_factory=Counter)
    files: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, item: Rejected) -> None:
        self.rejected_total += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(item)

    def skip(self, item: Skipped) -> None:
        self.skipped_total += 1
        self.skipped_by[item.category] += 1
        if len(self.skipped) < MAX_LISTED:
            self.skipped.append(item)


def prepare_all(sources: Sequence[SourceFile], fmt: str | None, options: ReadOptions) -> list[Prepared]:
    """Check every source (InputError for the first unreadable one) before anything is sent."""
    return [prepare(src, fmt, options) for src in sources]


def accepted_reports(
    prepared: Sequence[Prepared], producer: str, tally: Tally, *, workers: int = 1
) -> Iterator[tuple[Accepted, str]]:
    """Each canonical report with its submission id, in file order; rejects and skips go to ``tally``.

    With ``workers`` > 1, values are canonicalised by that many processes, in batches, while this one
    reads and sends; the order and every result are the same as with one.
    """
    with _canonicaliser(workers) as outcomes:
        for file in prepared:
            before = (tally.reports, tally.rejected_total, tally.skipped_total)
            sha256 = file.source.sha256
            for outcome in outcomes(file.items()):
                if isinstance(outcome, Accepted):
                    tally.reports += 1
                    yield outcome, file_submission_id(producer, sha256, outcome.report.location)
                elif isinstance(outcome, Rejected):
                    tally.reject(outcome)
                else:
                    tally.skip(outcome)
            tally.files.append(
                {
                    "file": file.source.name,
                    "format": file.fmt,
                    "sha256": sha256,
                    "reports": tally.reports - before[0],
                    "rejected": tally.rejected_total - before[1],
                    "skipped": tally.skipped_total - before[2],
                }
            )


Outcome = Accepted | Rejected | Skipped
_Outcomes = Callable[[Iterable[ReadItem]], Iterator[Outcome]]


def _in_process(items: Iterable[ReadItem]) -> Iterator[Outcome]:
    for item in items:
        yield to_canonical_report(item) if isinstance(item, ReportInput) else item


@contextmanager
def _canonicaliser(workers: int) -> Iterator[_Outcomes]:
    if workers <= 1:
        yield _in_process
        return
    # spawn, not fork: the publisher's librdkafka threads must not be copied into a child.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:

        def outcomes(items: Iterable[ReadItem]) -> Iterator[Outcome]:
            window: deque[tuple[list[ReadItem], Future[list[tuple[Any, ...] | Rejected]]]] = deque()
            stream = iter(items)
            while True:
                while len(window) < 2 * workers and (batch := list(itertools.islice(stream, BATCH))):
                    # Only what canonicalising reads, as plain tuples: pickling the dataclasses costs
                    # three times as much.
                    wanted = [
                        (i.kind, i.value, i.source, i.country, i.chain, i.bic)
                        for i in batch
                        if isinstance(i, ReportInput)
                    ]
                    window.append((batch, pool.submit(canonical_batch, wanted)))
                if not window:
                    return
                batch, future = window.popleft()
                results = iter(future.result())
                for item in batch:
                    if not isinstance(item, ReportInput):
                        yield item
                        continue
                    result = next(results)
                    if isinstance(result, tuple):
                        yield Accepted(Canonical.from_portable(result), item)
                    else:
                        yield result

        yield outcomes


def canonical_batch(
    wanted: list[tuple[str, str, str, str | None, str | None, str | None]],
) -> list[tuple[Any, ...] | Rejected]:
    """What a pool process returns for a batch of (kind, value, source, country, chain, bic): the canonical
    value (:meth:`Canonical.portable`) or the rejection, in order."""
    out: list[tuple[Any, ...] | Rejected] = []
    for kind, value, source, country, chain, bic in wanted:
        report = ReportInput(kind=kind, value=value, source=source, country=country, chain=chain, bic=bic)
        outcome = to_canonical_report(report)
        out.append(outcome.canonical.portable() if isinstance(outcome, Accepted) else outcome)
    return out


def auto_workers(entries: int) -> int:
    """Pool processes worth starting for a run of ``entries``: none below :data:`POOL_FROM` (starting one
    costs about half a second), else one per core, at most 4."""
    return 1 if entries < POOL_FROM else max(1, min(os.cpu_count() or 1, 4))


class BundleWriter:
    """One STIX bundle written object by object, each object once (the first one wins).

    The extension definitions go first. Shared objects (identities, markings, definitions) are
    de-duplicated by id; a report's own objects (its Indicator, SCO and relationship, all with ids derived
    from the value) by an 8-byte digest of its Indicator id, so a million reports cost tens of megabytes,
    not the gigabytes of holding the objects.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._shared: set[str] = set()
        self._reports: set[bytes] = set()
        self._first = True
        stream.write(b'{"type": "bundle", "id": "' + new_bundle_id().encode() + b'", "objects": [\n')
        for obj in definitions_bundle()["objects"]:
            self._shared.add(obj["id"])
            self._write(obj)

    def add(self, bundle: dict[str, Any], indicator_id: str, sco_type: str) -> None:
        """Write the objects of one report's bundle that are not written yet."""
        digest = hashlib.blake2b(indicator_id.encode(), digest_size=8).digest()
        own_written = digest in self._reports
        self._reports.add(digest)
        for obj in bundle["objects"]:
            if obj["type"] in ("indicator", "relationship", sco_type):
                if not own_written:
                    self._write(obj)
            elif obj["id"] not in self._shared:
                self._shared.add(obj["id"])
                self._write(obj)

    def _write(self, obj: dict[str, Any]) -> None:
        self._stream.write((b"  " if self._first else b",\n  ") + orjson.dumps(obj))
        self._first = False

    def close(self) -> None:
        self._stream.write(b"\n]}\n")
        self._stream.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = [
    "MAX_LISTED",
    "BundleWriter",
    "Tally",
    "accepted_reports",
    "auto_workers",
    "canonical_batch",
    "prepare_all",
]
