"""The lag sampler: one snapshot of every pipeline group's lag, time lag and status (``scamshare lag``,
the exporter). Time lag is interpolated from sampled end offsets (:mod:`pipeline.ops.timelag`), or, with
``time_source="broker"``, the broker timestamp of each group's next record (:mod:`pipeline.kafka.timestamps`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from confluent_kafka.admin import AdminClient

from pipeline.config import Settings
from pipeline.kafka.timestamps import records_at
from pipeline.ops.lag import EndSource, GroupLag, collect_lags, pipeline_groups
from pipeline.ops.lagstatus import DEFAULT_RULES, StatusRules
from pipeline.ops.timelag import TP, History, LagSnapshot, evaluate

#: How a time lag is found: interpolated from sampled end offsets, or the broker timestamp of the next record.
TimeSource = Literal["interpolated", "broker"]


def expected_groups(settings: Settings, reader_topics: Mapping[str, str]) -> dict[str, list[str]]:
    """The groups the pipeline should have: the processors' and each subscription reader's (group → feed)."""
    topics = settings.topics
    out = {settings.app_id: [topics.submissions, topics.indicators]}
    for group, topic in reader_topics.items():
        out[group] = [topic]
    return out


class LagSampler:
    """Takes a lag snapshot of the pipeline's groups, keeping its points in ``history``.

    ``subscribers`` returns subscriber id → feed topic (read on every sample, so new subscriptions show up).
    """

    def __init__(
        self,
        settings: Settings,
        admin: AdminClient,
        history: History,
        *,
        source: EndSource = "list-offsets",
        rules: StatusRules = DEFAULT_RULES,
        subscribers: Callable[[], Mapping[str, str]] = dict,
        clock: Callable[[], float] = time.time,
        time_source: TimeSource = "interpolated",
    ) -> None:
        self.settings = settings
        self.source = source
        self.time_source = time_source
        self.rules = rules
        self._admin = admin
        self._history = history
        self._subscribers = subscribers
        self._clock = clock

    def sample(self, group: str | None = None) -> LagSnapshot:
        """One snapshot of every pipeline group (or of ``group`` alone, pipeline group or not)."""
        expected = expected_groups(self.settings, self._subscribers())
        if group is not None:
            groups = {group: expected.get(group, [])}
        else:
            groups = pipeline_groups(self.settings, self._admin, expected)
        lags = collect_lags(self.settings, self._admin, groups, source=self.source)
        now = self._clock()
        at = self._next_record_times(lags) if self.time_source == "broker" else None
        return LagSnapshot(now, self.source, evaluate(lags, self._history, now, self.rules, at))

    def _next_record_times(self, lags: Sequence[GroupLag]) -> dict[TP, float]:
        """Broker timestamp (s) of the record at each lagging partition's committed offset."""
        positions = {
            (p.topic, p.partition): p.committed
            for g in lags
            for p in g.partitions
            if p.committed is not None and p.lag > 0 and p.partition >= 0
        }
        found = records_at(self.settings, positions)
        return {tp: r.timestamp_ms / 1000 for tp, r in found.items() if r.timestamp_ms is not None}
