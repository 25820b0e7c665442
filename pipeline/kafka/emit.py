"""Sending from inside an asyncio worker with confluent-kafka, and waiting for acknowledgement.

The processors commit their input only after their output is acknowledged (DESIGN.md): ``send`` queues,
``flush`` waits (in a thread, so the event loop keeps serving the faust consumer) and raises
DeliveryError naming what failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import Producer

from pipeline.kafka.clients import DeliveryTracker, produce
from pipeline.wire.headers import Headers

logger = logging.getLogger(__name__)


class Emitter(Protocol):
    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None: ...

    async def flush(self) -> None: ...


@dataclass
class KafkaEmitter:
    """An :class:`Emitter` over one confluent-kafka Producer (idempotent, acks=all).

    ``send`` does not ``poll(0)`` after each message: the steps flush after every batch, and the flush
    serves every delivery report (a full local queue is still served by polling, in ``produce``). The
    poll was about 12 µs a message in the worker's profile, two or three messages a report.
    """

    producer: Producer
    timeout_s: float = 60.0
    sent: int = 0
    tracker: DeliveryTracker = field(default_factory=DeliveryTracker)

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        produce(self.producer, topic, key, value, headers=headers, on_delivery=self.tracker, serve=False)
        self.sent += 1

    async def flush(self) -> None:
        """Wait for every message sent so far; DeliveryError for what failed since the last flush."""
        if len(self.producer) == 0:
            # Nothing queued, in flight or waiting for its delivery report to be served (librdkafka's out
            # queue counts all three), so nothing to wait for: no hop to a thread. The delivery step
            # flushes once per channel, and the Kafka feed channel shares this emitter.
            self.tracker.raise_for_failures()
            return
        loop = asyncio.get_running_loop()
        remaining = await loop.run_in_executor(None, self.producer.flush, self.timeout_s)
        self.tracker.raise_for_failures(pending=remaining, waited_s=self.timeout_s)


@dataclass
class ListEmitter:
    """An in-memory :class:`Emitter` for unit tests of the steps."""

    messages: list[tuple[str, bytes | None, bytes, Headers]] = field(default_factory=list)
    flushed: int = 0

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.messages.append((topic, key, value, headers))

    async def flush(self) -> None:
        self.flushed += 1

    def on(self, topic: str) -> list[tuple[str, bytes | None, bytes, Headers]]:
        return [m for m in self.messages if m[0] == topic]
