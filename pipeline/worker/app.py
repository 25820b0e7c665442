"""The faust app: thin agents that hand batches to the processing steps.

``create_app(settings)`` builds a fresh app (no module-level app, no network I/O at construction). Three
agents, all in the consumer group ``settings.app_id``:

- ``ingest``  on ``scam.submissions``: validate, canonicalise, merge, score → ``scam.indicators`` (+ DLQ)
- ``sightings`` on ``scam.sightings``: true/false positives → score, revocation → ``scam.indicators``
- ``fanout``  on ``scam.indicators``: route each version → ``scam.feed.<subscriber>`` (and its TAXII
  collection in Redis)

and a leader-only timer, ``decay``, that re-scores a slice of the stored indicators every
``decay_interval_s`` and publishes what decay changed (a lower band, or a revocation).

Each takes batches with :func:`~pipeline.worker.batching.natural_batches` and returns to the loop (which
acks, and so lets faust commit) only after the step finished: outputs acknowledged by the broker, state
committed in Redis. A batch that fails for an infrastructure reason is retried with back-off — the steps are
idempotent — so a broker or Redis outage shows up as lag, not loss; a message our own code fails on is
isolated and dead-lettered (:mod:`pipeline.worker.poison`) so it cannot stall the stream.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import faust

from pipeline.config import Settings
from pipeline.kafka.emit import Emitter
from pipeline.kafka.faust_transport import APP_ATTRIBUTE
from pipeline.kafka.raw_schema import RawSchema
from pipeline.processors.score import ScoreModel
from pipeline.state.store import Store
from pipeline.subscribers.channels import kafka_channels
from pipeline.subscribers.deliver import DeliverStep
from pipeline.subscribers.taxii_channel import redis_taxii_channel
from pipeline.wire.headers import header_map
from pipeline.wire.message import InMessage
from pipeline.worker.batching import natural_batches
from pipeline.worker.heap import install_heap_freeze
from pipeline.worker.held import install_release_timer
from pipeline.worker.inputs import InputTopics
from pipeline.worker.poison import process_isolating
from pipeline.worker.redis_check import install_redis_check
from pipeline.worker.runtime import Runtime
from pipeline.worker.sightings import SightingStep
from pipeline.worker.timers import install_decay_timer, timer_retries

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


def hold_back(events: Sequence[Any]) -> None:
    """Keep faust from committing these events' offsets until :func:`release` says they were processed.

    faust commits a partition up to its highest contiguous offset whose message got its *final* ack, and
    gives a message that ack only once (``Message.acked``). faust's ``take_events`` acked a batch whenever
    its generator closed, and the stream closed it on shutdown while the batch could still be retrying,
    which committed past messages that were never processed. ``natural_batches`` acks nothing itself; a
    held message still looks acked already to anything in faust that would ack it, so such an ack is a
    no-op and the next owner of the partition reads it again.
    """
    for event in events:
        event.message.acked = True


async def release(stream: faust.StreamT[Any], events: Sequence[Any]) -> None:
    """The batch was processed: give its messages the final ack that lets faust commit them."""
    for event in events:
        event.message.acked = False
        await stream.ack(event)


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
        # Owned is not enough: after a rebalance faust fetches only once its flow is resumed (after recovery).
        if len(owned) >= want and not app.rebalancing and app.flow_control.is_active():
            return
        if loop.time() > deadline:
            raise TimeoutError(f"worker owns {len(owned)}/{want} partitions after {timeout_s:.0f}s")
        await asyncio.sleep(0.05)


async def batches(
    stream: faust.StreamT[Any], batch: int, within: float, gap: float
) -> AsyncGenerator[Sequence[InMessage], None]:
    """Batches of the stream's messages, acked only once the consumer of this generator asks for the next
    one (it finished the batch): a batch cut short by shutdown or an error is never committed."""
    async for events in natural_batches(stream, batch, within, min(gap, within)):
        hold_back(events)
        yield [to_message(e) for e in events]
        await release(stream, events)


async def run_agent(
    name: str,
    stream: faust.StreamT[Any],
    *,
    process: Callable[[Sequence[InMessage]], Awaitable[object]],
    store: Store,
    emitter: Emitter,
    poison_counters: dict[str, int],
    dlq_topic: str,
    batch: int,
    within: float,
    gap: float,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The loop every agent runs: batch, process (isolating poison), retry infrastructure failures.

    ``ready`` is awaited before the first message is read (the Redis checks of :meth:`Runtime.verified`)."""
    if ready is not None:
        await ready()
    batches_of = batches(stream, batch, within, gap)
    async for msgs in batches_of:
        try:
            result = await retrying(
                name,
                lambda msgs=msgs: process_isolating(  # type: ignore[misc]
                    process, msgs, stage=name, emitter=emitter, store=store, dlq_topic=dlq_topic,
                    counters=poison_counters,
                ),
            )  # fmt: skip
        except BaseException:
            # Shutdown (or anything else) cut the batch short: it stays held back, never committed.
            await batches_of.aclose()
            raise
        logger.debug("%s batch=%d %s", name, len(msgs), result)


@dataclass(frozen=True)
class Worker:
    """A faust app and the runtime its agents share; :meth:`close` after the app stopped."""

    app: faust.App
    runtime: Runtime
    inputs: InputTopics

    async def close(self) -> None:
        """Flush producers and close Redis (skipping it loses nothing: unacked input is re-read)."""
        await self.runtime.close()


def create_app(
    settings: Settings, *, model: ScoreModel | None = None, inputs: tuple[list[str], list[str]] | None = None
) -> faust.App:
    """Build the faust app for these settings (the CLI's ``scamshare worker``)."""
    return build_worker(settings, model=model, inputs=inputs).app


def build_worker(
    settings: Settings, *, model: ScoreModel | None = None, inputs: tuple[list[str], list[str]] | None = None
) -> Worker:
    """Build the faust app and its runtime for these settings; no network I/O until the app starts.

    ``inputs`` are the organisations' own submissions and sightings topics to subscribe to from the start
    (:func:`pipeline.worker.inputs.registered_inputs` reads them); the worker follows the registry after.
    """
    # The effective client configuration: a credentials file brings the bootstrap and the login too.
    conf = settings.librdkafka()
    if not (bootstrap := conf.get("bootstrap.servers")):
        raise ValueError("a bootstrap server (settings.bootstrap or credentials_file) is required")
    datadir = settings.state_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)  # faust fails to start when it is missing
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(bootstrap),
        # Our consumer transport takes the fetch wait from settings (pipeline/kafka/faust_transport.py).
        broker_consumer=faust_broker_url(bootstrap, scheme="scamshare"),
        # librdkafka() already holds sasl.password (SCAMSHARE_SASL_PASSWORD or the credentials file).
        broker_credentials=faust_credentials(conf, None),
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
    runtime = Runtime(settings, model)
    topics = settings.topics
    # The shared topics stay subscribed (a message there names no organisation: dead-lettered no_identity);
    # each registered organisation's own topic is added by follow_registry below.
    submissions = app.topic(topics.submissions, schema=RawSchema())
    indicators = app.topic(topics.indicators, schema=RawSchema())
    sightings = app.topic(topics.sightings, schema=RawSchema())
    follower = InputTopics(app, submissions, sightings, topics, initial=inputs)
    run = functools.partial(
        run_agent, dlq_topic=topics.dlq, batch=settings.worker_batch_size,
        within=settings.worker_batch_within_s, gap=settings.worker_batch_gap_s, ready=runtime.verified,
    )  # fmt: skip

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
        step = SightingStep(v, registry=runtime.registry(), admission=runtime.admission())
        await run(
            "sightings",
            stream,
            process=step.process,
            store=v.store,
            emitter=v.emitter,
            poison_counters={"sightings_errors": 1},
        )

    @app.task  # type: ignore[untyped-decorator]
    async def follow_registry() -> None:
        # Every worker (not only the leader): each must subscribe to the same topics.
        while True:
            try:
                await follower.follow(runtime)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (Redis or Kafka away: try again on the next tick)
                logger.warning("registry refresh failed, retrying: %r", exc)
            await asyncio.sleep(settings.registry_refresh_s)

    install_redis_check(app, runtime)
    install_heap_freeze(app)
    install_decay_timer(app, runtime)
    install_release_timer(app, runtime, retried=timer_retries)

    @app.agent(indicators, name="fanout")
    async def fanout(stream: faust.StreamT[Any]) -> None:
        emitter = runtime.emitter()
        channels = kafka_channels(emitter, topics.prefix, runtime.ensure_feeds)
        step = DeliverStep(
            runtime.store(), emitter, topics, channels,
            # The TAXII collections the gateway serves: the same Redis client and key prefix as the state.
            collections=redis_taxii_channel(runtime.store().client, settings.redis_key_prefix),
        )  # fmt: skip
        await run(
            "fanout",
            stream,
            process=step.process,
            store=step.store,
            emitter=step.emitter,
            poison_counters={"fanout_errors": 1},
        )

    return Worker(app, runtime, follower)
