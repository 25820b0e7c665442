"""A lag sampler wired to its history: in Redis when there is one (shared by ``lag`` and the exporter)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import orjson

from pipeline.config import Settings
from pipeline.identity.acls import reader_group
from pipeline.kafka.clients import build_admin
from pipeline.ops.lag import EndSource
from pipeline.ops.lagstatus import StatusRules
from pipeline.ops.sampler import LagSampler, TimeSource
from pipeline.ops.timelag import History, LagHistory, MemoryHistory
from pipeline.state.redis_client import sync_redis_from_url
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription


@contextlib.contextmanager
def open_sampler(
    settings: Settings,
    source: EndSource,
    window_s: float,
    slo_s: float | None,
    time_source: TimeSource = "interpolated",
) -> Iterator[LagSampler]:
    """A sampler with its history in Redis when there is one (shared with the exporter), else in memory."""
    url = settings.redis_url_value()
    redis_history = (
        LagHistory.from_url(url, prefix=settings.redis_key_prefix, cluster=settings.redis_cluster)
        if url
        else None
    )
    history: History = redis_history if redis_history is not None else MemoryHistory()
    rules = StatusRules(window_s=window_s, min_span_s=min(60.0, window_s / 2), err_lag_seconds=slo_s)
    try:
        yield LagSampler(
            settings,
            build_admin(settings),
            history,
            source=source,
            rules=rules,
            subscribers=lambda: subscriber_topics(settings),
            time_source=time_source,
        )
    finally:
        if redis_history is not None:
            redis_history.close()


def subscriber_topics(settings: Settings) -> Mapping[str, str]:
    """Reader group (``<org>.sub.<id>``) → feed topic, from the subscriptions in Redis (none without it)."""
    url = settings.redis_url_value()
    if not url:
        return {}
    key = RedisStore.from_url(url, prefix=settings.redis_key_prefix).subs_key  # no I/O: only the key name
    client = sync_redis_from_url(url, cluster=settings.redis_cluster)
    try:
        raw = client.hgetall(key)
    finally:
        client.close()
    subs = [Subscription.model_validate(orjson.loads(v)) for v in raw.values()]
    return {reader_group(s.organisation, s.id): s.topic(settings.topic_prefix) for s in subs}
