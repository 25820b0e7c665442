"""The Redis key layout's version: the check every worker makes before it starts, and the migration.

Layout 1 (until this one) had no hash tags: ``p i:<uuid>``, ``p erased:<uuid>``, ``p s:<submission>``,
one ``p stats``, ``p subs`` / ``p subs:rev``, ``p orgs`` / ``p orgs:rev``. Layout 2
(:mod:`pipeline.state.redis_keys`) tags every indicator key with its shard. Code of layout 2 reading a Redis
of layout 1 would find no state and re-publish every indicator as new, so a worker refuses to start there
(:func:`check_layout`) until ``scamshare state migrate`` (:func:`migrate_layout`) has renamed the keys:

- states, erasure markers and sighting marks (they name their indicator) move into their shard;
- ``p stats`` stays: it is layout 2's plain counters hash, summed with the per-shard ones;
- the registries move to ``p {subs}`` / ``p {orgs}`` with their revisions;
- a report's submission mark ``p s:<submission>`` does not name its indicator, so it cannot move: it is left
  to expire (its TTL is the dedup window). Stop the producers' replays — drain the input topics, stop the
  workers — before migrating; a report re-sent after it within the window is merged (and counted) again.
- count-once markers of rejects (``p x:...``) are left to expire likewise.

The migration runs on one Redis (layout 1 never ran on a cluster), with the workers stopped; it is
idempotent (RENAMENX: a key already moved, or written by layout 2, is kept and the old one reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.exceptions import RedisClusterException, ResponseError

from pipeline.errors import ConfigError
from pipeline.state.redis_keys import Keys
from pipeline.state.redis_store import LAYOUT, RedisStore, glob_escape

__all__ = ["LayoutError", "MigrationReport", "check_layout", "check_mode", "migrate_layout"]


class LayoutError(ConfigError):
    """Redis holds an earlier key layout than this code writes."""


@dataclass
class MigrationReport:
    moved: dict[str, int] = field(default_factory=dict)
    #: keys whose new name existed already (kept; the old key was left in place)
    conflicts: list[str] = field(default_factory=list)
    layout: int = LAYOUT

    def to_json(self) -> dict[str, object]:
        return {"layout": self.layout, "moved": self.moved, "conflicts": self.conflicts}


async def _layout_1_present(store: RedisStore) -> bool:
    p = store.keys.p
    return bool(await store.client.exists(f"{p}subs", f"{p}orgs", f"{p}subs:rev", f"{p}orgs:rev"))


async def check_mode(store: RedisStore) -> None:
    """Raise :class:`LayoutError` when the client and the server disagree about Redis Cluster: a cluster
    client on a server without cluster mode cannot start, and a plain client on a cluster node would get
    MOVED for most keys mid-run. A server that refuses ``INFO cluster`` (some managed ones) is not asked."""
    if store.is_cluster:
        try:
            await store.client.initialize()
        except RedisClusterException as exc:
            raise LayoutError(
                "SCAMSHARE_REDIS_CLUSTER is set, but the Redis at redis_url is not a Redis Cluster node "
                f"({exc}): unset it for a single Redis (or Sentinel), or give a node of the cluster"
            ) from exc
        return
    try:
        info = await store.client.info("cluster")
    except ResponseError:
        return
    if int(info.get("cluster_enabled", 0)):
        raise LayoutError(
            "the Redis at redis_url is a Redis Cluster node: set SCAMSHARE_REDIS_CLUSTER=true, so that "
            "every key goes to the primary of its slot"
        )


async def check_layout(store: RedisStore) -> None:
    """Check the Redis mode (:func:`check_mode`), then record the layout on a Redis that has none (a fresh
    one), or raise :class:`LayoutError` when it holds an earlier layout's keys; a later layout than this
    code's is refused too (fail closed)."""
    await check_mode(store)
    r, key = store.client, store.keys.layout
    found = await r.get(key)
    if found is None:
        if await _layout_1_present(store):
            raise LayoutError(
                f"Redis (prefix {store.keys.p!r}) holds key layout 1 and this worker writes layout {LAYOUT}: "
                "stop every worker, then run `scamshare state migrate` (README, Data formats)"
            )
        await r.set(key, str(LAYOUT), nx=True)
        return
    if int(found) != LAYOUT:
        raise LayoutError(
            f"Redis (prefix {store.keys.p!r}) holds key layout {int(found)}; this code writes {LAYOUT}"
        )


async def migrate_layout(store: RedisStore) -> MigrationReport:
    """Move layout 1's keys to layout 2 (module docstring); returns what moved."""
    if store.is_cluster:
        raise LayoutError("layout 1 never ran on Redis Cluster: there is nothing to migrate")
    r, k, report = store.client, store.keys, MigrationReport()
    p = k.p

    async def move(old: bytes | str, new: str, kind: str) -> None:
        if not await r.exists(old):  # moved already (RENAMENX of a missing key is an error)
            return
        if await r.renamenx(old, new):
            report.moved[kind] = report.moved.get(kind, 0) + 1
        else:
            report.conflicts.append(old.decode() if isinstance(old, bytes) else old)

    for kind, old_prefix, new_of in (
        ("states", f"{p}i:", k.state),
        ("erasure markers", f"{p}erased:", k.erased),
    ):
        async for old in r.scan_iter(match=glob_escape(old_prefix) + "*", count=1000):
            uuid = old.decode()[len(old_prefix) :]
            await move(old, new_of(f"indicator--{uuid}"), kind)
    sighting = f"{p}s:sighting:"
    async for old in r.scan_iter(match=glob_escape(sighting) + "*", count=1000):
        mark = old.decode()[len(f"{p}s:") :]  # sighting:<org>:<indicator id>:<kind>
        parts = mark.split(":")
        if len(parts) == 4:
            await move(old, k.submission(parts[2], mark), "sighting marks")
    for name in ("subs", "orgs"):
        key, rev = Keys(p).registry(name)
        await move(f"{p}{name}", key, f"registry {name}")
        await move(f"{p}{name}:rev", rev, f"registry {name}")
    await r.set(k.layout, str(LAYOUT))
    return report
