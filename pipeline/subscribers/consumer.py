"""The consumer SDK for subscribers: read your feed, act on each indicator, commit only what you handled.

::

    from pipeline.config import Settings
    from pipeline.subscribers.consumer import FeedConsumer

    def block(item):                  # raise to stop: the item is not committed and comes back next time
        print("block", item.observable_value, "score", item.score)

    def unblock(item):
        print("unblock", item.observable_value)

    with FeedConsumer(Settings(), "telco-th") as feed:
        feed.run(block, on_revoked=unblock, idle_timeout_s=10)

Each feed message is one STIX 2.1 bundle (indicator, SCO, relationship, TLP marking) keyed by the indicator
id; headers carry the version and its status. Any status but ``active`` means: stop acting on this
indicator (unblock the number) — ``suppressed`` (false positives), ``withdrawn`` (its reporters withdrew it)
and ``expired`` (no recent report) carry a ``valid_until`` in the past and can be followed by a new active
version, which means: act on it again; ``revoked`` and ``erased`` are final (``erased``: delete every copy).
``item.revoked`` is true for all of them, so code written for revocations keeps working.

:class:`FeedConsumer` joins the subscriber's consumer group (``<org>.sub.<subscriber>`` by default, which
lag monitoring watches), so a restarted consumer resumes after the last item whose handler succeeded.
Plain confluent-kafka.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from pipeline.config import Settings
from pipeline.errors import KafkaError as ScamshareKafkaError
from pipeline.identity.acls import reader_group
from pipeline.kafka.clients import build_consumer
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.wire.headers import (
    HEADER_REVOKED,
    HEADER_STATUS,
    HEADER_SUBMITTED_MS,
    HEADER_VERSION,
    header_map,
)

logger = logging.getLogger(__name__)


Handler = Callable[["FeedItem"], None]

STATUSES = frozenset({"active", "suppressed", "withdrawn", "expired", "revoked", "erased"})
FINAL_STATUSES = frozenset({"revoked", "erased"})

#: Errors a consumer cannot recover from by waiting: no such topic, or the broker's ACLs refuse it.
REFUSED = frozenset({
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
})  # fmt: skip


def subscriber_group(settings: Settings, subscriber_id: str, org: str | None = None) -> str:
    """The consumer group a subscription's reader uses by default: ``<org>.sub.<id>`` (lag is per group).

    On Apache Kafka an organisation may only use groups under its own prefix ``<org>.``. The organisation is
    ``org``, else the settings' (credentials file or ``org``), else the subscription id itself.
    """
    return reader_group(org or settings.org_id or subscriber_id, subscriber_id)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One version of one indicator as a subscriber receives it."""

    indicator_id: str
    version: int
    #: stop acting on it: any status but active
    revoked: bool
    objects: list[dict[str, Any]]
    topic: str
    partition: int
    offset: int
    submitted_ms: int | None = None
    bundle: dict[str, Any] = field(default_factory=dict)
    #: active; suppressed, withdrawn, expired (reversible); revoked, erased (final)
    status: str = "active"

    @property
    def active(self) -> bool:
        """Act on it (block the number, hold the payment)."""
        return self.status == "active"

    @property
    def final(self) -> bool:
        """No version of this indicator will follow (revoked or erased)."""
        return self.status in FINAL_STATUSES

    @property
    def indicator(self) -> dict[str, Any]:
        """The Indicator object of the bundle."""
        return next(o for o in self.objects if o.get("type") == "indicator")

    @property
    def observable(self) -> dict[str, Any] | None:
        """The SCO the indicator is based on (phone-number, domain-name, url, ...)."""
        skip = {"indicator", "relationship", "marking-definition", "identity"}
        return next((o for o in self.objects if o.get("type") not in skip), None)

    @property
    def observable_value(self) -> str:
        """A printable value of the SCO: the value, the IBAN / account number, or the account login."""
        sco = self.observable or {}
        for key in ("value", "iban", "account_number", "account_login", "user_id"):
            if key in sco:
                return str(sco[key])
        return ""

    @property
    def extension(self) -> dict[str, Any]:
        """scamshare's fields on the indicator: score, scam_types, reporter_count, sightings, ..."""
        ext = self.indicator.get("extensions", {}).get(INDICATOR_EXTENSION_ID, {})
        return ext if isinstance(ext, dict) else {}

    @property
    def score(self) -> int:
        return int(self.extension.get("score", 0))


class FeedMessageError(ScamshareKafkaError):
    """A feed message is not a scamshare STIX bundle."""


def parse_feed_message(
    topic: str,
    partition: int,
    offset: int,
    *,
    key: bytes | None,
    value: bytes | None,
    headers: dict[str, bytes],
) -> FeedItem:
    """Turn one feed message into a FeedItem; raises FeedMessageError. Pure."""
    try:
        bundle = orjson.loads(value or b"")
        objects = bundle["objects"]
        indicator = next(o for o in objects if o.get("type") == "indicator")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, StopIteration) as exc:
        raise FeedMessageError(
            f"{topic}:{partition}:{offset} is not a STIX bundle with an indicator: {exc!r}"
        ) from None
    version_raw = headers.get(HEADER_VERSION)
    ext = indicator.get("extensions", {}).get(INDICATOR_EXTENSION_ID, {})
    version = int(version_raw) if version_raw is not None else int(ext.get("version", 0))
    status_raw = headers.get(HEADER_STATUS)
    status = status_raw.decode("utf-8", "replace") if status_raw is not None else str(ext.get("status", ""))
    if status not in STATUSES:
        # An older publisher (no status): a revoked one is final, anything else active. Unknown: stop acting.
        status = "revoked" if indicator.get("revoked") or headers.get(HEADER_REVOKED) == b"1" else "active"
        if status_raw is not None or ext.get("status"):
            status = "withdrawn"
    revoked = status != "active"
    sent = headers.get(HEADER_SUBMITTED_MS)
    return FeedItem(
        indicator_id=key.decode() if key else str(indicator["id"]),
        version=version,
        revoked=revoked,
        objects=list(objects),
        topic=topic,
        partition=partition,
        offset=offset,
        submitted_ms=int(sent) if sent is not None and sent.isdigit() else None,
        bundle=bundle,
        status=status,
    )


class FeedConsumer:
    """Reads one subscriber's feed in its consumer group; commits only items whose handler succeeded.

    ``topic`` defaults to ``<prefix>feed.<subscriber>``; ``from_beginning`` re-reads the whole feed whatever
    the group committed. Constructing it performs no network I/O; the group is joined on the first poll.
    """

    def __init__(
        self,
        settings: Settings,
        subscriber_id: str,
        group_id: str | None = None,
        *,
        topic: str | None = None,
        from_beginning: bool = False,
        commit_every: int = 100,
        **consumer_overrides: Any,
    ) -> None:
        self.subscriber_id = subscriber_id
        self.topic = topic or settings.topics.feed(subscriber_id)
        self.group_id = group_id or subscriber_group(settings, subscriber_id)
        self.skipped = 0
        self.handled = 0
        self._from_beginning = from_beginning
        self._commit_every = commit_every
        self._pending: dict[tuple[str, int], int] = {}
        self._assigned: set[tuple[str, int]] = set()
        self._rewound: set[tuple[str, int]] = set()
        self._consumer: Consumer = build_consumer(settings, self.group_id, **consumer_overrides)
        self._subscribed = False
        self._closed = False

    # --- group membership -------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        fresh = [tp for tp in partitions if (tp.topic, tp.partition) not in self._rewound]
        if self._from_beginning and fresh:
            # Once per partition: a later rebalance resumes from what this consumer committed.
            for tp in fresh:
                tp.offset = OFFSET_BEGINNING
                self._rewound.add((tp.topic, tp.partition))
            consumer.assign(partitions)
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        logger.info("feed assigned topic=%s partitions=%s", self.topic, sorted(p for _, p in self._assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Commit what was handled before another member takes these partitions over.
        self.commit()
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}

    def _ensure_subscribed(self) -> None:
        if not self._subscribed:
            self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            self._subscribed = True

    @property
    def assigned(self) -> bool:
        """Whether the group gave this consumer any partition yet."""
        return bool(self._assigned)

    # --- reading ----------------------------------------------------------------------------------

    def poll(self, timeout_s: float = 1.0) -> FeedItem | None:
        """The next item, or None if none arrived within ``timeout_s``. Malformed messages are skipped
        (logged, counted in :attr:`skipped`, and committed past)."""
        self._ensure_subscribed()
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self._consumer.poll(max(0.0, min(0.2, deadline - time.monotonic())))
            if msg is not None:
                item = self._item(msg)
                if item is not None:
                    return item
            if time.monotonic() >= deadline:
                return None

    def _item(self, msg: Message[Any, Any]) -> FeedItem | None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                return None
            if err.fatal() or err.code() in REFUSED:
                # Not retried: an organisation reading a feed (or using a group) it may not use would
                # otherwise wait for ever on a feed that never arrives.
                raise ScamshareKafkaError(f"reading {self.topic} in group {self.group_id}: {err.str()}")
            logger.warning("feed topic=%s error=%s", self.topic, err.str())
            return None
        topic, partition, offset = (
            msg.topic() or self.topic,
            int(msg.partition() or 0),
            int(msg.offset() or 0),
        )
        headers = header_map(msg.headers())
        try:
            return parse_feed_message(
                topic, partition, offset, key=msg.key(), value=msg.value(), headers=headers
            )
        except FeedMessageError as exc:
            logger.warning("skipping malformed feed message: %s", exc)
            self.skipped += 1
            self._pending[(topic, partition)] = offset + 1
            return None

    def items(
        self, *, max_messages: int | None = None, idle_timeout_s: float | None = None
    ) -> Iterator[FeedItem]:
        """Iterate items; stops after ``max_messages``, or after ``idle_timeout_s`` without a message once
        partitions are assigned (None: forever). Call :meth:`ack` for each item you handled."""
        count = 0
        idle_since: float | None = None
        while max_messages is None or count < max_messages:
            item = self.poll(0.5)
            if item is not None:
                count += 1
                idle_since = None
                yield item
                continue
            if idle_timeout_s is None or not self.assigned:
                continue
            now = time.monotonic()
            idle_since = idle_since or now
            if now - idle_since >= idle_timeout_s:
                return

    def __iter__(self) -> Iterator[FeedItem]:
        return self.items()

    def ack(self, item: FeedItem) -> None:
        """Mark ``item`` handled: its offset is committed with the next :meth:`commit` (or automatically
        every ``commit_every`` items)."""
        self._pending[(item.topic, item.partition)] = item.offset + 1
        self.handled += 1
        if self._commit_every and self.handled % self._commit_every == 0:
            self.commit()

    def commit(self) -> None:
        """Synchronously commit the offsets of the items acknowledged so far."""
        if not self._pending or self._closed:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        self._consumer.commit(offsets=offsets, asynchronous=False)
        self._pending.clear()

    def run(
        self,
        handler: Handler,
        *,
        on_revoked: Handler | None = None,
        max_messages: int | None = None,
        idle_timeout_s: float | None = None,
    ) -> int:
        """Call ``handler`` (or ``on_revoked``, when given, for an item that is not active: suppressed,
        withdrawn, expired, revoked or erased) for each item, and commit
        after it returns. If a handler raises, what succeeded before is committed and the exception
        propagates: the failed item is delivered again next time. Returns the number of items handled."""
        done = 0
        try:
            for item in self.items(max_messages=max_messages, idle_timeout_s=idle_timeout_s):
                (on_revoked if item.revoked and on_revoked is not None else handler)(item)
                self.ack(item)
                done += 1
        finally:
            self.commit()
        return done

    def close(self) -> None:
        """Commit what was handled and leave the group."""
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> FeedConsumer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
