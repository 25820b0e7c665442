"""The ingest step: a batch of submission messages → DLQ rejects + merged state + new versions.

No faust here: the agent hands over a batch of :class:`InMessage` and acks it only after :meth:`process`
returns, i.e. after the outputs are acknowledged by the broker and the state is committed in Redis.

Crash safety: state and "this submission was merged" are written atomically (compare-and-set on the
indicator's revision). A submission replayed after a crash is recognised; if merging it had published a
version, the current version is re-emitted (the emit may not have reached the broker before the crash), and
fan-out skips versions a subscriber already has. Counters therefore move exactly once per report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from pipeline.config import Topics, default
from pipeline.kafka.emit import Emitter
from pipeline.processors.allowlist import Allowlist
from pipeline.processors.enrich import Enricher
from pipeline.processors.merge import hold, merge_many
from pipeline.processors.score import ScoreModel
from pipeline.processors.validate import Report, validate_submission
from pipeline.state.indicator import IndicatorState
from pipeline.state.latency import observe
from pipeline.state.org import Organisation
from pipeline.state.store import Commit, MergeInputs, Store, SubmissionRef
from pipeline.stix.times import Clock, utc_now
from pipeline.wire.headers import DLQ_MAX_VALUE_BYTES, HEADER_PRODUCER, dead_letter
from pipeline.wire.limits import Limits
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected
from pipeline.worker.admission import Admission
from pipeline.worker.contention import until_committed
from pipeline.worker.online import Guarded
from pipeline.worker.registry import Registry, channel_org
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

ENRICHMENT_TTL_S: int = default("enrichment_ttl_s")


def own_withdrawals(
    state: IndicatorState | None, reports: list[Report], refused: dict[str, Rejected]
) -> list[Report]:
    """``reports`` without withdrawals by organisations that do not (or no longer) report the indicator.

    Only the reporting organisation can withdraw its own report: a withdrawal from anyone else would
    otherwise retract nothing yet publish a version, and a withdrawal of a value nobody reported yet would
    revoke it for good. Those are recorded in ``refused`` (dead-lettered as ``not_reporter``).
    """
    reporters = set(state.reporters) if state is not None else set()
    kept: list[Report] = []
    for r in reports:
        if r.revoked and r.producer not in reporters:
            refused[r.submission_id] = Rejected(
                "not_reporter",
                f"{r.producer!r} withdrew {r.indicator_id}, which it does not report: "
                "only the reporting organisation can withdraw its report",
                r.producer,
            )
            continue
        if r.revoked:
            reporters.discard(r.producer)
        else:
            reporters.add(r.producer)
        kept.append(r)
    return kept


def refuse_erased(reports: list[Report], refused: dict[str, Rejected]) -> list[Report]:
    """Reports of an erased value: all refused (``erased``), whoever sends them; none is kept."""
    for r in reports:
        why = f"{r.indicator_id} was erased from this exchange; it cannot be reported again"
        refused[r.submission_id] = Rejected("erased", why, r.producer)
    return []


@dataclass(frozen=True)
class FirstRead:
    """What merging a batch's reports reads first, read once for admission and the first merge attempt."""

    states: dict[str, tuple[IndicatorState | None, dict[str, int]]]
    seen: dict[SubmissionRef, bool | None]
    erased: dict[str, bool]

    @classmethod
    async def of(cls, store: Store, reports: Sequence[Report]) -> FirstRead:
        ids = list(dict.fromkeys(r.indicator_id for r in reports))
        refs = list(dict.fromkeys((r.indicator_id, r.submission_id) for r in reports))
        if not ids:
            return cls({}, {}, {})
        states, seen, erased = await store.load_for_merge(ids, refs)
        return cls(
            dict(zip(ids, states, strict=True)),
            dict(zip(refs, seen, strict=True)),
            dict(zip(ids, erased, strict=True)),
        )

    def known(self) -> set[str]:
        """The indicators that have a state (what :meth:`Store.known_indicators` answers)."""
        return {i for i, (state, _) in self.states.items() if state is not None}

    def inputs(self, ids: Sequence[str], refs: Sequence[SubmissionRef]) -> MergeInputs:
        """The read of these indicators and submissions (all of them among what was read)."""
        return MergeInputs(
            [self.states[i] for i in ids], [self.seen[r] for r in refs], [self.erased[i] for i in ids]
        )


@dataclass
class BatchResult:
    accepted: int = 0
    allowlisted: int = 0
    rejected: int = 0
    duplicates: int = 0
    replayed: int = 0
    published: int = 0
    #: messages held by their organisation's quotas (released later by :meth:`IngestStep.release_held`)
    held: int = 0
    #: the sources of the messages this call admitted (validated, and processed or rejected)
    admitted: set[str] = field(default_factory=set)


@dataclass
class IngestStep:
    """Validate + canonicalise + merge + score + publish, one batch at a time."""

    store: Store
    emitter: Emitter
    topics: Topics
    model: ScoreModel
    limits: Limits = field(default_factory=Limits)
    now: Clock = utc_now
    max_cas_retries: int = 20
    allowlist: Allowlist = field(default_factory=Allowlist)
    enrichers: Sequence[Enricher] = ()
    online: Sequence[Guarded] = ()
    enrichment_ttl_s: int = ENRICHMENT_TTL_S
    registry: Registry | None = None
    #: the organisations' quotas; None: not enforced (step tests about merging)
    admission: Admission | None = None

    def __post_init__(self) -> None:
        if self.registry is None:
            self.registry = Registry(self.store)

    @property
    def versions(self) -> VersionPublisher:
        return VersionPublisher(
            self.store,
            self.emitter,
            self.topics,
            self.model,
            self.enrichers,
            self.online,
            self.enrichment_ttl_s,
        )

    async def process(self, batch: Sequence[InMessage], *, releasing: bool = False) -> BatchResult:
        """Process one batch. ``releasing``: these are held messages offered again (see release_held)."""
        result = BatchResult()
        now = self.now()
        now_ms = int(now.timestamp() * 1000)
        rejects: list[tuple[InMessage, Rejected]] = []
        reports: list[Report] = []
        assert self.registry is not None
        orgs = await self.registry.current()
        origin: dict[str, InMessage] = {}
        valid: list[tuple[InMessage, Organisation, list[Report]]] = []
        for msg in batch:
            checked = self._validate(msg, orgs)
            if isinstance(checked, Rejected):
                rejects.append((msg, checked))
            else:
                valid.append((msg, checked[0], checked[1]))
        # One read for merging every valid report, before admission: admission's "which indicators are new"
        # is which of them have a state, and the first merge attempt uses it (one round trip, not two).
        first = await FirstRead.of(self.store, [r for _, _, found in valid for r in found])
        if self.admission is not None and valid:
            admitted = await self.admission.reports(valid, known=first.known(), releasing=releasing)
            result.held = admitted.held
            rejects.extend(admitted.overflow)
            if admitted.counters:
                await self.store.incr(admitted.counters)
            valid = [v for v in valid if v[0].source in admitted.admitted]
        result.admitted = {msg.source for msg, _ in rejects} | {v[0].source for v in valid}
        for msg, rejected in rejects:
            self.emitter.send(self.topics.dlq, *dead_letter(msg, rejected, "validate", now))
        for msg, _, found in valid:
            reports.extend(found)
            origin.update((r.submission_id, msg) for r in found)

        refused: dict[str, Rejected] = {}
        published = await self._merge(reports, now_ms, result, refused, first)
        for sub_id, why in refused.items():
            msg = origin[sub_id]
            rejects.append((msg, why))
            # A report of an erased value: size and digest only, never the value again.
            keep = 0 if why.code == "erased" else DLQ_MAX_VALUE_BYTES
            self.emitter.send(self.topics.dlq, *dead_letter(msg, why, "merge", now, keep=keep))
        await self.versions.send(published, now_ms, {r.indicator_id: r.canonical for r in reports})
        result.published = len(published)
        await self.emitter.flush()
        done_ms = int(self.now().timestamp() * 1000)
        latency = observe("ingest", [done_ms - r.submitted_ms for r in reports])
        if latency:
            await self.store.incr(latency)
        # Counted after the DLQ acknowledged them; a replay re-sends but does not count again.
        for msg, rejected in rejects:
            if await self.store.count_once(msg.source, {"rejected": 1, f"rejected:{rejected.code}": 1}):
                result.rejected += 1
            logger.info("rejected source=%s code=%s reason=%s", msg.source, rejected.code, rejected.reason)
        return result

    def _validate(
        self, msg: InMessage, orgs: Mapping[str, Organisation]
    ) -> tuple[Organisation, list[Report]] | Rejected:
        """Validate one message as its channel's organisation; reject it when the channel is nobody's."""
        org = channel_org(msg.topic, self.topics.submissions, orgs, "producer")
        if isinstance(org, Rejected):
            return org
        header = msg.headers.get(HEADER_PRODUCER)
        reports = validate_submission(
            msg.value, self.limits, channel_org=org.id, default_tlp=org.default_tlp,
            header_producer=header.decode("utf-8", "replace") if header is not None else None,
        )  # fmt: skip
        if isinstance(reports, Rejected):
            return reports
        # A report that states no confidence carries its organisation's default, never anyone else's.
        return org, [
            replace(r, confidence=org.default_confidence) if r.confidence is None else r for r in reports
        ]

    async def _merge(
        self,
        reports: list[Report],
        now_ms: int,
        result: BatchResult,
        refused: dict[str, Rejected],
        first: FirstRead | None = None,
    ) -> list[tuple[IndicatorState, int | None]]:
        """Merge reports into Redis; returns the states to publish with the earliest submit time of each.

        ``first`` (read for these reports, or more) is the first attempt's read; a retry reads again."""
        by_indicator: dict[str, list[Report]] = {}
        for report in reports:
            by_indicator.setdefault(report.indicator_id, []).append(report)
        to_publish: dict[str, tuple[IndicatorState, int]] = {}
        unused = [first] if first is not None else []
        await until_committed(
            by_indicator,
            lambda pending: self._merge_once(
                pending, now_ms, result, to_publish, refused, first=unused.pop() if unused else None
            ),
            max_tries=self.max_cas_retries,
            what="reports",
        )
        return list(to_publish.values())

    async def _merge_once(
        self,
        groups: dict[str, list[Report]],
        now_ms: int,
        result: BatchResult,
        to_publish: dict[str, tuple[IndicatorState, int]],
        refused: dict[str, Rejected],
        *,
        first: FirstRead | None,
    ) -> dict[str, list[Report]]:
        ids = list(groups)
        all_reports = [r for i in ids for r in groups[i]]
        # One round trip: the states, which submissions were merged already, which indicators are erased.
        refs = [(i, r.submission_id) for i in ids for r in groups[i]]
        if first is None:
            states, seen, erased = await self.store.load_for_merge(ids, refs)
        else:
            states, seen, erased = first.inputs(ids, refs)
        seen_by_sub = dict(zip((r.submission_id for r in all_reports), seen, strict=True))
        commits: list[Commit] = []
        planned: list[tuple[str, IndicatorState, bool, int]] = []
        for ind, (state, _delivered), gone in zip(ids, states, erased, strict=True):
            fresh: list[Report] = []
            for r in groups[ind]:
                if seen_by_sub[r.submission_id] is None and all(
                    r.submission_id != f.submission_id for f in fresh
                ):
                    fresh.append(r)
                elif seen_by_sub[r.submission_id] and state is not None:
                    # Replay of a submission that published: make sure its version reached the topic.
                    result.replayed += 1
                    to_publish.setdefault(ind, (state, r.submitted_ms))
                else:
                    result.replayed += 1
            fresh = refuse_erased(fresh, refused) if gone else own_withdrawals(state, fresh, refused)
            if not fresh:
                continue
            merged, reasons, flags = merge_many(state, fresh, self.model, now_ms)
            why_held = self.allowlist.match(fresh[0].canonical)
            if why_held is not None:
                # Who reported an allowlisted value is kept (its contributions), even once revoked: it may
                # be a poisoning attempt. Versions only count what subscribers saw.
                held = hold(state, merged)
                merged, reasons = held.state, held.material
                counters = {"allowlisted": len(fresh)}
                logger.info(
                    "allowlisted indicator=%s reporters=%s reason=%s",
                    ind, ",".join(sorted({r.producer for r in fresh})), why_held,
                )  # fmt: skip
            else:
                counters = {"accepted": len(fresh), "duplicates": flags.count(False)}
            if state is None and why_held is None:
                counters["indicators"] = 1
            if reasons:
                counters["versions"] = 1
                if merged.revoked and (state is None or not state.revoked):
                    counters["revocations"] = 1
            commits.append(
                Commit(
                    state=merged,
                    expected_rev=state.rev if state is not None else None,
                    submission_ids=[r.submission_id for r in fresh],
                    published=bool(reasons),
                    counters=counters,
                    expire_at_ms=self.model.expires_at_ms(merged.kind, merged.last_ms, now_ms),
                )
            )
            planned.append((ind, merged, bool(reasons), min(r.submitted_ms for r in fresh)))
        outcomes = await self.store.commit(commits)
        retry: dict[str, list[Report]] = {}
        for (ind, merged, publish, submitted_ms), ok, commit in zip(planned, outcomes, commits, strict=True):
            if not ok:
                retry[ind] = groups[ind]
                continue
            result.accepted += commit.counters.get("accepted", 0)
            result.allowlisted += commit.counters.get("allowlisted", 0)
            result.duplicates += commit.counters.get("duplicates", 0)
            if publish:
                to_publish[ind] = (merged, submitted_ms)
        if retry:
            logger.info("compare-and-set lost for %d indicator(s); retrying", len(retry))
        return retry
