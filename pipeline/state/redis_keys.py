"""Key names of the Redis store, with the hash tags that let every script run unchanged on Redis Cluster.

Redis Cluster hashes only the part of a key between the first ``{`` and the next ``}`` (its hash tag) when
there is one, and refuses a command or script whose keys fall in different slots. The store's scripts write
an indicator's state, its submission marks and the counters together, and the per-batch ones (delivery
marks) write many states and the counters together; so those keys share a tag:

- an indicator belongs to one of :data:`SHARDS` shards, ``shard_tag(indicator_id)``: the first two hex
  digits of its uuid, modulo 64 (the uuid is a uuid5, a hash of the canonical value, so shards are even);
- everything keyed by an indicator — its state, its erasure marker, the marks of the submissions merged
  into it — carries its shard's tag: ``p {2a}i:<uuid>``, ``p {2a}erased:<uuid>``, ``p {2a}s:<submission>``;
- the counters are one hash per shard, ``p {2a}stats`` (a script increments its own shard's), summed on
  read with the untagged ``p stats`` (plain increments that belong to no indicator);
- registries keep their revision beside them: ``p {subs}`` and ``p {subs}:rev``, ``p {orgs}`` and
  ``p {orgs}:rev``.

64 shards: a 3-primary cluster holds 21 or 22 each (even within 5%), and a batch groups into at most 64
script calls there. On one Redis (or Sentinel), where any keys may meet in a script, a batch is not split by
shard: its items go in order, :data:`UNSPLIT_MAX` to a call (:func:`script_groups`), so a batch of 70 is one
call, not about 45. The tag does not follow the Kafka partition (it would change with the partition
count); it is the indicator's, so it never changes. A prefix may not contain braces: its own ``{`` would
become the tag.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

__all__ = ["SHARDS", "UNSPLIT_MAX", "Keys", "script_groups", "shard_tag", "shard_tags", "text_tag"]

SHARDS = 64
#: On one Redis, the items of one per-batch script call at most: a call of this many holds the server for
#: about 2 ms, no longer than a client waits for any other command then.
UNSPLIT_MAX = 128
_TAGS = tuple(f"{{{n:02x}}}" for n in range(SHARDS))


def _uuid(indicator_id: str) -> str:
    return indicator_id.removeprefix("indicator--")


def shard_tag(indicator_id: str) -> str:
    """The ``{nn}`` hash tag of an indicator's keys (module docstring)."""
    u = _uuid(indicator_id)
    try:
        return _TAGS[int(u[:2], 16) % SHARDS]
    except ValueError:  # not a uuid (a caller's own id): a stable hash instead
        return _TAGS[zlib.crc32(u.encode()) % SHARDS]


def script_groups(indicator_ids: Sequence[str], *, by_shard: bool) -> list[list[int]]:
    """The positions of ``indicator_ids`` each per-batch script call takes: one call per shard in the order
    each shard first appears (``by_shard``: on Redis Cluster a script's keys must share a slot), else in
    order, :data:`UNSPLIT_MAX` to a call (one Redis)."""
    if not by_shard:
        n = len(indicator_ids)
        return [list(range(i, min(i + UNSPLIT_MAX, n))) for i in range(0, n, UNSPLIT_MAX)]
    groups: dict[str, list[int]] = {}
    for i, ind in enumerate(indicator_ids):
        groups.setdefault(shard_tag(ind), []).append(i)
    return list(groups.values())


def text_tag(text: str) -> str:
    """A shard tag for a key that belongs to no indicator (a counted-once marker)."""
    return _TAGS[zlib.crc32(text.encode()) % SHARDS]


def shard_tags() -> Sequence[str]:
    return _TAGS


class Keys:
    """The store's key names under one prefix."""

    __slots__ = ("p",)

    def __init__(self, prefix: str) -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"a Redis key prefix may not contain braces (they are hash tags): {prefix!r}")
        self.p = prefix

    def state(self, indicator_id: str) -> str:
        return f"{self.p}{shard_tag(indicator_id)}i:{_uuid(indicator_id)}"

    def submission(self, indicator_id: str, submission_id: str) -> str:
        return f"{self.p}{shard_tag(indicator_id)}s:{submission_id}"

    def erased(self, indicator_id: str) -> str:
        return f"{self.p}{shard_tag(indicator_id)}erased:{_uuid(indicator_id)}"

    def stats(self, tag: str) -> str:
        return f"{self.p}{tag}stats"

    @property
    def global_stats(self) -> str:
        return f"{self.p}stats"

    def once(self, marker: str) -> tuple[str, str]:
        """The counted-once marker's key and the stats hash of its shard."""
        tag = text_tag(marker)
        return f"{self.p}{tag}x:{marker}", self.stats(tag)

    def cache(self, key: str) -> str:
        return f"{self.p}e:{key}"

    def marker(self, name: str) -> str:
        return f"{self.p}m:{name}"

    def registry(self, name: str) -> tuple[str, str]:
        """A registry's hash and its revision counter (one slot)."""
        return f"{self.p}{{{name}}}", f"{self.p}{{{name}}}:rev"

    @property
    def audit(self) -> str:
        return f"{self.p}audit"

    @property
    def layout(self) -> str:
        return f"{self.p}layout"
