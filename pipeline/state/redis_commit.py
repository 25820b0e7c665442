"""Packing a batch of compare-and-set commits into script calls (:data:`redis_lua.CAS_MANY`), per shard.

One call per indicator cost the client more than the server: redis-py packs each call's arguments and
parses each reply, about 7,000 calls per 10,000 reports. Grouped by shard tag, a batch of a thousand
reports is at most 64 calls (:data:`pipeline.state.redis_keys.SHARDS`), each touching one hash slot, so
it runs unchanged on Redis Cluster; on one Redis the batch is not split by shard (128 items a call). Each
item still commits or loses on its own revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.state.redis_fields import state_to_fields
from pipeline.state.redis_keys import Keys, script_groups, shard_tag
from pipeline.state.store import Commit

__all__ = ["ShardCall", "by_shard"]


class ShardCall:
    """One script call (one shard's, on a cluster): its keys, its arguments, and the positions of its commits
    in the batch."""

    __slots__ = ("args", "keys", "positions")

    def __init__(self, tag: str, keys: Keys, ttl_s: int) -> None:
        self.keys: list[str] = [keys.stats(tag)]
        self.args: list[str | bytes] = [str(ttl_s)]
        self.positions: list[int] = []

    def add(self, position: int, c: Commit, keys: Keys) -> None:
        ind = c.state.indicator_id
        fields = state_to_fields(c.state)
        counters = [x for name, inc in c.counters.items() if inc for x in (name, str(inc))]
        self.positions.append(position)
        self.keys.append(keys.state(ind))
        if c.expected_rev is None:  # a new state: refused if the indicator was erased (redis_lua.CAS_MANY)
            self.keys.append(keys.erased(ind))
        self.keys.extend(keys.submission(ind, s) for s in c.submission_ids)
        self.args += (
            "" if c.expected_rev is None else str(c.expected_rev),
            "1" if c.published else "0",
            "" if c.expire_at_ms is None else str(c.expire_at_ms),
            "1" if c.replace else "0",
            str(len(fields) // 2),
            str(len(c.submission_ids)),
            str(len(counters) // 2),
        )
        self.args += fields
        self.args += counters


def by_shard(commits: Sequence[Commit], keys: Keys, ttl_s: int, *, split: bool = True) -> list[ShardCall]:
    """The script calls of ``commits``: one per shard they touch, in the order each shard first appears;
    ``split=False`` (one Redis, not a cluster): :func:`~pipeline.state.redis_keys.script_groups` in order,
    each call's counters in its first item's shard hash (the counters are summed over them on read)."""
    groups = script_groups([c.state.indicator_id for c in commits], by_shard=split)
    calls: list[ShardCall] = []
    for group in groups:
        call = ShardCall(shard_tag(commits[group[0]].state.indicator_id), keys, ttl_s)
        for position in group:
            call.add(position, commits[position], keys)
        calls.append(call)
    return calls
