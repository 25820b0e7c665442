"""Sending from inside an asyncio worker with confluent-kafka, and waiting for acknowledgement.

The processors commit their input only after their output is acknowledged (DESIGN.md): ``send`` queues,
``flush`` waits (in a thread, so the event loop keeps serving the faust consumer) and raises
DeliveryError naming what failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from confluent_kafka import KafkaError as CKafkaError
from confluent_kafka import Message, Producer

from pipeline.errors import DeliveryError
from pipeline.wire.headers import Headers

logger = logging.getLogger(__name__)

class Emitter(Protocol):
    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None: ...

    async def flush(self) -> None: ...


@dataclass
class KafkaEmitter:
    """An :class:`Emitter` over one confluent-kafka Producer (idempotent, acks=all)."""

    producer: Producer
    timeout_s: float = 60.0
    sent: int = 0
    _failures: list[str] = field(default_factory=list)

    def _on_delivery(self, err: CKafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err.str()}")

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        while True:
            try:
                self.producer.produce(
                    topic, value=value, key=key, headers=cast(Any, headers), on_delivery=self._on_delivery
                )
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                self.producer.poll(0.05)
        self.sent += 1
        self.producer.poll(0)

    async def flush(self) -> None:
        loop = asyncio.get_running_loop()
        remaining = await loop.run_in_executor(None, self.producer.flush, self.timeout_s)
        failures, self._failures = self._failures, []
        if remaining:
            failures.append(f"{remaining} message(s) still queued after {self.timeout_s}s")
        if failures:
            raise DeliveryError(failures)


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
