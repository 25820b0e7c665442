"""The faust app: thin agents that hand batches to the processing steps.

``create_app(settings)`` builds a fresh app (no module-level app, no network I/O at construction). Three
agents, all in the consumer group ``settings.app_id``:

- ``ingest``  on ``scam.submissions``: validate, canonicalise, merge, score → ``scam.indicators`` (+ DLQ)
- ``sightings`` on ``scam.sightings``: true/false positives → score, revocation → ``scam.indicators``
- ``fanout``  on ``scam.indicators``: route each version → ``scam.feed.<subscriber>``

and a leader-only timer, ``decay``, that re-scores a slice of the stored indicators every
``decay_interval_s`` and publishes what decay changed (a lower band, or a revocation).

Each takes batches with ``take_events`` and returns to the loop (which acks, and so lets faust commit) only
after the step finished: outputs acknowledged by the broker, state committed in Redis. A batch that fails for
an infrastructure reason is retried with back-off — the steps are idempotent — so a broker or Redis outage
shows up as lag, not loss; a message our own code fails on is isolated and dead-lettered
(:mod:`pipeline.worker.poison`) so it cannot stall the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import faust
from confluent_kafka import Producer

from pipeline.config import Settings
from pipeline.kafka.emit import Emitter, KafkaEmitter
from pipeline.kafka.faust_transport import APP_ATTRIBUTE
from pipeline.processors.allowlist import load_allowlist
from pipeline.processors.enrich import Enricher, default_enrichers, load_config
from pipeline.processors.score import ScoreModel
from pipeline.state.redis_store import RedisStore
from pipeline.state.store import Store
from pipeline.subscribers.deliver import DeliverStep
from pipeline.wire.headers import header_map
from pipeline.wire.limits import Limits
from pipeline.wire.message import InMessage
from pipeline.worker.decay import DecaySweep
from pipeline.worker.ingest import IngestStep
from pipeline.worker.online import Guarded, build_online
from pipeline.worker.poison import INFRASTRUCTURE_ERRORS, process_isolating
from pipeline.worker.sightings import SightingStep
from pipeline.worker.versions import VersionPublisher

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: A decay tick that fails for these is simply tried again on the next tick.
DECAY_RETRIED: tuple[type[BaseException], ...] = (*INFRASTRUCTURE_ERRORS, RuntimeError)


def faust_broker_url(bootstrap: str, scheme: str = "kafka") -> str:
    """``host1:9092,host2:9092`` → ``kafka://host1:9092;kafka://host2:9092``."""
    return ";".join(f"{scheme}://{h.strip()}" for h in bootstrap.split(",") if h.strip())


def faust_credentials(options: dict[str, str], sasl_password: str | None) -> Any:
    """Map the librdkafka security options to faust (aiokafka) credentials; None for PLAINTEXT."""
    protocol = options.get("security.protocol", "PLAINTEXT").upper()
    if protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if protocol in {"SSL", "SASL_SSL"}:
        import ssl  # noqa: PLC0415

        ssl_context = ssl.create_default_context(cafile=options.get("ssl.ca.location"))
        if "ssl.certificate.location" in options:
            ssl_context.load_cert_chain(options["ssl.certificate.location"], options.get("ssl.key.location"))
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=options.get("sasl.username"),
            password=sasl_password or options.get("sasl.password"),
            mechanism=options.get("sasl.mechanism", "PLAIN"),
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


def to_message(event: Any) -> InMessage:
    m = event.message
    value = m.value if isinstance(m.value, bytes) else bytes(m.value or b"")
    return InMessage(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        key=m.key if isinstance(m.key, bytes) or m.key is None else bytes(m.key),
        value=value,
        headers=header_map(m.headers),
        timestamp_ms=int(m.timestamp * 1000) if m.timestamp else None,
    )


async def retrying(what: str, fn: Callable[[], Awaitable[T]], *, max_delay_s: float = 10.0) -> T:
    """Run ``fn`` until it succeeds, backing off; safe only because the steps are idempotent."""
    delay = 0.2
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except asyncio.CancelledError:
            raise
        except Exception:  # retry *anything*: the alternative is acking input that was not processed
            logger.exception("%s failed (attempt %d), retrying in %.1fs", what, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay_s, delay * 2)


@dataclass
class Runtime:
    """Clients the agents share, created on first use inside the worker (not at app construction)."""

    settings: Settings
    model: ScoreModel = field(default_factory=ScoreModel)
    _store: RedisStore | None = None
    _producers: list[Producer] = field(default_factory=list)

    def store(self) -> RedisStore:
        if self._store is None:
            url = self.settings.redis_url_value()
            if url is None:
                raise RuntimeError("redis_url is not configured")
            self._store = RedisStore.from_url(
                url, prefix=self.settings.redis_key_prefix, dedup_ttl_s=self.settings.dedup_window_s
            )
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
            self.model,
            self.limits(),
            allowlist=load_allowlist(s.allowlist_file),
            enrichers=self._enrichers(),
            online=self._online(),
            enrichment_ttl_s=s.enrichment_ttl_s,
        )

    def versions(self) -> VersionPublisher:
        """A publisher of indicator versions with its own producer (sightings agent, decay sweep)."""
        s = self.settings
        return VersionPublisher(
            self.store(), self.emitter(), s.topics, self.model, self._enrichers(), self._online(),
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


async def wait_until_assigned(
    app: faust.App, topics: Sequence[str], partitions: int, timeout_s: float
) -> None:
    """Wait until this worker owns every partition of ``topics`` and no rebalance is in progress.

    ``app.start()`` returns before the consumer group has settled; a caller that measures latency from the
    first message (the demo, tests) waits here so it measures processing, not the group join.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    want = len(topics) * partitions
    while True:
        owned = [tp for tp in app.consumer.assignment() if tp.topic in topics]
        if len(owned) >= want and not app.rebalancing:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"worker owns {len(owned)}/{want} partitions after {timeout_s:.0f}s")
        await asyncio.sleep(0.05)


def create_app(settings: Settings, *, model: ScoreModel | None = None) -> faust.App:
    """Build the faust app for these settings."""
    if not settings.bootstrap:
        raise ValueError("settings.bootstrap is required to build the worker app")
    datadir = settings.state_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)  # faust fails to start when it is missing
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(settings.bootstrap),
        # Our consumer transport takes the fetch wait from settings (pipeline/kafka/faust_transport.py).
        broker_consumer=faust_broker_url(settings.bootstrap, scheme="scamshare"),
        broker_credentials=faust_credentials(
            settings.kafka_options,
            settings.sasl_password.get_secret_value() if settings.sasl_password else None,
        ),
        store="memory://",
        # faust keeps table/state files here; without it every app writes <app_id>-data/ into the cwd.
        datadir=str(datadir),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,  # `scamshare topics create` owns topic configuration
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_ms / 3000),
        broker_commit_every=settings.worker_batch_size,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=settings.worker_web_port is not None,
        web_port=settings.worker_web_port or 6066,
        web_bind="127.0.0.1",
        stream_wait_empty=False,
    )
    setattr(app, APP_ATTRIBUTE, settings.consumer_fetch_max_wait_ms)
    runtime = Runtime(
        settings, model or ScoreModel(trust=settings.producer_trust, default_trust=settings.default_trust)
    )
    topics = settings.topics
    submissions = app.topic(topics.submissions, key_serializer="raw", value_serializer="raw")
    indicators = app.topic(topics.indicators, key_serializer="raw", value_serializer="raw")
    sightings = app.topic(topics.sightings, key_serializer="raw", value_serializer="raw")
    batch, within = settings.worker_batch_size, settings.worker_batch_within_s

    async def batches(stream: faust.StreamT[Any]) -> AsyncIterator[Sequence[InMessage]]:
        # take_events (faust-streaming >= 0.10) is missing from StreamT's type stubs.
        async for events in cast(Any, stream).take_events(batch, within=within):
            yield [to_message(e) for e in events]

    async def run(
        name: str,
        stream: faust.StreamT[Any],
        *,
        process: Callable[[Sequence[InMessage]], Awaitable[object]],
        store: Store,
        emitter: Emitter,
        poison_counters: dict[str, int],
    ) -> None:
        """The loop every agent runs: batch, process (isolating poison), retry infrastructure failures."""
        async for msgs in batches(stream):
            result = await retrying(
                name,
                lambda msgs=msgs: process_isolating(  # type: ignore[misc]
                    process, msgs, stage=name, emitter=emitter, store=store, dlq_topic=topics.dlq,
                    counters=poison_counters,
                ),
            )  # fmt: skip
            logger.debug("%s batch=%d %s", name, len(msgs), result)

    @app.agent(submissions, name="ingest")
    async def ingest(stream: faust.StreamT[Any]) -> None:
        step = runtime.ingest_step()
        # Counted as rejected, so received = accepted + rejected + allowlisted still holds.
        poison = {"rejected": 1, "rejected:processing_error": 1}
        await run(
            "ingest",
            stream,
            process=step.process,
            store=step.store,
            emitter=step.emitter,
            poison_counters=poison,
        )

    @app.agent(sightings, name="sightings")
    async def sightings_agent(stream: faust.StreamT[Any]) -> None:
        v = runtime.versions()
        step = SightingStep(v)
        await run(
            "sightings",
            stream,
            process=step.process,
            store=v.store,
            emitter=v.emitter,
            poison_counters={"sightings_errors": 1},
        )

    sweep: list[DecaySweep] = []

    @app.timer(interval=settings.decay_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def decay() -> None:
        # One worker (the leader) walks the indicators a slice per tick; a failed tick is retried next tick.
        if not sweep:
            sweep.append(DecaySweep(runtime.versions(), batch=settings.decay_batch))
        try:
            result = await sweep[0].tick()
        except DECAY_RETRIED as exc:
            logger.warning("decay tick failed, next tick retries: %r", exc)
            return
        logger.debug("decay tick %s", result)

    @app.agent(indicators, name="fanout")
    async def fanout(stream: faust.StreamT[Any]) -> None:
        step = DeliverStep(runtime.store(), runtime.emitter(), topics, runtime.ensure_feeds)
        await run(
            "fanout",
            stream,
            process=step.process,
            store=step.store,
            emitter=step.emitter,
            poison_counters={"fanout_errors": 1},
        )

    app.scamshare_runtime = runtime  # type: ignore[attr-defined]
    return app
