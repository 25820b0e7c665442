"""End-to-end canary: a report sent through the real pipeline every few seconds and read back from a feed.

Each canary is a report of a unique URL under one host (``https://canary.scamshare.example.org/<uuid>``),
marked TLP:AMBER+STRICT, from producer ``scamshare-canary``. The canary subscription (id and organisation
``scamshare-canary``, cleared for AMBER+STRICT, URLs only) is the only one that receives it: AMBER+STRICT
goes only to subscribers of a reporting organisation, so no real subscriber ever sees a canary. The loop
reads the canary feed (group ``scamshare-canary.sub.scamshare-canary``, so its lag is reported like any
subscriber's), matches messages by indicator id and records:

- ``scamshare_canary_sent_total``, ``scamshare_canary_received_total``, ``scamshare_canary_lost_total``
  (not back within ``lost_after_s``), ``scamshare_canary_pending``;
- ``scamshare_canary_roundtrip_seconds``, a histogram of producer send → feed message read.

Cost: every canary is a new indicator. At one every 5 s that is 17,280 a day: one Redis state hash
(a few hundred bytes) per canary — deleted again once the canary is back (``cleanup=True``) — plus a
submission-id key that expires after the dedup window (7 days by default, so about 120,000 small keys
in steady state), one message on the submissions, indicators (compacted: never removed, as the key is
unique) and canary feed topics, and +1 on the accepted, versions and delivered counters. Raise
``interval_s`` on a busy cluster; the pipeline's own counters include canaries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from confluent_kafka import KafkaError, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipeline.canon import Canonical, canonicalize
from pipeline.config import Settings
from pipeline.errors import ScamshareError
from pipeline.identity.acls import CANARY_ORG, reader_group
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import end_offsets, reader, topic_partitions
from pipeline.kafka.topics import ensure_topics, feed_topic_spec, input_topic_spec
from pipeline.producers.publisher import Publisher
from pipeline.state.org import Organisation
from pipeline.state.redis_client import sync_redis_from_url
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP

logger = logging.getLogger(__name__)

CANARY_ID = CANARY_ORG
DEFAULT_HOST = "canary.scamshare.example.org"
ROUNDTRIP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class CanaryError(ScamshareError):
    """The canary could not be set up (its URL does not canonicalise, or its subscription is refused)."""


def canary_subscription() -> Subscription:
    """The subscription only canaries reach (AMBER+STRICT from its own organisation)."""
    return Subscription(
        id=CANARY_ID,
        name="scamshare end-to-end canary",
        sector="other",
        organisation=CANARY_ID,
        types=frozenset({"url"}),
        tlp=TLP.AMBER_STRICT,
    )


def canary_org() -> Organisation:
    """The organisation canaries come from and go to (registered by the canary itself)."""
    return Organisation(
        id=CANARY_ID,
        name="scamshare end-to-end canary",
        sector="other",
        roles=frozenset({"producer", "subscriber"}),
        trust=0.5,
        default_tlp=TLP.AMBER_STRICT,
    )


def canary_observable(host: str, token: str) -> Canonical:
    """The canonical URL of one canary."""
    result = canonicalize("url", f"https://{host}/{token}")
    if not isinstance(result, Canonical):
        raise CanaryError(
            f"canary URL under {host!r} is not valid: {result}; pick a host with a public suffix"
        )
    return result


class Canary:
    """Publishes canaries and reads them back; metrics go to ``registry``. Construction does no I/O."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        interval_s: float = 5.0,
        lost_after_s: float = 60.0,
        host: str = DEFAULT_HOST,
        cleanup: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.lost_after_s = lost_after_s
        self.host = host
        self.cleanup = cleanup
        self._clock = clock
        self.subscription = canary_subscription()
        self.topic = self.subscription.topic(settings.topic_prefix)
        self.group = reader_group(CANARY_ID, CANARY_ID)
        self.pending: dict[str, float] = {}
        self.sent = Counter("scamshare_canary_sent", "Canaries published.", registry=registry)
        self.received = Counter("scamshare_canary_received", "Canaries read back.", registry=registry)
        self.lost = Counter("scamshare_canary_lost", "Canaries not back in time.", registry=registry)
        self.pending_gauge = Gauge("scamshare_canary_pending", "Canaries in flight.", registry=registry)
        self.roundtrip = Histogram(
            "scamshare_canary_roundtrip_seconds",
            "Canary publish to feed read.",
            buckets=ROUNDTRIP_BUCKETS,
            registry=registry,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Any = None
        self._publisher: Publisher | None = None
        self._redis: redis.Redis | None = None
        self._state_key: Callable[[str], str] = lambda ind: ind

    def setup(self) -> None:
        """Register the canary subscription, create its feed topic, open the clients."""
        canary_observable(self.host, "probe")  # fail early on a host that does not canonicalise
        url = self.settings.redis_url_value()
        if url is None:
            raise CanaryError("the canary needs Redis (its subscription lives there)")
        store = RedisStore.from_settings(self.settings)

        async def register() -> None:
            try:
                await store.put_organisation(canary_org())
                await store.put_subscription(self.subscription)
            finally:
                await store.close()

        asyncio.run(register())
        self._state_key = store.state_key
        self._redis = sync_redis_from_url(url, cluster=self.settings.redis_cluster)
        own = input_topic_spec(self.settings, self.settings.topics.submissions_of(CANARY_ID))
        ensure_topics(build_admin(self.settings), [feed_topic_spec(self.settings, self.topic), own])
        self._publisher = Publisher(
            self.settings, producer_id=CANARY_ID, producer=build_producer(self.settings, **{"linger.ms": 0})
        )
        consumer = reader(self.settings, self.group)
        # Start at the end: canaries from an earlier run are not ours to time.
        ends = end_offsets(consumer, topic_partitions(consumer, [self.topic]))
        consumer.assign([TopicPartition(t, p, end) for (t, p), end in ends.items()])
        self._consumer = consumer

    def send_one(self) -> str:
        """Publish one canary; returns its indicator id."""
        assert self._publisher is not None, "call setup() first"
        canonical = canary_observable(self.host, uuid.uuid4().hex)
        now = self._clock()
        self._publisher.publish(
            canonical, tlp=TLP.AMBER_STRICT, confidence=1, description="scamshare end-to-end canary"
        )
        self._publisher.poll(0)
        self.pending[canonical.indicator_id] = now
        self.sent.inc()
        self.pending_gauge.set(len(self.pending))
        return canonical.indicator_id

    def poll(self, timeout: float) -> int:
        """Read the canary feed for up to ``timeout`` seconds; returns how many canaries came back."""
        assert self._consumer is not None, "call setup() first"
        back = 0
        deadline = time.monotonic() + timeout
        while True:
            msg = self._consumer.poll(max(0.0, min(0.2, deadline - time.monotonic())))
            if msg is not None and msg.error() is None:
                key = msg.key()
                ind = key.decode() if isinstance(key, bytes) else str(key)
                sent = self.pending.pop(ind, None)
                if sent is not None:
                    back += 1
                    self.received.inc()
                    self.roundtrip.observe(max(0.0, self._clock() - sent))
                    self._forget(ind)
                self._consumer.commit(msg, asynchronous=True)
            elif msg is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                logger.warning("canary feed error=%s", msg.error())
            if time.monotonic() >= deadline:
                break
        self.expire()
        return back

    def expire(self) -> int:
        """Count canaries older than ``lost_after_s`` as lost; returns how many."""
        now = self._clock()
        lost = [ind for ind, sent in self.pending.items() if now - sent > self.lost_after_s]
        for ind in lost:
            del self.pending[ind]
            self.lost.inc()
            logger.warning("canary lost indicator=%s", ind)
        self.pending_gauge.set(len(self.pending))
        return len(lost)

    def _forget(self, indicator_id: str) -> None:
        if self.cleanup and self._redis is not None:
            self._redis.delete(self._state_key(indicator_id))

    def run(self) -> None:
        """Send a canary every ``interval_s`` and read the feed in between, until :meth:`stop`."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.send_one()
                self.poll(max(0.1, self.interval_s - (time.monotonic() - started)))
            except (ScamshareError, redis.RedisError) as exc:
                logger.warning("canary round failed error=%s", exc)
                self._stop.wait(self.interval_s)

    def start(self) -> None:
        """:meth:`setup`, then :meth:`run` in a background thread."""
        self.setup()
        self._thread = threading.Thread(target=self.run, name="scamshare-canary", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and close the clients."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._publisher is not None:
            self._publisher.flush(5)
        if self._consumer is not None:
            self._consumer.close()
        if self._redis is not None:
            self._redis.close()
