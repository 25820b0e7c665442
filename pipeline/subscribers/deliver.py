"""The fan-out step: a batch of ``scam.indicators`` records → each matching subscriber's channel.

Routing (:func:`pipeline.processors.fanout.route`, pure) decides who gets a version; the step hands it to
the channel the subscription names (:mod:`pipeline.subscribers.channels`: the Kafka feed topic first),
keyed by indicator id with the STIX bundle (indicator, SCO, relationship, marking) as the value.
Deliveries are marked in Redis only after every channel has flushed, so a crash can repeat a delivery
(subscribers see the same id and ``modified`` twice, which STIX consumers treat as one version) but never
lose one, and the per-subscriber delivered counters move exactly once.

A subscription with ``taxii`` on (the default) also gets each of its deliveries into its TAXII 2.1
collection (``collections``, :mod:`pipeline.subscribers.taxii_channel`), whatever its ``channel``; that
channel is flushed at the same time as the others (Redis and the broker, each waited on while the other
works), and the deliveries are marked once both have finished.

A tombstone (an empty value: ``scamshare erase`` deletes the key from the compacted topic once every past
recipient has the erased version) is no version and is skipped silently, and so is any version but the final
one of an erased indicator (an older record read again after the erasure must not bring the value back). A
final revocation goes out with the status its final bundle states: ``erased`` for an erasure, ``revoked``
otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from pipeline.config import Topics
from pipeline.kafka.emit import Emitter
from pipeline.processors.fanout import Routed, route
from pipeline.processors.output import IndicatorView
from pipeline.processors.record_wire import HEADER_ROUTING, ReadRecord, read_record
from pipeline.state.latency import observe
from pipeline.state.store import Delivery, Store
from pipeline.state.subscription import Subscription
from pipeline.stix.times import Clock, utc_now
from pipeline.subscribers.channels import Channel, Outgoing, all_of
from pipeline.wire.headers import HEADER_SUBMITTED_MS, dead_letter
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

logger = logging.getLogger(__name__)


@dataclass
class DeliverStep:
    """Route each published version to its subscribers' channels. ``emitter`` carries the DLQ."""

    store: Store
    emitter: Emitter
    topics: Topics
    #: channel name (``Subscription.channel``) → channel
    channels: Mapping[str, Channel]
    now: Clock = utc_now
    refresh_every_s: float = 1.0
    #: deliver only to these subscriber ids (backfill); None = every subscription
    only: frozenset[str] | None = None
    #: the TAXII collections: also gets every delivery to a subscription with ``taxii`` on (None: not served)
    collections: Channel | None = None
    #: backfill: give the collections every current matching version, delivered to Kafka before or not
    #: (a collection added after its subscription started is filled; a collection adds the same bytes once)
    refill_collections: bool = False
    _subs: list[Subscription] = field(default_factory=list)
    _subs_rev: int = -1
    _subs_loaded_at: float = float("-inf")

    async def subscriptions(self, now: datetime) -> list[Subscription]:
        """The current subscriptions, re-read at most every ``refresh_every_s`` (changes apply live)."""
        stamp = now.timestamp()
        if stamp - self._subs_loaded_at >= self.refresh_every_s:
            rev, subs = await self.store.subscriptions()
            if rev != self._subs_rev:
                for name, channel in self.channels.items():
                    await channel.prepare([s for s in subs if s.channel == name])
                if self.collections is not None:
                    await self.collections.prepare([s for s in subs if s.taxii])
                logger.info("subscriptions loaded rev=%d count=%d", rev, len(subs))
                self._subs, self._subs_rev = subs, rev
            self._subs_loaded_at = stamp
        return self._subs

    async def process(self, batch: Sequence[InMessage]) -> int:
        now = self.now()
        subs = await self.subscriptions(now)
        if self.only is not None:
            subs = [s for s in subs if s.id in self.only]
        parsed: list[tuple[InMessage, IndicatorView, ReadRecord]] = []
        for msg in batch:
            if not msg.value:
                continue  # a tombstone: the indicator was erased and its key deleted, nothing to deliver
            try:
                read = read_record(msg.value, msg.headers.get(HEADER_ROUTING))
                parsed.append((msg, read.view, read))
            except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
                rejected = Rejected("bad_record", f"not a scam.indicators record: {exc}")
                self.emitter.send(self.topics.dlq, *dead_letter(msg, rejected, "fanout", now))
        ids = list(dict.fromkeys(view.indicator_id for _, view, _ in parsed))
        # One round trip: the subscribers' delivery marks (not the whole state) and the erasure markers.
        loaded, gone = await self.store.load_for_fanout(ids, [s.id for s in subs])
        delivered = dict(zip(ids, loaded, strict=True))
        # An older record of an erased indicator, read again (a rebalance, a restart before the commit)
        # after the erasure deleted its delivery marks, would route as new: the value would go out again.
        # Erasure is for good, so a version of an erased indicator that is not its final one goes nowhere.
        erased = {i for i, e in zip(ids, gone, strict=True) if e}
        if erased:
            parsed = [p for p in parsed if p[1].indicator_id not in erased or p[1].revoked]
        deliveries: list[Delivery] = []
        sent_ms: list[int] = []
        refill = self.collections if self.refill_collections else None
        for msg, view, record in parsed:
            already = delivered[view.indicator_id]
            submitted = msg.headers.get(HEADER_SUBMITTED_MS)
            if refill is not None:
                for routed in route(view, [s for s in subs if s.taxii], {}):
                    refill.send(_outgoing(view, record, routed, submitted))
            for routed in route(view, subs, already):
                sub = routed.subscription
                out = _outgoing(view, record, routed, submitted)
                status = out.status
                self.channels[sub.channel].send(out)
                if self.collections is not None and sub.taxii and refill is None:
                    self.collections.send(out)
                if submitted is not None:
                    sent_ms.extend(_int(submitted))
                already[sub.id] = view.version
                deliveries.append(Delivery(view.indicator_id, sub.id, view.version, status != "active"))
        # The feeds wait on the broker's acknowledgements, the collections on Redis: independent outputs,
        # flushed at the same time, and both finished (or failed) before anything is marked.
        await all_of(
            self._flush_channels(), *([] if self.collections is None else [self.collections.flush()])
        )
        # Progress only (a replayed batch counts again): lets the demo and tests see fan-out caught up.
        # It rides with the marks: one round trip after the flush, not two.
        done_ms = int(self.now().timestamp() * 1000)
        progress = {"fanout_records": len(batch), **observe("e2e", [done_ms - s for s in sent_ms])}
        return sum(await self.store.mark_delivered(deliveries, progress))

    async def _flush_channels(self) -> None:
        await self.emitter.flush()
        for channel in self.channels.values():
            await channel.flush()


def _outgoing(view: IndicatorView, record: ReadRecord, routed: Routed, submitted: bytes | None) -> Outgoing:
    """The delivery of ``routed``: its view's bundle bytes (the final one for a revocation)."""
    sub, seen = routed.subscription, routed.view
    status = record.final_status if seen is None else seen.status
    return Outgoing(
        sub, view.indicator_id, view.version if seen is None else seen.seq,
        status != "active", record.bundle(None if seen is None else seen.key), submitted, status=status,
    )  # fmt: skip


def _int(raw: bytes) -> list[int]:
    try:
        return [int(raw)]
    except ValueError:
        return []
