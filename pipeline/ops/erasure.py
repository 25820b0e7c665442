"""Erasure: remove one wrongly reported value (a real person's phone number, say) everywhere the exchange
holds it, and make sure it can never be reported again.

The flow (:func:`erase`), each step safe to repeat, so running it again resumes where it stopped:

1. ``mark_erased``: the permanent marker (ingest refuses every later report of the indicator) and one audit
   record — who, when, why, how many past recipients; never the value.
2. A final version by compare-and-set: ``revoked``, no contributions, no audiences, no sightings, score 0.
3. Its record on ``scam.indicators`` (``build_record(..., erased=True)``): fan-out sends the final bundle,
   status ``erased``, to every past recipient that still has a subscription.
4. Wait until each of them has it (their delivery marks reach the erased version), up to a timeout.
5. A tombstone for the key on the compacted ``scam.indicators``, then ``delete_indicator``: the state with
   its delivery marks, the enrichment cache and the sighting marks.

A value that was never reported still gets the marker and an audit record, so it can never be reported.
The Kafka producer is a parameter (confluent-kafka's ``Producer``, or a test double): nothing here builds
a client.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

import orjson

from pipeline.canon import Canonical
from pipeline.config import Topics
from pipeline.errors import ScamshareError
from pipeline.kafka.clients import DeliveryTracker, ProducerLike, produce
from pipeline.processors.output import build_record
from pipeline.processors.score import DAY_MS, ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.state.store import Commit, Store
from pipeline.stix.times import Clock, stix_timestamp, utc_now

logger = logging.getLogger(__name__)

__all__ = [
    "ErasureError",
    "ErasureOutcome",
    "ErasureRequest",
    "Producer",
    "erase",
    "is_erased_final",
    "mentions_value",
]


class ErasureError(ScamshareError):
    """An erasure could not make progress (the state kept changing); running it again resumes."""


class Producer(ProducerLike, Protocol):
    """What erasure needs of a Kafka producer: confluent-kafka's ``Producer`` fits."""

    def flush(self, timeout: float = ...) -> int: ...


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """What to erase (canonicalised), why, and who asks."""

    canonical: Canonical
    reason: str
    operator: str


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    """What an erasure did. ``completed``: tombstone written, state deleted (only the marker is left)."""

    indicator_id: str
    kind: str
    #: the erased version (0: there was no state)
    version: int
    #: every past recipient (subscriber ids), sorted
    recipients: tuple[str, ...]
    #: past recipients that had not received the erased version by the deadline
    pending: tuple[str, ...] = ()
    #: past recipients without a subscription any more: fan-out cannot reach them
    unreachable: tuple[str, ...] = ()
    #: the exchange held a state of the value when this run started
    known: bool = True
    #: an earlier run had erased it already (this one resumed or only repeated the tombstone)
    already: bool = False
    completed: bool = False
    audit: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "indicator_id": self.indicator_id,
            "kind": self.kind,
            "recipients": len(self.recipients),
            "erased": True,
            "completed": self.completed,
            "known": self.known,
            "already_erased": self.already,
            "version": self.version,
            "pending": list(self.pending),
            "unreachable": list(self.unreachable),
        }


def mentions_value(reason: str, raw: str, c: Canonical) -> bool:
    """Whether ``reason`` repeats the value (as typed or canonical, ignoring case, spaces and punctuation):
    the audit log must never hold it."""
    text = _letters(reason)
    return any(len(v) >= 4 and v in text for v in {_letters(raw), _letters(c.value)})


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def is_erased_final(state: IndicatorState) -> bool:
    """An erasure's final state: revoked with no report left (only erasure empties the contributions)."""
    return state.revoked and not state.contributions


def erased_state(state: IndicatorState) -> IndicatorState:
    """The final version: the value's identity only, nothing of any report or sighting."""
    return replace(
        state,
        revoked=True,
        allowlisted=False,
        contributions=(),
        audiences=(),
        reports=0,
        sightings=(0, 0, 0),
        tp_by=frozenset(),
        fp_by=frozenset(),
        score=0,
        version=state.version + 1,
        rev=state.rev + 1,
    )


def _send(producer: Producer, topic: str, key: str, value: bytes | None, timeout_s: float) -> None:
    """Produce one message and wait for its acknowledgement (DeliveryError if it is not acknowledged)."""
    tracker = DeliveryTracker()
    produce(producer, topic, key.encode(), value, on_delivery=tracker)
    remaining = producer.flush(timeout_s)
    tracker.raise_for_failures(pending=remaining, waited_s=timeout_s)


@dataclass
class _Eraser:
    store: Store
    producer: Producer
    topics: Topics
    model: ScoreModel
    now: Clock
    sleep: Callable[[float], Awaitable[None]]
    produce_timeout_s: float
    max_cas_retries: int

    def _now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def _audit(self, req: ErasureRequest, recipients: int) -> dict[str, Any]:
        return {
            "action": "erase",
            "indicator_id": req.canonical.indicator_id,
            "kind": req.canonical.kind,
            "operator": req.operator,
            "at": stix_timestamp(self.now()),
            "reason": req.reason,
            "recipients": recipients,
        }

    def _publish(self, final: IndicatorState, c: Canonical) -> None:
        record = build_record(final, c, self.model, self._now_ms(), erased=True)
        _send(
            self.producer,
            self.topics.indicators,
            c.indicator_id,
            orjson.dumps(record),
            self.produce_timeout_s,
        )
        logger.info("erased version published indicator=%s version=%d", c.indicator_id, final.version)

    async def _finalise(self, c: Canonical) -> tuple[IndicatorState | None, bool]:
        """The final version, committed and published here unless it was there already (then False); None
        if the state is gone."""
        for _ in range(self.max_cas_retries):
            [(state, _delivered)] = await self.store.load_states([c.indicator_id])
            if state is None or is_erased_final(state):
                return state, False
            final = erased_state(state)
            counters = {"erasures": 1, "versions": 1, "revocations": 1}
            # Even if this erasure is abandoned (never re-run after a timeout), the final state, which still
            # names the value, expires after the grace.
            expire = self._now_ms() + int(self.model.state_grace_days * DAY_MS)
            commit = Commit(final, state.rev, [], True, counters, expire_at_ms=expire, replace=True)
            if (await self.store.commit([commit]))[0]:
                self._publish(final, c)
                return final, True
        raise ErasureError(
            f"{c.indicator_id}: its state kept changing ({self.max_cas_retries} attempts): run erase again"
        )

    async def _pending(self, state: IndicatorState) -> tuple[dict[str, int], list[str], list[str]]:
        """(delivery marks, subscribed recipients without the erased version, unsubscribed recipients)."""
        [(_, delivered)] = await self.store.load_states([state.indicator_id])
        _rev, subs = await self.store.subscriptions()
        subscribed = {s.id for s in subs}
        pending = sorted(s for s, v in delivered.items() if v < state.version and s in subscribed)
        gone = sorted(s for s in delivered if s not in subscribed)
        return delivered, pending, gone

    async def run(self, req: ErasureRequest, timeout_s: float, poll_s: float) -> ErasureOutcome:
        c = req.canonical
        ind = c.indicator_id
        [(state, delivered)] = await self.store.load_states([ind])
        [already] = await self.store.erased([ind])
        audit: dict[str, Any] = {}
        if not already:
            # First, so that from now on ingest refuses new reports of it.
            audit = self._audit(req, len(delivered))
            await self.store.mark_erased(ind, audit)
            logger.info("erasure marked indicator=%s recipients=%d", ind, len(delivered))
        final, published = await self._finalise(c) if state is not None else (None, False)
        if final is None:  # never reported, or nothing left of it: the marker is what matters
            if not already:
                await self.store.incr({"erasures": 1})
            outcome = ErasureOutcome(
                ind, c.kind, 0, (), known=state is not None, already=already, audit=audit
            )
            return await self._complete(c, outcome)
        deadline = self.now() + timedelta(seconds=timeout_s)
        while True:
            marks, pending, gone = await self._pending(final)
            if not pending or self.now() >= deadline:
                break
            if not published:
                # A resumed run: the erased record may never have reached the topic (a crash right after
                # the commit). Sending it again is harmless: fan-out never delivers a version twice.
                self._publish(final, c)
                published = True
            await self.sleep(poll_s)
        outcome = ErasureOutcome(
            ind, c.kind, final.version, tuple(sorted(marks)), tuple(pending), tuple(gone), already=already,
            audit=audit,
        )  # fmt: skip
        if pending:
            logger.warning("erasure waiting indicator=%s pending=%s", ind, ",".join(pending))
            return outcome
        return await self._complete(c, outcome)

    async def _complete(self, c: Canonical, outcome: ErasureOutcome) -> ErasureOutcome:
        """Tombstone the key on the compacted topic, then delete what Redis holds of the indicator."""
        _send(self.producer, self.topics.indicators, c.indicator_id, None, self.produce_timeout_s)
        await self.store.delete_indicator(c.indicator_id, c.sco_id)
        logger.info("erasure completed indicator=%s", c.indicator_id)
        return replace(outcome, completed=True)


async def erase(
    store: Store,
    producer: Producer,
    topics: Topics,
    request: ErasureRequest,
    *,
    model: ScoreModel | None = None,
    now: Clock = utc_now,
    timeout_s: float = 60.0,
    poll_s: float = 0.5,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    produce_timeout_s: float = 30.0,
    max_cas_retries: int = 20,
) -> ErasureOutcome:
    """Erase ``request.canonical`` everywhere the exchange holds it (see the module docstring).

    Returns with ``completed=False`` and the ``pending`` recipients when they have not all received the
    erased version within ``timeout_s``: calling it again resumes. Raises DeliveryError when Kafka does not
    acknowledge a record.
    """
    eraser = _Eraser(
        store, producer, topics, model or ScoreModel(), now, sleep, produce_timeout_s, max_cas_retries
    )
    return await eraser.run(request, timeout_s, poll_s)
