"""What the worker's agents share: clients created on first use inside the worker, and step factories."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from confluent_kafka import Producer

from pipeline.canon import phone, suffixes
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.kafka.emit import KafkaEmitter
from pipeline.processors.allowlist import load_allowlist
from pipeline.processors.enrich import Enricher, default_enrichers, load_config
from pipeline.processors.score import ScoreModel
from pipeline.state.quotas import RedisQuotas
from pipeline.state.redis_layout import check_layout
from pipeline.state.redis_store import RedisStore
from pipeline.wire.limits import Limits
from pipeline.worker.admission import Admission
from pipeline.worker.ingest import IngestStep
from pipeline.worker.online import Guarded, build_online
from pipeline.worker.registry import Registry
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

#: How often an agent asks again whether Redis is reachable before its first batch.
VERIFY_RETRY_S = 1.0


@dataclass
class Runtime:
    """Clients the agents share, created on first use inside the worker (not at app construction)."""

    settings: Settings
    model: ScoreModel | None = None
    _store: RedisStore | None = None
    _registry: Registry | None = None
    _producers: list[Producer] = field(default_factory=list)
    #: Each registered producer's trust, kept current by the registry; the score model reads it.
    trust: dict[str, float] = field(default_factory=dict)
    #: Each organisation's (sector, country), kept current by the registry, for the diversity option.
    profiles: dict[str, tuple[str, str]] = field(default_factory=dict)
    _admission: Admission | None = None
    _verified: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        # Every new phone number's facts are read: load the carrier and geocoder data with the worker, not
        # inside its first batches (the CLI did; the in-process demo and benchmark worker paid ~0.6 s there),
        # and the Public Suffix List every new domain, URL and e-mail address is split with (about 0.1 s).
        phone.preload()
        suffixes.preload()
        if self.model is None:
            # Only registered organisations' reports ever reach the score, each with its registered trust.
            s = self.settings
            self.model = ScoreModel(
                trust=self.trust, default_trust=0.0, profiles=self.profiles,
                min_corroboration=s.min_corroboration, diversity=s.corroboration_diversity,
                fp_quorum=s.fp_quorum, state_grace_days=s.state_grace_days,
            )  # fmt: skip

    def admission(self) -> Admission | None:
        """The organisations' quotas, shared by the steps (None when ``quotas_enforced`` is off)."""
        if not self.settings.quotas_enforced:
            return None
        if self._admission is None:
            store = self.store()
            quotas = RedisQuotas(store.client, self.settings.redis_key_prefix)
            self._admission = Admission(quotas, max_held=self.settings.max_held_per_org)
        return self._admission

    def registry(self) -> Registry:
        """The organisation registry all agents share (one refresh serves them all)."""
        if self._registry is None:
            self._registry = Registry(
                self.store(),
                refresh_s=min(1.0, self.settings.registry_refresh_s),
                trust=self.trust,
                profiles=self.profiles,
            )
        return self._registry

    @property
    def score_model(self) -> ScoreModel:
        assert self.model is not None
        return self.model

    def store(self) -> RedisStore:
        if self._store is None:
            if self.settings.redis_url_value() is None:
                raise RuntimeError("redis_url is not configured")
            self._store = RedisStore.from_settings(self.settings, dedup_ttl_s=self.settings.dedup_window_s)
        return self._store

    def emitter(self) -> KafkaEmitter:
        from pipeline.kafka.clients import build_producer  # noqa: PLC0415

        producer = build_producer(self.settings)
        self._producers.append(producer)
        return KafkaEmitter(producer)

    def ingest_step(self) -> IngestStep:
        s = self.settings
        return IngestStep(
            self.store(),
            self.emitter(),
            s.topics,
            self.score_model,
            self.limits(),
            allowlist=load_allowlist(s.allowlist_file),
            enrichers=self._enrichers(),
            online=self._online(),
            enrichment_ttl_s=s.enrichment_ttl_s,
            registry=self.registry(),
            admission=self.admission(),
        )

    def versions(self) -> VersionPublisher:
        """A publisher of indicator versions with its own producer (sightings agent, decay sweep)."""
        s = self.settings
        return VersionPublisher(
            self.store(), self.emitter(), s.topics, self.score_model, self._enrichers(), self._online(),
            s.enrichment_ttl_s,
        )  # fmt: skip

    def _enrichers(self) -> list[Enricher]:
        s = self.settings
        return default_enrichers(load_config(s.brands_file, s.hosts_file))

    def _online(self) -> list[Guarded]:
        s = self.settings
        return build_online(list(s.online_enrichers), s.online_timeout_s, s.rdap_url)

    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            max_bytes=s.max_message_bytes, max_objects=s.max_objects_per_bundle, max_depth=s.max_json_depth
        )

    async def existing_topics(self, prefix: str) -> set[str]:
        """Names of the topics that exist and start with ``prefix`` (an unnamed metadata request)."""
        from pipeline.kafka.clients import build_admin  # noqa: PLC0415
        from pipeline.kafka.topics import list_topics  # noqa: PLC0415

        admin = build_admin(self.settings)
        return set(await asyncio.get_running_loop().run_in_executor(None, list_topics, admin, prefix))

    async def verify_redis(self) -> None:
        """Check that this Redis is one the worker may write — its cluster mode and key layout
        (:func:`pipeline.state.redis_layout.check_layout`) — retrying while Redis is away, then let the agents
        start (:meth:`verified`). A worker started while Redis refused it (the CLI's own check could not
        run) so still refuses an earlier layout or the wrong mode: :class:`~pipeline.errors.ConfigError`
        is raised, in the app task that runs this, which stops the worker with nothing read."""
        while not self._verified.is_set():
            try:
                await check_layout(self.store())
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001  (Redis away or refusing us: ask again)
                logger.warning("Redis not checked yet, retrying: %r", exc)
                await asyncio.sleep(VERIFY_RETRY_S)
                continue
            self._verified.set()

    async def verified(self) -> None:
        """Return once :meth:`verify_redis` passed: every agent awaits it before its first batch."""
        await self._verified.wait()

    async def ensure_feeds(self, names: list[str]) -> None:
        from pipeline.kafka.clients import build_admin  # noqa: PLC0415
        from pipeline.kafka.topics import ensure_topics, feed_topic_spec  # noqa: PLC0415

        admin = build_admin(self.settings)
        specs = [feed_topic_spec(self.settings, n) for n in names]
        await asyncio.get_running_loop().run_in_executor(None, lambda: ensure_topics(admin, specs, 30.0))

    async def close(self) -> None:
        """Flush producers and close Redis; call after the app stopped (agents no longer running).

        Skipping it loses nothing: unacknowledged input is re-read and re-processed idempotently.
        """
        producers, self._producers = self._producers, []
        for producer in producers:
            await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10)
        store, self._store = self._store, None
        if store is not None:
            await store.close()
