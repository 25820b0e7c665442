"""Delivery channels: where a subscriber's versions go once fan-out has decided it gets them.

Routing (:func:`pipeline.processors.fanout.route`) decides *who*; a channel decides *how*. The delivery step
hands each routed version to the channel its subscription names (``Subscription.channel``), flushes every
channel, and only then marks the deliveries in the store, so a channel must not return from :meth:`flush`
before what it was sent is durable (for Kafka: acknowledged by the broker).

The Kafka feed topic is the first channel. A new one (a TAXII collection, a webhook) is one module with a
class like :class:`KafkaFeedChannel`, one name in :data:`pipeline.state.subscription.CHANNELS`, and one line
where the worker builds its channels; routing does not change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline.kafka.emit import Emitter
from pipeline.state.subscription import Subscription
from pipeline.wire.headers import (
    HEADER_REVOKED,
    HEADER_STATUS,
    HEADER_SUBMITTED_MS,
    HEADER_SUBSCRIBER,
    HEADER_VERSION,
    Headers,
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One version of one indicator for one subscriber: the STIX bundle and what a consumer needs with it."""

    subscription: Subscription
    indicator_id: str
    version: int
    revoked: bool
    bundle: bytes
    #: producer send time (ms since epoch) of the report behind this version, for end-to-end latency
    submitted_ms: bytes | None = None
    #: active; suppressed, withdrawn, expired (stop acting on it until a new version); revoked, erased (final)
    status: str = "active"


class Channel(Protocol):
    """What the delivery step needs of a channel."""

    async def prepare(self, subscriptions: Sequence[Subscription]) -> None:
        """Called when the subscriptions using this channel change (create topics, collections, ...)."""
        ...

    def send(self, item: Outgoing) -> None:
        """Queue one delivery; it need not be durable before :meth:`flush` returns."""
        ...

    async def flush(self) -> None:
        """Return once everything sent is durable; raise (e.g. DeliveryError) if any of it is not."""
        ...


async def all_of(*flushes: Awaitable[None]) -> None:
    """Run ``flushes`` at once and wait for every one of them, then raise the first failure, if any: unlike a
    bare ``asyncio.gather``, none is still running when the caller retries the batch."""
    outcomes = await asyncio.gather(*flushes, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


@dataclass
class KafkaFeedChannel:
    """Each subscriber's own feed topic (``<prefix>feed.<id>``), keyed by indicator id."""

    emitter: Emitter
    prefix: str
    ensure_topics: Callable[[list[str]], Awaitable[None]]

    async def prepare(self, subscriptions: Sequence[Subscription]) -> None:
        await self.ensure_topics([s.topic(self.prefix) for s in subscriptions])

    def send(self, item: Outgoing) -> None:
        headers: Headers = [
            (HEADER_VERSION, str(item.version).encode()),
            (HEADER_SUBSCRIBER, item.subscription.id.encode()),
            (HEADER_REVOKED, b"1" if item.revoked else b"0"),
            (HEADER_STATUS, item.status.encode()),
        ]
        if item.submitted_ms is not None:
            headers.append((HEADER_SUBMITTED_MS, item.submitted_ms))
        self.emitter.send(
            item.subscription.topic(self.prefix), item.indicator_id.encode(), item.bundle, headers
        )

    async def flush(self) -> None:
        await self.emitter.flush()


def kafka_channels(
    emitter: Emitter, prefix: str, ensure_topics: Callable[[list[str]], Awaitable[None]]
) -> dict[str, Channel]:
    """The channels of a deployment with Kafka feeds only (today: every deployment)."""
    return {"kafka": KafkaFeedChannel(emitter, prefix, ensure_topics)}
