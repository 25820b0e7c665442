"""Publishing files in bounded memory: the pool gives the same results as one process, the tally bounds
what it keeps, and the bundle writer writes each object once."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import stix2validator

from pipeline.producers import bulk
from pipeline.producers.bulk import BundleWriter, Tally, accepted_reports, prepare_all
from pipeline.producers.publisher import build_submission
from pipeline.producers.records import DEFAULT_OPTIONS, Rejected, Skipped
from pipeline.producers.sources import SourceFile

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def _csv(rows: int) -> SourceFile:
    lines = ["type,value,country"]
    for n in range(rows):
        if n % 11 == 5:
            lines.append("bank-account,TH:123-4-56789-0 BKKBTHBK,")  # a BIC: the facts say so
        elif n % 7 == 3:
            lines.append(f"phone,12345{n},")  # national without a country: rejected
        elif n % 5 == 1:
            lines.append(f"domain,www.login-{n}-verify.com,")  # a fact from the raw value: www dropped
        elif n % 2:
            lines.append(f"phone,081{n % 10}{n:06d},TH")
        else:
            lines.append(f"domain,login-{n}-verify.com,")
    return SourceFile("mix.csv", ("\n".join(lines) + "\n").encode())


def _run(src: SourceFile, workers: int) -> tuple[list[tuple[object, str, str]], Tally]:
    tally = Tally()
    out = [
        (accepted.canonical, accepted.report.source, sid)
        for accepted, sid in accepted_reports(
            prepare_all([src], None, DEFAULT_OPTIONS), "p", tally, workers=workers
        )
    ]
    return out, tally


def test_a_pool_of_processes_gives_the_same_reports_in_the_same_order(monkeypatch) -> None:
    monkeypatch.setattr(bulk, "BATCH", 50)  # several batches in flight at once
    src = _csv(700)
    alone, alone_tally = _run(src, 1)
    pooled, pooled_tally = _run(src, 2)
    assert pooled == alone  # every field of every Canonical, facts included
    assert len(alone) == alone_tally.reports
    assert [r.source for r in pooled_tally.rejected] == [r.source for r in alone_tally.rejected]
    assert pooled_tally.rejected_total == alone_tally.rejected_total > 50
    assert pooled_tally.files == alone_tally.files


def test_the_tally_counts_everything_and_keeps_only_the_first_few(monkeypatch) -> None:
    monkeypatch.setattr(bulk, "MAX_LISTED", 3)
    tally = Tally()
    for n in range(10):
        tally.reject(Rejected(f"a:{n}", "bad"))
        tally.skip(Skipped(f"a:{n}", "not carried", "ip-dst" if n % 2 else "md5"))
    assert (tally.rejected_total, len(tally.rejected)) == (10, 3)
    assert (tally.skipped_total, len(tally.skipped)) == (10, 3)
    assert tally.skipped_by == {"ip-dst": 5, "md5": 5}


def test_the_bundle_writer_writes_each_object_once_and_a_valid_bundle() -> None:
    src = SourceFile(
        "a.csv", b"type,value\ndomain,paypa1-secure.com\ndomain,www.paypa1-secure.com\nurl,http://x.com/a\n"
    )
    stream = io.BytesIO()
    with BundleWriter(stream) as writer:
        for (canonical, report), sid in accepted_reports(
            prepare_all([src], None, DEFAULT_OPTIONS), "p", Tally()
        ):
            sub = build_submission(canonical, producer="p", now=NOW, submission_id=sid, report=report)
            writer.add(sub.bundle, canonical.indicator_id, canonical.sco_type)
    text = stream.getvalue().decode()
    assert stix2validator.validate_string(text).is_valid
    objects = json.loads(text)["objects"]
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids))
    # www.paypa1-secure.com is paypa1-secure.com: one indicator, one SCO, one relationship
    assert sum(o["type"] == "indicator" for o in objects) == 2
    assert sum(o["type"] == "domain-name" for o in objects) == 1
    assert sum(o["type"] == "identity" and o["name"] == "p" for o in objects) == 1
