"""Writes from request handlers, acknowledged: a request is answered only after the broker acknowledged.

One confluent-kafka producer (idempotent, ``acks=all``) is shared by every request of a gateway process;
a daemon thread serves its delivery reports, and each report resolves the asyncio future of its message on
the event loop. :meth:`KafkaSender.send_all` returns one error (or None) per message, in order.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.kafka.clients import describe_error, produce
from pipeline.wire.headers import Headers

Outgoing = tuple[bytes | None, bytes, Headers]


class KafkaSender:
    """Acknowledged sends over one producer; :meth:`close` flushes and stops the poll thread."""

    def __init__(self, producer: Producer, *, poll_s: float = 0.05) -> None:
        self._producer = producer
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="gateway-kafka-poll", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(self._poll_s)

    async def send_all(
        self, topic: str, messages: Sequence[Outgoing], *, timeout_s: float
    ) -> list[str | None]:
        """Send ``messages`` to ``topic``; per message None (acknowledged) or why it was not."""
        self._start()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str | None]] = []

        def callback(fut: asyncio.Future[str | None]) -> Any:
            def on_delivery(err: KafkaError | None, _msg: Message[Any, Any]) -> None:
                outcome = None if err is None else describe_error(err)
                loop.call_soon_threadsafe(_settle, fut, outcome)

            return on_delivery

        for key, value, headers in messages:
            fut: asyncio.Future[str | None] = loop.create_future()
            futures.append(fut)
            try:
                produce(self._producer, topic, key, value, headers=headers, on_delivery=callback(fut))
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                _settle(fut, describe_error(err) if err is not None else str(exc))
        if not futures:
            return []
        done, _ = await asyncio.wait(futures, timeout=timeout_s)
        return [f.result() if f in done else f"not acknowledged within {timeout_s:g} s" for f in futures]

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """Whether the broker answers a metadata request."""
        try:
            await asyncio.to_thread(self._producer.list_topics, timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def _settle(fut: asyncio.Future[str | None], outcome: str | None) -> None:
    if not fut.done():
        fut.set_result(outcome)
