"""HTTP submissions: a body read with the producer-side rules, sent as the caller's organisation.

The body (a STIX bundle, CSV or JSON Lines with the columns of ``scamshare publish``, a plain list with
``type``, or a MISP export) is read by the same readers as ``publish`` (:mod:`pipeline.producers`), each
report enveloped with the authenticated organisation as producer and written to that organisation's own
``scam.submissions.<org>`` topic. The answer lists every record accepted (after the broker acknowledged it)
or rejected, with its line or location and the reason. Submission ids are derived from the body's digest
and the record's location, so a retried request is dropped by the pipeline as a repeat, never counted twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from pipeline.errors import InputError
from pipeline.producers.bulk import Tally, accepted_reports
from pipeline.producers.publisher import build_submission
from pipeline.producers.readers import prepare
from pipeline.producers.records import ReadOptions
from pipeline.producers.sources import SourceFile
from pipeline.state.org import Organisation

from .problems import Problem
from .services import Services

#: accepted records listed one by one in an answer (all are counted)
MAX_LISTED: Final = 10_000


@dataclass
class Intake:
    """What one request carried, and what became of each record."""

    topic: str
    tally: Tally
    accepted: list[dict[str, Any]] = field(default_factory=list)
    accepted_total: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        t = self.tally
        return {
            "topic": self.topic,
            "reports": t.reports,
            "accepted_total": self.accepted_total,
            "accepted": self.accepted,
            "failed_total": len(self.failed),
            "failed": self.failed,
            "rejected_total": t.rejected_total,
            "rejected": [{"source": r.source, "reason": r.reason} for r in t.rejected],
            "skipped_total": t.skipped_total,
            "skipped_by_type": dict(t.skipped_by.most_common()),
            "skipped": [{"source": s.source, "reason": s.reason, "category": s.category} for s in t.skipped],
        }


Record = tuple[dict[str, Any], bytes, bytes, list[tuple[str, bytes]]]


def _read(
    svc: Services, org: Organisation, data: bytes, fmt: str | None, options: ReadOptions, name: str
) -> tuple[Tally, list[Record]]:
    """Read and canonicalise (CPU-bound: runs in a thread); (tally, [(listing, key, value, headers)])."""
    try:
        prepared = prepare(SourceFile(name, data=data), fmt, options)
    except InputError as exc:
        raise Problem(422, "Unreadable submission", str(exc), kind="unreadable",
                      extra={"line": exc.line}) from exc  # fmt: skip
    tally = Tally()
    out: list[Record] = []
    now = svc.now()
    for (canonical, report), sid in accepted_reports([prepared], org.id, tally):
        sub = build_submission(
            canonical, producer=org.id, now=now, submission_id=sid, report=report,
            default_tlp=org.default_tlp,
        )  # fmt: skip
        listing = {
            "source": report.source, "kind": canonical.kind, "canonical": canonical.value,
            "indicator_id": canonical.indicator_id, "submission_id": sid,
        }  # fmt: skip
        out.append((listing, sub.key.encode(), sub.value, sub.headers))
    return tally, out


async def submit(
    svc: Services, org: Organisation, data: bytes, fmt: str | None, options: ReadOptions, *, name: str
) -> Intake:
    """Read ``data`` as ``org``'s submission and send every accepted report; acknowledged on return."""
    if "producer" not in org.roles:
        raise Problem(403, "Forbidden", f"organisation {org.id!r} is not registered as a producer",
                      kind="not-a-producer")  # fmt: skip
    if svc.sender is None:
        raise Problem(503, "Service unavailable", "this gateway has no broker configured", kind="no-broker")
    tally, records = await asyncio.to_thread(_read, svc, org, data, fmt, options, name)
    topic = svc.settings.topics.submissions_of(org.id)
    errors = await svc.sender.send_all(
        topic, [(key, value, headers) for _, key, value, headers in records],
        timeout_s=svc.settings.gateway_ack_timeout_s,
    )  # fmt: skip
    intake = Intake(topic, tally)
    for (listing, *_), error in zip(records, errors, strict=True):
        if error is None:
            intake.accepted_total += 1
            if len(intake.accepted) < MAX_LISTED:
                intake.accepted.append(listing)
        else:
            intake.failed.append({**listing, "error": error})
    return intake
