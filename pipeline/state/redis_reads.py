"""The batch reads of merging and fan-out: one script call per shard, not one command per indicator.

A batch read an indicator's state with one ``HGETALL`` (merging) or ``HMGET`` of its delivery marks (fan-out)
each, and the erasure markers with one ``MGET``. The script (``redis_lua.READ_MANY``) reads both for every
indicator of one shard in one call, so a batch of 500 indicators is at most 64 calls: redis-py packs,
sends and parses a reply per command, and that was most of the cost (500 state hashes of five fields
read 20 times, client CPU: 11.8-12.7 µs an indicator by pipeline, 4.4-5.2 by script). Each call touches
one shard's keys, one slot: it runs unchanged on Redis Cluster, where the batch sends each primary its share.

The replies are what the commands give: a state hash as ``{field: value}`` (bytes, as redis-py's HGETALL
gives it), marks as a list with ``None`` for a missing field, erasure as a bool (the marker exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.commands.core import AsyncScript

from pipeline.state.redis_batch import Batch
from pipeline.state.redis_keys import Keys, script_groups

__all__ = ["MAX_FIELDS", "ShardReads", "queue_reads"]

#: More fields than this are read command by command: a script's ``unpack`` of ARGV is bounded by Lua's
#: C stack (about 8,000 values in Redis' Lua 5.1).
MAX_FIELDS = 1000


class ShardReads:
    """The script calls queued for some indicators; :meth:`take` turns the batch's replies back into their
    order: ``(rows, erased)``, a row per indicator (a dict for a whole hash, else a list of values)."""

    __slots__ = ("_groups", "_n", "_whole")

    def __init__(self, groups: list[list[int]], n: int, whole: bool) -> None:
        self._groups, self._n, self._whole = groups, n, whole

    def take(self, replies: Sequence[Any]) -> tuple[list[Any], list[bool]]:
        rows: list[Any] = [None] * self._n
        erased = [False] * self._n
        for group, reply in zip(self._groups, replies, strict=True):
            for i, (fields, gone) in zip(group, reply, strict=True):
                if self._whole:
                    pairs = iter(fields)
                    rows[i] = dict(zip(pairs, pairs, strict=True))
                else:
                    rows[i] = fields
                erased[i] = bool(gone)
        return rows, erased


def queue_reads(
    batch: Batch,
    script: AsyncScript,
    keys: Keys,
    indicator_ids: Sequence[str],
    fields: Sequence[str] = (),
    *,
    split: bool = True,
) -> ShardReads:
    """Queue one call of ``script`` (``READ_MANY``) per shard of ``indicator_ids`` on ``batch`` (``split``
    False, one Redis: per :func:`~pipeline.state.redis_keys.script_groups` in order): the whole state hashes
    when ``fields`` is empty, else those fields (at most :data:`MAX_FIELDS`)."""
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"{len(fields)} fields: read more than {MAX_FIELDS} command by command")
    groups = script_groups(indicator_ids, by_shard=split)
    for group in groups:
        ids = [indicator_ids[i] for i in group]
        batch.script(script, [*map(keys.state, ids), *map(keys.erased, ids)], list(fields))
    return ShardReads(groups, len(indicator_ids), whole=not fields)
