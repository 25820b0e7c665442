"""Prometheus metrics: consumer lag and status per group, pipeline counters and latency from Redis.

Metric families are built by pure functions from a :class:`~pipeline.ops.timelag.LagSnapshot` and the
Redis stats hash (:func:`lag_metrics`, :func:`stats_metrics`), so they are tested without a broker.
:class:`Exporter` serves them: lag is sampled by a background thread every ``interval_s``
(a scrape never waits for Kafka), the Redis counters are read at scrape time (one HGETALL).

Names follow the Prometheus conventions: ``scamshare_`` prefix, counters end in ``_total``, durations in
``_seconds``. Lag families (labels ``group``, ``topic``, ``partition``)::

    scamshare_consumer_group_lag_messages       offset lag (end - committed), never negative
    scamshare_consumer_group_lag_seconds        time lag (absent until the sampler has points)
    scamshare_consumer_group_committed_offset
    scamshare_partition_end_offset              (topic, partition)
    scamshare_consumer_group_max_lag_seconds    (group)
    scamshare_consumer_group_status             (group, status) 1 for the group's status, 0 for the others

Counters from Redis: ``scamshare_received_total`` (accepted + rejected) and one family per declaration in
:data:`pipeline.state.counters.COUNTERS` (``_accepted_total``, ``_rejected_total{reason}``,
``_delivered_total{subscriber}``, ``_sightings_total{kind}``, ...); the histogram
``scamshare_processing_latency_seconds{stage="ingest"|"e2e"}``.
They are progress counters kept by the processors, exact for accepted/rejected/delivered (counted once
per submission or delivery).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pipeline.ops.lagstatus import SEVERITY, Status
from pipeline.state.counters import COUNTERS, labelled
from pipeline.state.latency import histogram

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from pipeline.ops.sampler import LagSampler
    from pipeline.ops.timelag import LagSnapshot

logger = logging.getLogger(__name__)

STAGES = ("ingest", "e2e")


def lag_metrics(snapshot: LagSnapshot) -> list[Metric]:
    """The lag families of one snapshot (see the module docstring)."""
    labels = ["group", "topic", "partition"]
    lag = GaugeMetricFamily(
        "scamshare_consumer_group_lag_messages", "Offset lag (end - committed).", labels=labels
    )
    seconds = GaugeMetricFamily("scamshare_consumer_group_lag_seconds", "Estimated time lag.", labels=labels)
    committed = GaugeMetricFamily(
        "scamshare_consumer_group_committed_offset", "Committed offset.", labels=labels
    )
    end = GaugeMetricFamily(
        "scamshare_partition_end_offset",
        f"End offset of the partition (source: {snapshot.source}).",
        labels=["topic", "partition"],
    )
    max_seconds = GaugeMetricFamily(
        "scamshare_consumer_group_max_lag_seconds", "Largest time lag of the group.", labels=["group"]
    )
    status = GaugeMetricFamily(
        "scamshare_consumer_group_status",
        "1 for the group's status (OK, WARN, REWIND, STALL, STOP, ERR), 0 for the others.",
        labels=["group", "status"],
    )
    ends_seen: set[tuple[str, int]] = set()
    for g in snapshot.groups:
        for p in g.partitions:
            row = p.lag
            values = [g.group, row.topic, str(row.partition)]
            lag.add_metric(values, row.lag)
            if p.lag_seconds is not None:
                seconds.add_metric(values, p.lag_seconds)
            if row.committed is not None:
                committed.add_metric(values, row.committed)
            if (row.topic, row.partition) not in ends_seen:
                ends_seen.add((row.topic, row.partition))
                end.add_metric([row.topic, str(row.partition)], row.end)
        if g.lag_seconds is not None:
            max_seconds.add_metric([g.group], g.lag_seconds)
        for s in SEVERITY:
            status.add_metric([g.group, s.value], 1.0 if g.status == s else 0.0)
    return [lag, seconds, committed, end, max_seconds, status]


def stats_metrics(stats: Mapping[str, int]) -> list[Metric]:
    """Pipeline counters and latency histograms from the Redis stats hash."""
    out: list[Metric] = []
    received = CounterMetricFamily("scamshare_received", "Messages read from the submissions topic.")
    received.add_metric([], stats.get("accepted", 0) + stats.get("rejected", 0))
    out.append(received)
    for spec in COUNTERS:
        name = f"scamshare_{spec.metric}"
        if spec.label is None:
            family = CounterMetricFamily(name, spec.help)
            family.add_metric([], stats.get(spec.field, 0))
        else:
            family = CounterMetricFamily(name, spec.help, labels=[spec.label])
            for value, count in labelled(stats, spec):
                family.add_metric([value], count)
        out.append(family)
    latency = HistogramMetricFamily(
        "scamshare_processing_latency_seconds",
        "Producer send to indicators topic (ingest) and to subscriber feed (e2e).",
        labels=["stage"],
    )
    for stage in STAGES:
        buckets, sum_ms, _count = histogram(stats, stage)
        latency.add_metric([stage], [(le, float(n)) for le, n in buckets], sum_value=sum_ms / 1000)
    out.append(latency)
    return out


class PipelineCollector(Collector):
    """Yields the lag families of the latest snapshot and the counters read from Redis at scrape time."""

    def __init__(
        self,
        snapshot: Callable[[], LagSnapshot | None],
        stats: Callable[[], Mapping[str, int]] | None,
        sampler_health: Callable[[], tuple[float, float, int]] = lambda: (0.0, 0.0, 0),
    ) -> None:
        self._snapshot = snapshot
        self._stats = stats
        self._health = sampler_health

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        if snap is not None:
            yield from lag_metrics(snap)
        last, duration, errors = self._health()
        yield GaugeMetricFamily(
            "scamshare_lag_sample_timestamp_seconds", "When lag was last sampled (unix time).", value=last
        )
        yield GaugeMetricFamily(
            "scamshare_lag_sample_duration_seconds", "How long the last lag sample took.", value=duration
        )
        yield CounterMetricFamily("scamshare_lag_sample_errors", "Lag samples that failed.", value=errors)
        if self._stats is None:
            return
        up = GaugeMetricFamily("scamshare_redis_up", "1 when the Redis stats could be read.")
        try:
            stats = self._stats()
        except redis.RedisError as exc:
            logger.warning("reading stats failed error=%s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from stats_metrics(stats)


def redis_stats_reader(client: redis.Redis, keys: Sequence[str]) -> Callable[[], dict[str, int]]:
    """A function reading and summing the stats hashes ``keys`` (the plain one and one per shard:
    :meth:`pipeline.state.redis_store.RedisStore.stats_keys`), in one round trip."""

    def read() -> dict[str, int]:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            hashes = pipe.execute()
        out: dict[str, int] = {}
        for raw in hashes:
            for k, v in raw.items():
                name = k.decode() if isinstance(k, bytes) else str(k)
                out[name] = out.get(name, 0) + int(v)
        return out

    return read


class Exporter:
    """Serves /metrics on ``port`` and samples lag every ``interval_s`` seconds in a background thread.

    ``port=0`` picks a free port (:attr:`port` tells which). :meth:`stop` stops both.
    """

    def __init__(
        self,
        sampler: LagSampler,
        *,
        stats: Callable[[], Mapping[str, int]] | None = None,
        registry: CollectorRegistry | None = None,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._sampler = sampler
        self._interval = interval_s
        self._clock = clock
        self._snapshot: LagSnapshot | None = None
        self._last = 0.0
        self._duration = 0.0
        self._errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: WSGIServer | None = None
        self.registry.register(PipelineCollector(lambda: self._snapshot, stats, self._health))

    def _health(self) -> tuple[float, float, int]:
        return self._last, self._duration, self._errors

    @property
    def snapshot(self) -> LagSnapshot | None:
        """The latest lag snapshot (None before the first sample)."""
        return self._snapshot

    def sample_once(self) -> None:
        """Take one lag sample now (errors are logged and counted, never raised)."""
        started = time.monotonic()
        try:
            self._snapshot = self._sampler.sample()
            self._last = self._clock()
        except Exception as exc:  # noqa: BLE001  (any broker/Redis failure: keep serving, count it)
            self._errors += 1
            logger.warning("lag sample failed error=%s", exc)
        self._duration = time.monotonic() - started

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self._interval)

    def start(self, port: int, addr: str = "127.0.0.1") -> int:
        """Start serving and sampling; returns the port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        self._thread = threading.Thread(target=self._run, name="scamshare-lag-sampler", daemon=True)
        self._thread.start()
        return self.port

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_port)

    def stop(self) -> None:
        """Stop the sampler thread and the HTTP server."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def status_code(status: Status) -> int:
    """Severity of a status (0 OK … 5 ERR), for places that want one number."""
    return SEVERITY[status]
