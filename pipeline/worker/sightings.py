"""The sightings step: subscribers' feedback (true positive, false positive, blocked) → score, revocation.

Who sighted is the channel's organisation: a sighting counts only if it came on a registered subscriber's own
``scam.sightings.<org>`` topic, names a subscription that organisation owns, and is about an indicator that
subscription actually received. It counts once per organisation, indicator and kind (the STIX ``count`` is
kept as information, never as votes), with the same compare-and-set and "applied" mark as reports. Anything
else is dead-lettered with its reason (``no_identity``, ``unregistered_org``, ``identity_mismatch``,
``unknown_subscriber``, ``not_received``, ``unknown_indicator``) and counted as ``sightings_rejected:<code>``.

A new version is published when some audience's view changes: a band, or a suppression — false positives
from at least the quorum of organisations, more than the organisations that support the indicator in that
view, suppress it for every past recipient (reversible: new reports or true positives bring it back).
Producers see the counts on the next version, never which subscriber reported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.processors.merge import finish, fold_sighting
from pipeline.processors.score import ScoreModel
from pipeline.processors.visibility import compute_view
from pipeline.state.indicator import IndicatorState
from pipeline.state.org import Organisation
from pipeline.state.store import Commit
from pipeline.state.subscription import Subscription
from pipeline.stix.times import Clock, utc_now
from pipeline.wire.headers import dead_letter
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected
from pipeline.wire.sighting import ParsedSighting, parse_sighting
from pipeline.worker.admission import Admission
from pipeline.worker.contention import until_committed
from pipeline.worker.registry import Registry, channel_org
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

#: Sighting ids share the store's "already applied" marks with submissions, in their own namespace.
MARK_PREFIX = "sighting:"


@dataclass
class SightingResult:
    applied: int = 0
    replayed: int = 0
    rejected: int = 0
    unknown: int = 0
    published: int = 0
    held: int = 0
    #: the sources of the messages this call admitted (see :class:`pipeline.worker.admission.Admission`)
    admitted: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Sighted:
    """A parsed sighting, the organisation whose channel it came on, and the message it came in."""

    sighting: ParsedSighting
    org: str
    msg: InMessage

    @property
    def mark(self) -> str:
        """One vote per organisation, indicator and kind: the STIX ``count`` is information, not votes."""
        s = self.sighting
        return f"{MARK_PREFIX}{self.org}:{s.indicator_id}:{s.kind}"


def suppressed(state: IndicatorState, model: ScoreModel, now_ms: int) -> bool:
    """Whether false positives suppress the indicator in the community's AMBER view (for the counter)."""
    return compute_view(state, 2, None, model, now_ms).status == "suppressed"


@dataclass
class SightingStep:
    versions: VersionPublisher
    now: Clock = utc_now
    max_cas_retries: int = 20
    registry: Registry | None = None
    #: the organisations' sightings_per_hour quota; None: not enforced
    admission: Admission | None = None

    def __post_init__(self) -> None:
        if self.registry is None:
            self.registry = Registry(self.versions.store)

    async def process(self, batch: Sequence[InMessage], *, releasing: bool = False) -> SightingResult:
        result = SightingResult()
        now = self.now()
        now_ms = int(now.timestamp() * 1000)
        store, emitter, topics = self.versions.store, self.versions.emitter, self.versions.topics
        assert self.registry is not None
        orgs, subs = await self.registry.current(), await self.registry.subscriptions()
        rejects: dict[str, tuple[InMessage, Rejected]] = {}
        groups: dict[str, list[Sighted]] = {}
        accepted: list[Sighted] = []
        for msg in batch:
            parsed = self._authenticate(msg, orgs, subs)
            if isinstance(parsed, Rejected):
                rejects[msg.source] = (msg, parsed)
            else:
                accepted.append(parsed)
        if self.admission is not None and accepted:
            admitted = await self.admission.sightings(
                [(s.msg, orgs[s.org]) for s in accepted], releasing=releasing
            )
            result.held = admitted.held
            rejects.update((msg.source, (msg, why)) for msg, why in admitted.overflow)
            if admitted.counters:
                await store.incr(admitted.counters)
            accepted = [s for s in accepted if s.msg.source in admitted.admitted]
        result.admitted = set(rejects) | {s.msg.source for s in accepted}
        for parsed in accepted:
            groups.setdefault(parsed.sighting.indicator_id, []).append(parsed)
        published: dict[str, IndicatorState] = {}
        await until_committed(
            groups,
            lambda pending: self._apply(pending, now_ms, result, published, rejects),
            max_tries=self.max_cas_retries,
            what="sightings",
        )
        for msg, rejected in rejects.values():
            emitter.send(topics.dlq, *dead_letter(msg, rejected, "sightings", now))
        await self.versions.send([(state, None) for state in published.values()], now_ms)
        result.published = len(published)
        await emitter.flush()
        for msg, rejected in rejects.values():
            counters = {"sightings_rejected": 1, f"sightings_rejected:{rejected.code}": 1}
            if await store.count_once(msg.source, counters):
                result.rejected += 1
            logger.info(
                "sighting rejected source=%s code=%s reason=%s", msg.source, rejected.code, rejected.reason
            )
        return result

    def _authenticate(
        self, msg: InMessage, orgs: Mapping[str, Organisation], subs: Mapping[str, Subscription]
    ) -> Sighted | Rejected:
        """The sighting, if it came on a registered subscriber's own channel about its own subscription."""
        org = channel_org(msg.topic, self.versions.topics.sightings, orgs, "subscriber")
        if isinstance(org, Rejected):
            return org
        org_id = org.id
        parsed = parse_sighting(msg.value, channel_org=org_id)
        if isinstance(parsed, Rejected):
            return parsed
        sub = subs.get(parsed.subscriber)
        if sub is None:
            return Rejected("unknown_subscriber", f"no subscription {parsed.subscriber!r}", org_id)
        if sub.organisation != org_id:
            return Rejected(
                "identity_mismatch",
                f"subscription {sub.id!r} belongs to {sub.organisation!r}, not to {org_id!r}",
                org_id,
            )
        return Sighted(parsed, org_id, msg)

    async def _apply(
        self,
        groups: dict[str, list[Sighted]],
        now_ms: int,
        result: SightingResult,
        published: dict[str, IndicatorState],
        rejects: dict[str, tuple[InMessage, Rejected]],
    ) -> dict[str, list[Sighted]]:
        store, model = self.versions.store, self.versions.model
        ids = list(groups)
        everything = [s for i in ids for s in groups[i]]
        seen = await store.seen_submissions([(i, s.mark) for i in ids for s in groups[i]])
        seen_by_mark = {s.mark: mark for s, mark in zip(everything, seen, strict=True)}
        states = await store.load_states(ids)
        commits: list[Commit] = []
        planned: list[tuple[str, IndicatorState, bool]] = []
        for ind, (state, delivered) in zip(ids, states, strict=True):
            if state is None:
                # A sighting of an indicator this exchange never published: dead-lettered, not dropped.
                unknown = Rejected("unknown_indicator", f"no indicator {ind} in this exchange")
                for s in groups[ind]:
                    rejects[s.msg.source] = (s.msg, unknown)
                result.unknown += len(groups[ind])
                continue
            fresh: dict[str, Sighted] = {}
            for s in groups[ind]:
                if s.sighting.subscriber not in delivered:
                    rejects[s.msg.source] = (
                        s.msg,
                        Rejected(
                            "not_received",
                            f"{s.sighting.subscriber!r} never received {ind}: only a recipient can sight it",
                            s.org,
                        ),
                    )
                elif seen_by_mark[s.mark] is None and s.mark not in fresh:
                    fresh[s.mark] = s
                else:
                    # Applied before (a replay, or this organisation's vote of this kind was counted) or a
                    # second vote of the same kind in this batch: one organisation, one vote per kind.
                    result.replayed += 1
                    if seen_by_mark[s.mark]:
                        published.setdefault(ind, state)  # its vote published a version: re-emit
            if not fresh:
                continue
            folded = state
            for s in fresh.values():
                folded = fold_sighting(folded, s.sighting.kind, s.org)
            outcome = finish(state, folded, model, now_ms)
            current, material = outcome.state, outcome.publish
            counters = {"sightings": len(fresh)}
            for s in fresh.values():
                kind = s.sighting.kind
                counters[f"sightings:{kind}"] = counters.get(f"sightings:{kind}", 0) + 1
                counters["sightings_reported_count"] = (
                    counters.get("sightings_reported_count", 0) + s.sighting.count
                )
            if material:
                counters["versions"] = 1
                if suppressed(current, model, now_ms) and not suppressed(state, model, now_ms):
                    counters["suppressions"] = 1
            expire = model.expires_at_ms(current.kind, current.last_ms, now_ms)
            commits.append(Commit(current, state.rev, list(fresh), material, counters, expire_at_ms=expire))
            planned.append((ind, current, material))
        outcomes = await store.commit(commits)
        retry: dict[str, list[Sighted]] = {}
        for (ind, current, material), ok, commit in zip(planned, outcomes, commits, strict=True):
            if not ok:
                retry[ind] = groups[ind]
                continue
            result.applied += len(commit.submission_ids)
            if material:
                published[ind] = current
        return retry
