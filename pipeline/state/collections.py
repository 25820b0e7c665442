"""TAXII 2.1 collections: each subscription's feed, object by object, paged by ``date_added``.

Fan-out (:mod:`pipeline.subscribers.taxii_channel`) adds every object of each bundle it delivers to the
subscription's collection; the gateway (:mod:`pipeline.gateway.taxii`) pages through it, serving the stored
bytes as they are. What the store promises (tests/contract/test_collections.py holds both implementations,
:class:`RedisCollections` and :class:`MemoryCollections`, to it):

- ``date_added`` is assigned by the store, in microseconds, unique and strictly increasing per collection:
  ``max(now, last + 1)``, in the same atomic step that stores the object. So ``added_after`` (the last
  ``date_added`` a reader saw) is an exact cursor: whatever a concurrent writer adds lands after it.
- Only the latest version of an object is kept; a new version moves it to the tail.
- ``add`` is idempotent: the same bytes again add nothing (a replayed delivery). So is an older version
  than the stored one (its ``modified`` is earlier): a stale replay — two workers during a rebalance — never
  rolls an object back. A revoked object is final (STIX 2.1: revoking is permanent): once stored, later
  adds of its id are ignored, whatever their ``modified``.
- ``remove(..., forever=True)`` also bars the ids from later adds: an erased value's SCO stays gone even
  if an older delivery of it is replayed.

Redis keys (``p`` = the key prefix; ``{c}`` = the collection as a hash tag, so every script touches one
Redis Cluster slot): ``p tx:{c}:z`` sorted set id → date_added, ``p tx:{c}:t:<type>`` one sorted set per
STIX type (``match[type]`` without a scan), ``p tx:{c}:o`` hash id → raw JSON, ``p tx:{c}:m`` hash
id → meta (:mod:`pipeline.state.collections_lua`), ``p tx:{c}:last`` the last date_added, ``p tx:{c}:x``
barred ids, ``p tx:{c}:types`` the type names in use (for :meth:`CollectionStore.drop`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from pipeline.state.collections_lua import ADD, PAGE, REMOVE

SPEC_VERSION: Final = "2.1"
STIX_MEDIA_TYPE: Final = "application/stix+json;version=2.1"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored object of a collection."""

    #: STIX object id
    id: str
    #: the object's ``modified``, else ``created``, else its date_added (RFC 3339)
    version: str
    #: microseconds since the epoch; unique and strictly increasing per collection
    date_added_us: int
    #: the object's JSON bytes exactly as stored (served without re-parsing)
    raw: bytes
    spec_version: str = SPEC_VERSION
    media_type: str = STIX_MEDIA_TYPE


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Entry]
    #: another entry matches after the last one returned
    more: bool


class CollectionStore(Protocol):
    async def add(self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int) -> int:
        """(id, type, version, raw) in order; atomically per call. An object whose id is stored with the same
        raw bytes is left alone (idempotent: a replayed delivery adds nothing), as is an older version (an
        earlier ``modified``) than the stored one, and an id that is final (a stored revoked object) or
        barred by ``remove(..., forever=True)``. A new object, or a stored id with different bytes (a new
        version, a revocation), gets date_added = max(now_us, last date_added of the collection + 1) and
        moves to the tail (latest version only is kept). Returns how many were added/moved."""
        ...

    async def remove(self, collection: str, ids: Sequence[str], *, forever: bool = False) -> int:
        """Remove these objects; returns how many were stored. ``forever``: later adds of them are ignored."""
        ...

    async def page(
        self,
        collection: str,
        *,
        after_us: int | None,
        limit: int,
        types: frozenset[str] | None = None,
        ids: frozenset[str] | None = None,
        spec_versions: frozenset[str] | None = None,
    ) -> Page:
        """Entries with date_added_us > after_us (None: from the start), oldest first, at most limit,
        filtered (``types``, ``ids``; ``spec_versions`` without "2.1" matches nothing)."""
        ...

    async def get(self, collection: str, object_id: str) -> Entry | None: ...

    async def count(self, collection: str) -> int: ...

    async def last_added_us(self, collection: str) -> int | None: ...

    async def drop(self, collection: str) -> None:
        """Delete the collection: its objects, its barred ids and its date_added counter."""
        ...


def stamp(us: int) -> str:
    """RFC 3339 UTC with microseconds (``2026-12-02T09:00:00.123456Z``): a version-less object's version."""
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=4096)
def version_key(version: str) -> int:
    """Microseconds since the epoch of an RFC 3339 version; 0 (no order) when empty or unreadable (cached:
    the objects of a bundle share their timestamps)."""
    if not version:
        return 0
    try:
        moment = datetime.fromisoformat(version)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, (moment - _EPOCH) // timedelta(microseconds=1))


def is_final(raw: bytes) -> bool:
    """Whether the object is revoked (STIX: for good), so no later version of its id is taken."""
    if b'"revoked"' not in raw or (raw.count(b'"revoked"') == 1 and b'"revoked":false' in raw):
        return False  # most objects: no parse (one "revoked", written false, cannot be a true one)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("revoked") is True


def digest(raw: bytes) -> str:
    """What ``add`` compares to tell a replay (same bytes) from a new version, without reading raw back."""
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def _check_type(object_type: str) -> str:
    if not _TYPE_RE.match(object_type):
        raise ValueError(f"{object_type!r} is not a STIX type (lower-case letters, digits, hyphens)")
    return object_type


def _check_id(object_id: str) -> str:
    if not object_id or "|" in object_id:
        raise ValueError(f"{object_id!r} is not a STIX id")
    return object_id


def _type_of(object_id: str) -> str:
    """The type part of a STIX id (``indicator--…`` → ``indicator``)."""
    return object_id.split("--", 1)[0]


def _spec_ok(spec_versions: frozenset[str] | None, limit: int) -> bool:
    """Whether stored objects can match ``spec_versions`` (only 2.1 is stored); ValueError for a bad limit."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return spec_versions is None or SPEC_VERSION in spec_versions


# -- Redis ----------------------------------------------------------------------------------------------
def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _entry(object_id: str, meta: bytes | str, raw: bytes | str) -> tuple[Entry, str]:
    """The Entry of a stored object and its type, from its meta string and raw JSON."""
    added, _vkey, _digest, object_type, version = _text(meta).split("|", 4)
    us = int(added)
    return Entry(object_id, version or stamp(us), us, _bytes(raw)), object_type


class RedisCollections:
    """The Redis implementation of :class:`CollectionStore` (redis-py asyncio). Construction does no I/O."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._r = client
        self._p = prefix
        self._add = client.register_script(ADD)
        self._remove = client.register_script(REMOVE)
        self._page = client.register_script(PAGE)

    def key(self, collection: str, part: str) -> str:
        """A key of ``collection`` (``z``, ``o``, ``m``, ``last``, ``x``, ``types``, ``t:<type>``)."""
        return f"{self._p}tx:{{{collection}}}:{part}"

    async def add(self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int) -> int:
        if not objects:
            return 0
        types = list(dict.fromkeys(_check_type(t) for _, t, _, _ in objects))
        index = {t: i for i, t in enumerate(types, 1)}
        k = self.key
        keys = [k(collection, p) for p in ("z", "o", "m", "last", "x", "types")]
        keys += [k(collection, f"t:{t}") for t in types]
        args: list[Any] = [int(now_us), len(types), *types]
        for oid, otype, version, raw in objects:
            # Two arguments per object, not seven: packing the command is most of the client's share.
            head = f"{_check_id(oid)}|{index[otype]}|{version_key(version)}|{digest(raw)}"
            args += [f"{head}|{int(is_final(raw))}|{version}", raw]
        return int(await self._add(keys=keys, args=args))

    async def remove(self, collection: str, ids: Sequence[str], *, forever: bool = False) -> int:
        if not ids:
            return 0
        types = list(dict.fromkeys(_type_of(i) for i in ids))
        index = {t: n for n, t in enumerate(types, 1)}
        keys = [self.key(collection, p) for p in ("z", "o", "m", "x")]
        keys += [self.key(collection, f"t:{t}") for t in types]
        args: list[Any] = ["1" if forever else "0"]
        for oid in ids:
            args += [oid, index[_type_of(oid)]]
        return int(await self._remove(keys=keys, args=args))

    async def page(
        self,
        collection: str,
        *,
        after_us: int | None,
        limit: int,
        types: frozenset[str] | None = None,
        ids: frozenset[str] | None = None,
        spec_versions: frozenset[str] | None = None,
    ) -> Page:
        if not _spec_ok(spec_versions, limit) or (types is not None and not types):
            return Page([], False)
        if ids is not None:
            return await self._page_ids(collection, after_us, limit, types, ids)
        sets = ["z"] if types is None else [f"t:{t}" for t in sorted(types)]
        keys = [self.key(collection, s) for s in (*sets, "o", "m")]
        low = "-inf" if after_us is None else f"({int(after_us)}"
        found, metas, raws = await self._page(keys=keys, args=[low, limit + 1])
        entries = [
            _entry(_text(oid), meta, raw)[0]
            for oid, meta, raw in zip(found[:limit], metas, raws, strict=False)
            if meta is not None and raw is not None
        ]
        return Page(entries, len(found) > limit)

    async def _page_ids(
        self, collection: str, after_us: int | None, limit: int, types: frozenset[str] | None,
        ids: frozenset[str],
    ) -> Page:  # fmt: skip
        wanted = sorted(ids)
        if not wanted:
            return Page([], False)
        # One MULTI (one slot): the meta and raw of one snapshot, in one round trip.
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hmget(self.key(collection, "m"), wanted)
            pipe.hmget(self.key(collection, "o"), wanted)
            metas, raws = await pipe.execute()
        low = -1 if after_us is None else after_us
        matched: list[Entry] = []
        for oid, meta, raw in zip(wanted, metas, raws, strict=True):
            if meta is None or raw is None:
                continue
            entry, object_type = _entry(oid, meta, raw)
            if entry.date_added_us > low and (types is None or object_type in types):
                matched.append(entry)
        matched.sort(key=lambda e: e.date_added_us)
        return Page(matched[:limit], len(matched) > limit)

    async def get(self, collection: str, object_id: str) -> Entry | None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hget(self.key(collection, "m"), object_id)
            pipe.hget(self.key(collection, "o"), object_id)
            meta, raw = await pipe.execute()
        if meta is None or raw is None:
            return None
        return _entry(object_id, meta, raw)[0]

    async def count(self, collection: str) -> int:
        return int(await self._r.zcard(self.key(collection, "z")))

    async def last_added_us(self, collection: str) -> int | None:
        value = await self._r.get(self.key(collection, "last"))
        return None if value is None else int(value)

    async def drop(self, collection: str) -> None:
        names = self.key(collection, "types")
        fixed = [self.key(collection, p) for p in ("z", "o", "m", "last", "x", "types")]
        async with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # WATCH: a type first added while we read the names would leave its set behind.
                    await pipe.watch(names)
                    types = await pipe.smembers(names)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(*fixed, *(self.key(collection, f"t:{_text(t)}") for t in types))
                    await pipe.execute()
                except WatchError:
                    continue
                return


# -- memory ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Stored:
    entry: Entry
    object_type: str
    vkey: int
    digest: str


class _Collection:
    def __init__(self) -> None:
        #: id → object, in date_added order (a moved object is re-inserted at the end)
        self.objects: dict[str, _Stored] = {}
        self.barred: set[str] = set()
        self.last: int | None = None


class MemoryCollections:
    """The same semantics in memory (tests of steps and of the gateway)."""

    def __init__(self) -> None:
        self._c: dict[str, _Collection] = {}

    def _get(self, collection: str) -> _Collection:
        return self._c.setdefault(collection, _Collection())

    async def add(self, collection: str, objects: Sequence[tuple[str, str, str, bytes]], now_us: int) -> int:
        for object_id, object_type, _, _ in objects:
            _check_id(object_id)
            _check_type(object_type)
        c = self._get(collection)
        added = 0
        for oid, object_type, version, raw in objects:
            if oid in c.barred:
                continue
            vkey, dig = version_key(version), digest(raw)
            old = c.objects.get(oid)
            same = old is not None and old.digest == dig
            if old is None or not (same or (vkey and old.vkey > vkey)):
                at = max(now_us, (c.last or 0) + 1)
                c.last = at
                c.objects.pop(oid, None)
                entry = Entry(oid, version or stamp(at), at, bytes(raw))
                c.objects[oid] = _Stored(entry, object_type, vkey, dig)
                added += 1
                same = True
            if same and is_final(raw):
                c.barred.add(oid)
        return added

    async def remove(self, collection: str, ids: Sequence[str], *, forever: bool = False) -> int:
        c = self._get(collection)
        removed = sum(c.objects.pop(oid, None) is not None for oid in ids)
        if forever:
            c.barred.update(ids)
        return removed

    async def page(
        self,
        collection: str,
        *,
        after_us: int | None,
        limit: int,
        types: frozenset[str] | None = None,
        ids: frozenset[str] | None = None,
        spec_versions: frozenset[str] | None = None,
    ) -> Page:
        if not _spec_ok(spec_versions, limit):
            return Page([], False)
        low = -1 if after_us is None else after_us
        matched: list[Entry] = []
        for s in self._c.get(collection, _Collection()).objects.values():
            if s.entry.date_added_us <= low or (types is not None and s.object_type not in types):
                continue
            if ids is not None and s.entry.id not in ids:
                continue
            matched.append(s.entry)
            if len(matched) > limit:
                break
        return Page(matched[:limit], len(matched) > limit)

    async def get(self, collection: str, object_id: str) -> Entry | None:
        found = self._c.get(collection, _Collection()).objects.get(object_id)
        return None if found is None else found.entry

    async def count(self, collection: str) -> int:
        return len(self._c.get(collection, _Collection()).objects)

    async def last_added_us(self, collection: str) -> int | None:
        return self._c.get(collection, _Collection()).last

    async def drop(self, collection: str) -> None:
        self._c.pop(collection, None)
