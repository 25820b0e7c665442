"""What the gateway's routes share: stores, the registry, the score model, the Kafka sender, the clock.

Built once per process from the settings (:func:`build_services`, at start-up), or given to
:func:`pipeline.gateway.app.create_gateway` whole by tests (in-memory stores, no broker). Constructing does
no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from pipeline.config import Settings
from pipeline.processors.score import ScoreModel
from pipeline.state.apikeys import ApiKeyStore, RedisApiKeys
from pipeline.state.collections import CollectionStore, RedisCollections
from pipeline.state.ratelimit import RateLimiter, RedisRateLimiter
from pipeline.state.redis_client import redis_from_url
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Store
from pipeline.stix.times import Clock, utc_now
from pipeline.worker.registry import Registry

from .sender import KafkaSender


@dataclass
class Services:
    settings: Settings
    store: Store
    keys: ApiKeyStore
    limiter: RateLimiter
    collections: CollectionStore
    registry: Registry
    model: ScoreModel
    #: None: no broker configured (submissions answer 503)
    sender: KafkaSender | None = None
    now: Clock = utc_now
    redis: aioredis.Redis | None = None

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    async def close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        if self.redis is not None:
            await self.redis.aclose()


def score_model(settings: Settings, registry: Registry) -> ScoreModel:
    """The worker's score model (pipeline.worker.runtime), trusting each organisation as registered."""
    s = settings
    return ScoreModel(
        trust=registry.trust, default_trust=0.0, profiles=registry.profiles,
        min_corroboration=s.min_corroboration, diversity=s.corroboration_diversity,
        fp_quorum=s.fp_quorum, state_grace_days=s.state_grace_days,
    )  # fmt: skip


def build_services(settings: Settings, *, now: Callable[[], datetime] = utc_now) -> Services:
    """Redis-backed services for ``settings`` (a ConfigError-like ValueError without a Redis URL)."""
    url = settings.redis_url_value()
    if url is None:
        raise ValueError("the gateway needs Redis: set SCAMSHARE_REDIS_URL or --redis-url")
    client = redis_from_url(url, cluster=settings.redis_cluster)
    prefix = settings.redis_key_prefix
    store = RedisStore(client, prefix=prefix, dedup_ttl_s=settings.dedup_window_s)
    registry = Registry(store, refresh_s=min(1.0, settings.registry_refresh_s))
    sender = None
    if settings.bootstrap:
        from pipeline.kafka.clients import build_producer  # noqa: PLC0415

        timeout_ms = int(settings.gateway_ack_timeout_s * 1000)
        sender = KafkaSender(build_producer(settings, **{"message.timeout.ms": timeout_ms}))
    return Services(
        settings=settings, store=store, keys=RedisApiKeys(client, prefix),
        limiter=RedisRateLimiter(client, prefix), collections=RedisCollections(client, prefix),
        registry=registry, model=score_model(settings, registry), sender=sender, now=now, redis=client,
    )  # fmt: skip
