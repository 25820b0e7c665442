"""The TAXII channel: each delivery's STIX objects into its subscription's TAXII 2.1 collection.

Every object of a delivered bundle (indicator, SCO, relationship, marking definition, ...) is stored by its
id in the collection named by the subscription id (:mod:`pipeline.state.collections`); the gateway serves
it. :meth:`TaxiiCollectionChannel.flush` returns once Redis has everything, so the delivery step marks a
delivery only after its collection holds it: a crash repeats the delivery, and the store's idempotent
``add`` makes the repeat add nothing.

**Erasure.** An erased value must never be served again, and a collection, unlike a feed topic, has no
retention to age it out: what the channel leaves there is served for as long as the subscription exists.
The final bundle of an erasure (:func:`pipeline.processors.output.final_bundle`) still holds the value: in
its SCO, and in the indicator's ``pattern`` and ``name``. So for an ``erased`` delivery:

- every object of the bundle but the indicator and the (shared) marking definitions — the SCO, and the
  ``based-on`` relationship that points at it — is removed *forever*: the store bars its id, and the same
  script that would add an object checks the bar, so an older delivery replayed later (two workers during
  a rebalance, a consumer group reset) cannot bring the SCO back;
- the indicator stays, so a poller learns that its copy is revoked (consumers key STIX objects by id, and
  the id is already a pseudonym of the value), but redacted: the literals of its ``pattern`` are emptied
  (``[phone-number:value = '']``, still a valid pattern) and its ``name`` is dropped. An older version of
  it replayed later is ignored by the store (an earlier ``modified``), so it stays revoked;
- the removal runs before the add: a crash in between leaves the SCO gone and the indicator at its last
  version, and the repeated delivery completes the rest — the SCO is never readable again.

Objects an earlier version carried that the final bundle does not: by construction
(:mod:`pipeline.stix.build`) every version of an indicator carries the same ids (the indicator, its SCO and
the relationship, all derived from the value) plus TLP marking definitions, which carry no value and which
other indicators share, so they stay. tests/unit/subscribers/test_taxii_channel.py pins that: a change of
bundle shape fails there rather than leaving a copy behind.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from pipeline.state.collections import CollectionStore, RedisCollections
from pipeline.state.subscription import Subscription
from pipeline.subscribers.channels import Outgoing, all_of

logger = logging.getLogger(__name__)

#: a STIX pattern's string literal, with its escapes (``'it\\'s'``)
_LITERAL: Final = re.compile(r"'(?:[^'\\]|\\.)*'")

StoredObject = tuple[str, str, str, bytes]


def wall_clock_us() -> int:
    """Microseconds since the epoch, from the system clock (the store keeps date_added increasing anyway)."""
    return time.time_ns() // 1000


def redacted(indicator: dict[str, Any]) -> dict[str, Any]:
    """An erased indicator without the value: ``pattern`` literals emptied, ``name`` dropped.

    >>> redacted({"id": "indicator--1", "name": "x", "pattern": "[url:value = 'https://a.example/']"})
    {'id': 'indicator--1', 'pattern': "[url:value = '']"}
    """
    out = {k: v for k, v in indicator.items() if k != "name"}
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _LITERAL.sub("''", out["pattern"])
    return out


def split_erased(
    objects: Sequence[dict[str, Any]], indicator_id: str
) -> tuple[list[dict[str, Any]], set[str]]:
    """(what an erased delivery stores, the ids it removes for good): see the module docstring."""
    kept: list[dict[str, Any]] = []
    gone: set[str] = set()
    for obj in objects:
        if obj["type"] == "marking-definition":
            kept.append(obj)
        elif obj["type"] == "indicator" and obj["id"] == indicator_id:
            kept.append(redacted(obj))
        else:
            gone.add(obj["id"])
    return kept, gone


def _objects(item: Outgoing) -> list[dict[str, Any]]:
    objects = orjson.loads(item.bundle).get("objects") or []
    good = [o for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str)
            and isinstance(o.get("type"), str)]  # fmt: skip
    if len(good) != len(objects):
        logger.warning("taxii: objects without id or type skipped subscriber=%s indicator=%s count=%d",
                       item.subscription.id, item.indicator_id, len(objects) - len(good))  # fmt: skip
    return good


def _stored(obj: dict[str, Any]) -> StoredObject:
    version = obj.get("modified") or obj.get("created") or ""
    return obj["id"], obj["type"], str(version), orjson.dumps(obj)


@dataclass
class _Batch:
    """One collection's share of a flush: what to add (in send order) and what to remove for good."""

    objects: list[StoredObject] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    #: id → the bytes last queued for it in this batch
    _sent: dict[str, bytes] = field(default_factory=dict)

    def take(self, item: Outgoing, parsed: dict[bytes, list[StoredObject]]) -> None:
        """Queue ``item``'s objects; ``parsed`` holds the stored form of each bundle already read in this
        flush (subscribers that share a view get the same bundle bytes: it is parsed once)."""
        if item.status == "erased":
            objects, gone = split_erased(_objects(item), item.indicator_id)
            self.gone |= gone
            self.objects = [o for o in self.objects if o[0] not in gone]
            stored_objects = [_stored(obj) for obj in objects]
        else:
            cached = parsed.get(item.bundle)
            if cached is None:
                cached = parsed[item.bundle] = [_stored(obj) for obj in _objects(item)]
            stored_objects = cached
        for stored in stored_objects:
            if stored[0] in self.gone:
                continue
            # The same bytes again (the TLP marking definition of every bundle, mostly) would add nothing:
            # the store's add is idempotent. Only the first copy in the batch is sent.
            if self._sent.get(stored[0]) != stored[3]:
                self._sent[stored[0]] = stored[3]
                self.objects.append(stored)


@dataclass
class TaxiiCollectionChannel:
    """Each subscription's TAXII collection (``CollectionStore``, named by the subscription id)."""

    store: CollectionStore
    now_us: Callable[[], int] = wall_clock_us
    _queued: list[Outgoing] = field(default_factory=list)

    async def prepare(self, subscriptions: Sequence[Subscription]) -> None:
        """Nothing to create: a collection exists once it holds an object."""

    def send(self, item: Outgoing) -> None:
        self._queued.append(item)

    async def flush(self) -> None:
        # On failure the queue is gone anyway: the delivery step raises, nothing is marked, and the retried
        # batch sends everything again.
        queued, self._queued = self._queued, []
        batches: dict[str, _Batch] = {}
        parsed: dict[bytes, list[StoredObject]] = {}
        for item in queued:
            batches.setdefault(item.subscription.id, _Batch()).take(item, parsed)
        await all_of(*(self._write(c, b) for c, b in batches.items()))

    async def _write(self, collection: str, batch: _Batch) -> None:
        removed = added = 0
        if batch.gone:
            removed = await self.store.remove(collection, sorted(batch.gone), forever=True)
        if batch.objects:
            added = await self.store.add(collection, batch.objects, self.now_us())
        logger.debug("taxii collection=%s objects=%d added=%d erased=%d removed=%d",
                     collection, len(batch.objects), added, len(batch.gone), removed)  # fmt: skip


def redis_taxii_channel(client: aioredis.Redis, prefix: str) -> TaxiiCollectionChannel:
    """The channel on Redis collections, with the worker's client and ``settings.redis_key_prefix``."""
    return TaxiiCollectionChannel(RedisCollections(client, prefix))
