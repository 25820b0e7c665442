"""What the steps need from their state store: a small protocol, with Redis and in-memory implementations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from pipeline.state.indicator import IndicatorState
from pipeline.state.org import Organisation
from pipeline.state.subscription import Subscription


@dataclass(frozen=True, slots=True)
class Commit:
    """One compare-and-set write: the new state, the revision it was computed from, and what to count."""

    state: IndicatorState
    expected_rev: int | None  # None: the indicator must not exist yet
    submission_ids: Sequence[str]
    published: bool
    counters: Mapping[str, int] = field(default_factory=dict)
    #: when set, the indicator's state (with its delivery marks) expires at this absolute time, in ms since
    #: the epoch, set only if the compare-and-set wins; None leaves the expiry as it is (none for a new state)
    expire_at_ms: int | None = None
    #: drop every stored field of the state first (its delivery marks stay): a state that loses
    #: contributions, audiences or sightings (erasure) — a plain commit only adds and overwrites fields
    replace: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    indicator_id: str
    subscriber: str
    version: int
    revoked: bool


class MergeInputs(NamedTuple):
    """What merging a batch reads first (:meth:`Store.load_for_merge`), in the order it was asked for."""

    #: per indicator: its state (None if unknown) and its delivered map (subscriber → version)
    states: list[tuple[IndicatorState | None, dict[str, int]]]
    #: per submission: None = never merged; otherwise whether merging it published a version
    seen: list[bool | None]
    #: per indicator: whether it was erased (its reports must be refused)
    erased: list[bool]


class FanoutInputs(NamedTuple):
    """What fan-out reads first (:meth:`Store.load_for_fanout`), per indicator in the order asked for."""

    #: the last version each of the named subscribers received (absent = never)
    delivered: list[dict[str, int]]
    #: whether the indicator was erased
    erased: list[bool]


#: A submission mark is asked for by the indicator it was merged into and the submission's id: the mark
#: lives beside the indicator's state (one hash slot, so one script writes both on Redis Cluster).
SubmissionRef = tuple[str, str]


class Store(Protocol):
    """What the processors need from their state store."""

    async def load_states(
        self, indicator_ids: Sequence[str]
    ) -> list[tuple[IndicatorState | None, dict[str, int]]]:
        """Each indicator's state (None if unknown) and its delivered map (subscriber → version)."""
        ...

    async def known_indicators(self, indicator_ids: Sequence[str]) -> list[bool]:
        """Whether each indicator has a state (what :meth:`load_states` would not give as None), without
        reading it: admission only asks which of a batch's indicators are new to the exchange."""
        ...

    async def seen_submissions(self, submissions: Sequence[SubmissionRef]) -> list[bool | None]:
        """Per (indicator id, submission id): None = never merged; otherwise whether merging it published
        a version."""
        ...

    async def load_delivered(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> list[dict[str, int]]:
        """Per indicator, the last version each of these subscribers received (absent = never)."""
        ...

    async def load_for_merge(
        self, indicator_ids: Sequence[str], submissions: Sequence[SubmissionRef]
    ) -> MergeInputs:
        """``load_states(indicator_ids)``, ``seen_submissions(submissions)`` and ``erased(indicator_ids)``
        in one round trip (one read of the store; not a snapshot across keys).

        >>> # states, seen, erased = await store.load_for_merge(ids, [(ind, r.submission_id) for r in ...])
        """
        ...

    async def load_for_fanout(
        self, indicator_ids: Sequence[str], subscriber_ids: Sequence[str]
    ) -> FanoutInputs:
        """``load_delivered(indicator_ids, subscriber_ids)`` and ``erased(indicator_ids)`` in one round trip.

        The marks of an erased indicator are read like any other's (none once it was deleted); the caller
        drops what it must not deliver.
        """
        ...

    async def commit(self, commits: Sequence[Commit]) -> list[bool]:
        """Apply each compare-and-set; False where the state changed since it was read, and where a new state
        (``expected_rev`` None) is of an erased indicator: an erasure between a merge's read and its commit
        is seen by the merge's next read, which refuses the reports."""
        ...

    async def count_once(self, marker: str, counters: Mapping[str, int]) -> bool:
        """Increment ``counters`` unless ``marker`` was counted already (within the dedup window)."""
        ...

    async def mark_delivered(
        self, deliveries: Sequence[Delivery], progress: Mapping[str, int] | None = None
    ) -> list[bool]:
        """Record each delivery unless the subscriber already has that version or a later one.

        Where it is recorded, ``delivered:<subscriber>`` (and for a revoked version ``revocations_delivered``)
        moves by one; True there, False for a replay. ``progress``: plain counters added as :meth:`incr`
        does (a replay adds them again), in the same round trip.
        """
        ...

    async def incr(self, counters: Mapping[str, int]) -> None:
        """Plain counters (progress, not exactly-once)."""
        ...

    async def stats(self) -> dict[str, int]: ...

    async def cached(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        """JSON values cached under ``keys`` (enrichment), None where missing."""
        ...

    async def scan_states(self, cursor: int, count: int) -> tuple[int, list[IndicatorState]]:
        """One step of a full walk over the stored indicators (cursor 0 starts and ends a walk)."""
        ...

    async def get_marker(self, name: str) -> str | None: ...

    async def set_marker(self, name: str, value: str) -> None: ...

    async def cache(self, items: Mapping[str, dict[str, Any]], ttl_s: int) -> None: ...

    async def subscriptions(self) -> tuple[int, list[Subscription]]:
        """The subscription revision (bumped by every change) and the subscriptions, sorted by id."""
        ...

    async def put_subscription(self, sub: Subscription) -> None:
        """Add or replace a subscription (by id); bumps the revision."""
        ...

    async def remove_subscription(self, sub_id: str) -> bool:
        """Remove a subscription; False if there was none. Bumps the revision either way."""
        ...

    async def organisations(self) -> tuple[int, list[Organisation]]:
        """The registry revision (bumped by every change) and the organisations, sorted by id."""
        ...

    async def put_organisation(self, org: Organisation) -> None:
        """Add or replace an organisation (by id); bumps the revision."""
        ...

    async def remove_organisation(self, org_id: str) -> bool:
        """Remove an organisation; False if there was none. Bumps the revision either way."""
        ...

    # -- erasure ------------------------------------------------------------------------------------
    async def mark_erased(self, indicator_id: str, audit: Mapping[str, Any]) -> None:
        """Mark the indicator erased for good and append ``audit`` (JSON-able, never the value) to the log.

        The marker never expires and is kept when it is set already; the audit record is appended each call.
        """
        ...

    async def erased(self, indicator_ids: Sequence[str]) -> list[bool]:
        """Per indicator: whether it was erased (reports of it must be refused)."""
        ...

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` audit records, oldest first."""
        ...

    async def delete_indicator(self, indicator_id: str, sco_id: str) -> None:
        """Delete the indicator's state with its delivery marks, the enrichment cached for ``sco_id``, and
        the sighting marks (``sighting:<org>:<indicator id>:<kind>``) of the indicator."""
        ...
