"""Time lag: how many seconds behind a consumer is, estimated from (time, end offset) points.

The sampler records, per partition, the end offset it saw and when (:class:`LagHistory`, in Redis, bounded).
The committed offset ``c`` of a group was the partition's end offset at some moment ``T``; the message at
``c`` is at most ``now - T`` seconds old, and that is the time lag (kafka-lag-exporter's method).

``T`` is found by linear interpolation between the two points around ``c`` (:func:`offset_time`). When ``c``
is older than every point, the rate over the whole window is extrapolated backwards; when the window shows
no production at all, the oldest point's time is used, a lower bound. The estimate is as fine as the
sampling interval: a partition sampled every 10 s has a time lag known to about 10 s.

:class:`LagHistory` also keeps each group's (time, committed, end) samples for the status rules
(:mod:`pipeline.ops.lagstatus`). Both are sorted sets under ``<redis_key_prefix>lag:``, capped at
``max_points`` members and expiring ``ttl_s`` after the last write, so deleted topics and groups age out.
A run of equal values keeps only its first and last point, so a quiet partition does not push its history
out of the window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from pipeline.config import default
from pipeline.ops.lag import UNKNOWN_GROUP, EndSource, GroupLag, PartitionLag
from pipeline.ops.lagstatus import DEFAULT_RULES, CommitSample, Status, StatusRules, partition_status, worst
from pipeline.state.redis_client import sync_redis_from_url

logger = logging.getLogger(__name__)

DEFAULT_PREFIX: str = default("redis_key_prefix")


TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class EndPoint:
    """The end offset of a partition at a time (seconds since the epoch)."""

    at: float
    end: int


def monotone_tail(points: Sequence[EndPoint]) -> list[EndPoint]:
    """Points sorted by time, keeping only those after the last time the end offset went down.

    An end offset that drops means the topic was deleted and re-created: older points describe another log.
    """
    ordered = sorted(points, key=lambda p: p.at)
    start = 0
    for i in range(1, len(ordered)):
        if ordered[i].end < ordered[i - 1].end:
            start = i
    return ordered[start:]


def offset_time(points: Sequence[EndPoint], offset: int) -> float | None:
    """Estimated time at which the partition's end offset was ``offset``; None without points.

    >>> pts = [EndPoint(100.0, 0), EndPoint(110.0, 100)]
    >>> offset_time(pts, 50), offset_time(pts, 100)
    (105.0, 110.0)
    """
    pts = monotone_tail(points)
    if not pts:
        return None
    if offset >= pts[-1].end:
        return pts[-1].at
    below = [i for i, p in enumerate(pts) if p.end <= offset]
    if below:
        # The LAST point at or below the offset: the end was still there then, so the message came later.
        i = below[-1]
        a, b = pts[i], pts[i + 1]
        return a.at + (offset - a.end) * (b.at - a.at) / (b.end - a.end)
    first, last = pts[0], pts[-1]
    if last.end > first.end and last.at > first.at:
        rate = (last.end - first.end) / (last.at - first.at)
        return first.at - (first.end - offset) / rate
    return first.at  # no production seen: at least this old


def lag_seconds(
    points: Sequence[EndPoint], committed: int | None, end: int, now: float, start: int = 0
) -> float | None:
    """Seconds the consumer is behind: 0 when caught up, None when there is lag but no point to judge by.

    >>> lag_seconds([EndPoint(100.0, 0), EndPoint(110.0, 100)], committed=50, end=100, now=120.0)
    15.0
    """
    base = start if committed is None or committed < start else committed
    if base >= end:
        return 0.0
    at = offset_time(points, base)
    if at is None:
        return None
    return max(0.0, now - at)


class History(Protocol):
    """Where samples are kept: :class:`LagHistory` (Redis, shared) or :class:`MemoryHistory` (in process)."""

    def record_ends(self, ends: Mapping[TP, int], at: float) -> None: ...
    def record_commits(self, group: str, samples: Mapping[TP, CommitSample]) -> None: ...
    def end_points(self, tps: Sequence[TP]) -> dict[TP, list[EndPoint]]: ...
    def commit_history(self, group: str, tps: Sequence[TP]) -> dict[TP, list[CommitSample]]: ...


class MemoryHistory:
    """:class:`History` in this process's memory (no Redis: time lag only from this process's samples)."""

    def __init__(self, max_points: int = 240) -> None:
        self._max = max_points
        self._ends: dict[TP, list[EndPoint]] = {}
        self._commits: dict[tuple[str, TP], list[CommitSample]] = {}

    def record_ends(self, ends: Mapping[TP, int], at: float) -> None:
        for tp, end in ends.items():
            points = self._ends.setdefault(tp, [])
            points.append(EndPoint(at, end))
            del points[: -self._max]

    def record_commits(self, group: str, samples: Mapping[TP, CommitSample]) -> None:
        for tp, sample in samples.items():
            history = self._commits.setdefault((group, tp), [])
            history.append(sample)
            del history[: -self._max]

    def end_points(self, tps: Sequence[TP]) -> dict[TP, list[EndPoint]]:
        return {tp: list(self._ends.get(tp, [])) for tp in tps}

    def commit_history(self, group: str, tps: Sequence[TP]) -> dict[TP, list[CommitSample]]:
        return {tp: list(self._commits.get((group, tp), [])) for tp in tps}


class LagHistory:
    """Bounded (time, end) points per partition and (time, committed, end) samples per group partition."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, max_points: int = 240, ttl_s: int = 86_400
    ) -> None:
        self._r = client
        self._p = f"{prefix}lag:"
        self._max = max(3, max_points)
        self._ttl = ttl_s

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, cluster: bool = False, **kwargs: Any
    ) -> LagHistory:
        return cls(sync_redis_from_url(url, cluster=cluster, decode_responses=False), prefix=prefix, **kwargs)

    def close(self) -> None:
        self._r.close()

    def end_key(self, tp: TP) -> str:
        return f"{self._p}end:{tp[0]}|{tp[1]}"

    def commit_key(self, group: str, tp: TP) -> str:
        return f"{self._p}commit:{group}|{tp[0]}|{tp[1]}"

    # -- writing ------------------------------------------------------------------------------------
    def record_ends(self, ends: Mapping[TP, int], at: float) -> None:
        """Add one end-offset point per partition, observed at ``at``."""
        self._append({self.end_key(tp): str(end) for tp, end in ends.items()}, at)

    def record_commits(self, group: str, samples: Mapping[TP, CommitSample]) -> None:
        """Add one commit sample per partition of ``group`` (each at its own ``at``)."""
        by_time: dict[float, dict[str, str]] = {}
        for tp, s in samples.items():
            committed = "" if s.committed is None else str(s.committed)
            by_time.setdefault(s.at, {})[self.commit_key(group, tp)] = f"{committed}|{s.end}|{s.start}"
        for at, values in by_time.items():
            self._append(values, at)

    def _append(self, values: Mapping[str, str], at: float) -> None:
        if not values:
            return
        keys = list(values)
        with self._r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrange(key, -2, -1)
            tails = pipe.execute()
        with self._r.pipeline(transaction=False) as pipe:
            for key, tail in zip(keys, tails, strict=True):
                value = values[key]
                tail_values = [_value_of(m) for m in tail]
                if len(tail_values) == 2 and tail_values[0] == tail_values[1] == value:
                    pipe.zrem(key, tail[-1])  # middle of a plateau: keep its first and last point only
                pipe.zadd(key, {f"{at!r}|{value}": at})
                pipe.zremrangebyrank(key, 0, -self._max - 1)
                pipe.expire(key, self._ttl)
            pipe.execute()

    # -- reading ------------------------------------------------------------------------------------
    def end_points(self, tps: Sequence[TP]) -> dict[TP, list[EndPoint]]:
        """Every stored end-offset point of each partition, oldest first."""
        raws = self._read([self.end_key(tp) for tp in tps])
        return {
            tp: [EndPoint(at, int(value)) for at, value in raw] for tp, raw in zip(tps, raws, strict=True)
        }

    def commit_history(self, group: str, tps: Sequence[TP]) -> dict[TP, list[CommitSample]]:
        """Every stored commit sample of ``group`` on each partition, oldest first."""
        raws = self._read([self.commit_key(group, tp) for tp in tps])
        out: dict[TP, list[CommitSample]] = {}
        for tp, raw in zip(tps, raws, strict=True):
            samples = []
            for at, value in raw:
                committed, end, start = value.split("|")
                samples.append(CommitSample(at, int(committed) if committed else None, int(end), int(start)))
            out[tp] = samples
        return out

    def _read(self, keys: Sequence[str]) -> list[list[tuple[float, str]]]:
        if not keys:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrange(key, 0, -1, withscores=True)
            raws = pipe.execute()
        return [[(float(score), _value_of(member)) for member, score in raw] for raw in raws]


def _value_of(member: bytes | str) -> str:
    text = member.decode() if isinstance(member, bytes) else member
    return text.split("|", 1)[1]


# --- the sampler ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionReport:
    """One partition of a group: its lag, time lag and status."""

    lag: PartitionLag
    lag_seconds: float | None
    status: Status
    reason: str

    def to_json(self) -> dict[str, Any]:
        p = self.lag
        return {
            "topic": p.topic,
            "partition": p.partition,
            "committed": p.committed,
            "start": p.start,
            "end": p.end,
            "lag": p.lag,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "status": self.status.value,
            "reason": self.reason,
            "labels": list(p.labels),
        }


@dataclass(frozen=True, slots=True)
class GroupReport:
    """One consumer group: total lag, the largest time lag and the worst status of its partitions."""

    group: str
    state: str
    note: str
    partitions: tuple[PartitionReport, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag.lag for p in self.partitions)

    @property
    def lag_seconds(self) -> float | None:
        known = [p.lag_seconds for p in self.partitions if p.lag_seconds is not None]
        return max(known) if known else None

    @property
    def status(self) -> Status:
        if self.note == UNKNOWN_GROUP:
            return Status.ERR  # asked for by name, but the cluster has no such group
        return worst(p.status for p in self.partitions)

    def to_json(self) -> dict[str, Any]:
        seconds = self.lag_seconds
        return {
            "group": self.group,
            "status": self.status.value,
            "lag": self.lag,
            "lag_seconds": None if seconds is None else round(seconds, 3),
            "state": self.state,
            "note": self.note,
            "partitions": [p.to_json() for p in self.partitions],
        }


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    """Every group's report at one moment, and how the end offsets were read."""

    at: float
    source: EndSource
    groups: tuple[GroupReport, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "end_offsets": self.source,
            "groups": [g.to_json() for g in self.groups],
        }


def evaluate(
    lags: Sequence[GroupLag],
    history: History,
    now: float,
    rules: StatusRules = DEFAULT_RULES,
    next_record_at: Mapping[TP, float] | None = None,
) -> tuple[GroupReport, ...]:
    """Record this sample in ``history``, then judge every partition against what ``history`` holds.

    ``next_record_at`` (seconds since the epoch, per partition): the broker timestamp of the first record a
    group has not consumed. Where given, the time lag is that record's age instead of the interpolation.
    """
    ends: dict[TP, int] = {}
    for g in lags:
        for p in g.partitions:
            ends[(p.topic, p.partition)] = p.end
    history.record_ends(ends, now)
    points = history.end_points(sorted(ends))
    reports: list[GroupReport] = []
    for g in lags:
        tps = [(p.topic, p.partition) for p in g.partitions]
        history.record_commits(
            g.group,
            {(p.topic, p.partition): CommitSample(now, p.committed, p.end, p.start) for p in g.partitions},
        )
        commits = history.commit_history(g.group, tps)
        rows = []
        for p, tp in zip(g.partitions, tps, strict=True):
            seconds = lag_seconds(points.get(tp, []), p.committed, p.end, now, p.start)
            if next_record_at and tp in next_record_at and p.lag > 0:
                seconds = max(0.0, now - next_record_at[tp])
            verdict = partition_status(commits[tp], now, rules, lag_seconds=seconds, active=g.active)
            rows.append(PartitionReport(p, seconds, verdict.status, verdict.reason))
        reports.append(GroupReport(g.group, g.state, g.note, tuple(rows)))
    return tuple(reports)
