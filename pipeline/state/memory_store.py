"""State in memory: the :class:`~pipeline.state.store.Store` protocol without a server, for tests of steps.

It keeps the semantics of :class:`~pipeline.state.redis_store.RedisStore` (one contract test suite runs
against both): compare-and-set on the revision, submission marks and count-once markers that expire after
the dedup window, delivery marks that never move backwards, states that expire at the time a commit names,
an expiring JSON cache, markers, subscriptions with a revision, erasure markers with their audit log, and a
cursor walk over the stored states. Expiry is measured by the injected clock, so a
test can step past a TTL instead of sleeping. Every method runs without awaiting anything, so each call is
atomic on the event loop, as each Lua script is in Redis.

>>> from pipeline import ListEmitter, MemoryStore
>>> store, out = MemoryStore(), ListEmitter()
>>> # await IngestStep(store, out, Topics("scam."), ScoreModel()).process(batch); out.on("scam.dlq")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from pipeline.config import default
from pipeline.state.indicator import IndicatorState
from pipeline.state.org import Organisation
from pipeline.state.store import Commit, Delivery, FanoutInputs, MergeInputs, Store, SubmissionRef
from pipeline.state.subscription import Subscription
from pipeline.stix.times import Clock, utc_now

_ID_PREFIX = "indicator--"


DEDUP_TTL_S: int = default("dedup_window_s")


def _key(indicator_id: str) -> str:
    # As in Redis (``i:<uuid>``): "indicator--<uuid>" and "<uuid>" name the same indicator.
    return indicator_id.removeprefix(_ID_PREFIX)


def _named(state: IndicatorState, indicator_id: str) -> IndicatorState:
    # Redis does not store the id (it is the key): a state reads back under the id it was asked for.
    return state if state.indicator_id == indicator_id else replace(state, indicator_id=indicator_id)


class MemoryStore:
    """The in-memory implementation of :class:`~pipeline.state.store.Store`. Construction does no I/O.

    ``now`` is the clock the dedup window (``dedup_ttl_s``) and the cache TTLs are measured on.
    """

    def __init__(self, *, now: Clock = utc_now, dedup_ttl_s: int = DEDUP_TTL_S) -> None:
        self._now = now
        self._ttl = timedelta(seconds=dedup_ttl_s)
        # Insertion-ordered and never shrinking: a scan cursor (a position) stays valid while states are
        # added, which is how a full walk visits every state exactly once. A deleted or expired state keeps
        # its position as None.
        self._states: dict[str, IndicatorState | None] = {}
        self._expires: dict[str, datetime] = {}
        self._delivered: dict[str, dict[str, int]] = {}
        self._erased: set[str] = set()
        self._audit: list[bytes] = []
        self._marks: dict[str, tuple[bool, datetime]] = {}
        self._counted: dict[str, datetime] = {}
        self._cache: dict[str, tuple[bytes, datetime]] = {}
        self._markers: dict[str, str] = {}
        self._stats: dict[str, int] = {}
        self._subs: dict[str, Subscription] = {}
        self._subs_rev = 0
        self._orgs: dict[str, Organisation] = {}
        self._orgs_rev = 0

    async def close(self) -> None:
        """Nothing to release (here for parity with RedisStore)."""

    def _alive(self, expires: datetime) -> bool:
        return self._now() < expires

    def _state(self, key: str) -> IndicatorState | None:
        """The live state under ``key``; an expired one is dropped with its delivery marks (as in Redis)."""
        expires = self._expires.get(key)
        if expires is not None and not self._alive(expires):
            self._drop(key)
        return self._states.get(key)

    def _drop(self, key: str) -> None:
        if key in self._states:
            self._states[key] = None
        self._expires.pop(key, None)
        self._delivered.pop(key, None)

    def _count(self, counters: Mapping[str, int], *, skip_zero: bool = False) -> None:
        for name, inc in counters.items():
            if inc or not skip_zero:
                self._stats[name] = self._stats.get(name, 0) + inc

    # -- indicators ---------------------------------------------------------------------------------
    async def load_states(
        self, indicator_ids: Sequence[str]
    ) -> list[tuple[IndicatorState | None, dict[str, int]]]:
        out: list[tuple[IndicatorState | None, dict[str, int]]] = []
        for ind in indicator_ids:
            state = self._state(_key(ind))
            out.append(
                (None if state is None else _named(state, ind), dict(self._delivered.get(_key(ind), {})))
            )
        return out

    async def known_indicators(self, indicator_ids: Sequence[str]) -> list[bool]:
        return [self._state(_key(ind)) is not None for ind in indicator_ids]

    async def load_delivered(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> list[dict[str, int]]:
        out = []
        for ind in indicator_ids:
            self._state(_key(ind))  # expiry
            marks = self._delivered.get(_key(ind), {})
            out.append({sub: marks[sub] for sub in subscriber_ids if sub in marks})
        return out

    async def seen_submissions(self, submissions: Sequence[SubmissionRef]) -> list[bool | None]:
        out: list[bool | None] = []
        for _ind, sid in submissions:
            mark = self._marks.get(sid)
            out.append(mark[0] if mark is not None and self._alive(mark[1]) else None)
        return out

    async def load_for_merge(
        self, indicator_ids: Sequence[str], submissions: Sequence[SubmissionRef]
    ) -> MergeInputs:
        # The three reads await nothing: together they are one step of the event loop, as in Redis one
        # round trip.
        return MergeInputs(
            await self.load_states(indicator_ids),
            await self.seen_submissions(submissions),
            await self.erased(indicator_ids),
        )

    async def load_for_fanout(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> FanoutInputs:
        return FanoutInputs(
            await self.load_delivered(indicator_ids, subscriber_ids), await self.erased(indicator_ids)
        )

    async def commit(self, commits: Sequence[Commit]) -> list[bool]:
        out = []
        for c in commits:
            key = _key(c.state.indicator_id)
            current = self._state(key)
            if (None if current is None else current.rev) != c.expected_rev or (
                c.expected_rev is None and key in self._erased
            ):
                out.append(False)
                continue
            self._states[key] = c.state
            if c.expire_at_ms is not None:
                self._expires[key] = datetime.fromtimestamp(c.expire_at_ms / 1000, tz=UTC)
            expires = self._now() + self._ttl
            for sid in c.submission_ids:
                self._marks[sid] = (c.published, expires)
            self._count(c.counters, skip_zero=True)
            out.append(True)
        return out

    async def count_once(self, marker: str, counters: Mapping[str, int]) -> bool:
        """Increment counters unless ``marker`` was counted already (e.g. a reject at one offset)."""
        expires = self._counted.get(marker)
        if expires is not None and self._alive(expires):
            return False
        self._counted[marker] = self._now() + self._ttl
        self._count(counters)
        return True

    async def mark_delivered(
        self, deliveries: Sequence[Delivery], progress: Mapping[str, int] | None = None
    ) -> list[bool]:
        self._count(progress or {})
        out = []
        for d in deliveries:
            self._state(_key(d.indicator_id))  # expiry
            marks = self._delivered.setdefault(_key(d.indicator_id), {})
            if marks.get(d.subscriber, 0) >= d.version:
                out.append(False)
                continue
            marks[d.subscriber] = d.version
            self._count(
                {f"delivered:{d.subscriber}": 1} | ({"revocations_delivered": 1} if d.revoked else {})
            )
            out.append(True)
        return out

    async def incr(self, counters: Mapping[str, int]) -> None:
        self._count(counters)

    async def stats(self) -> dict[str, int]:
        return dict(self._stats)

    async def scan_states(self, cursor: int, count: int) -> tuple[int, list[IndicatorState]]:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        keys = list(self._states)[cursor : cursor + count]
        next_cursor = cursor + count if cursor + count < len(self._states) else 0
        states = ((k, self._state(k)) for k in keys)
        return next_cursor, [_named(s, _ID_PREFIX + k) for k, s in states if s is not None]

    async def get_marker(self, name: str) -> str | None:
        return self._markers.get(name)

    async def set_marker(self, name: str, value: str) -> None:
        self._markers[name] = value

    # -- cache ----------------------------------------------------------------------------------------
    async def cached(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for key in keys:
            hit = self._cache.get(key)
            # Stored as JSON, like Redis: a caller never shares (or mutates) what another one cached.
            out.append(orjson.loads(hit[0]) if hit is not None and self._alive(hit[1]) else None)
        return out

    async def cache(self, items: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        expires = self._now() + timedelta(seconds=ttl_s)
        for key, value in items.items():
            self._cache[key] = (orjson.dumps(value), expires)

    # -- subscriptions ------------------------------------------------------------------------------
    async def subscriptions(self) -> tuple[int, list[Subscription]]:
        return self._subs_rev, [sub for _, sub in sorted(self._subs.items())]

    async def put_subscription(self, sub: Subscription) -> None:
        # Through JSON, like Redis: what is read back is what a reader of the stored form would see.
        self._subs[sub.id] = Subscription.model_validate(orjson.loads(orjson.dumps(sub.to_json())))
        self._subs_rev += 1

    async def remove_subscription(self, sub_id: str) -> bool:
        removed = self._subs.pop(sub_id, None) is not None
        self._subs_rev += 1
        return removed

    async def organisations(self) -> tuple[int, list[Organisation]]:
        return self._orgs_rev, [org for _, org in sorted(self._orgs.items())]

    async def put_organisation(self, org: Organisation) -> None:
        self._orgs[org.id] = Organisation.model_validate(orjson.loads(orjson.dumps(org.to_json())))
        self._orgs_rev += 1

    async def remove_organisation(self, org_id: str) -> bool:
        removed = self._orgs.pop(org_id, None) is not None
        self._orgs_rev += 1
        return removed

    # -- erasure ------------------------------------------------------------------------------------
    async def mark_erased(self, indicator_id: str, audit: Mapping[str, Any]) -> None:
        self._erased.add(_key(indicator_id))
        self._audit.append(orjson.dumps(dict(audit)))

    async def erased(self, indicator_ids: Sequence[str]) -> list[bool]:
        return [_key(ind) in self._erased for ind in indicator_ids]

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self._audit[-limit:]] if limit >= 1 else []

    async def delete_indicator(self, indicator_id: str, sco_id: str) -> None:
        self._drop(_key(indicator_id))
        self._cache.pop(sco_id, None)
        # As Redis matches them: ``sighting:<org>:<indicator id>:<kind>``.
        for sid in [s for s in self._marks if s.startswith("sighting:") and f":{indicator_id}:" in s]:
            del self._marks[sid]


if TYPE_CHECKING:
    _implements: type[Store] = MemoryStore  # mypy checks the whole protocol here
