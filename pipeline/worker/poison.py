"""Poison isolation: a message that makes a step fail (a bug, not bad input) must not stall the stream.

Bad input never raises (validation turns it into a reject), so an exception from a step means either the
infrastructure failed (Redis or the broker: retry the whole batch, the steps are idempotent) or our own code
failed on one message. For the latter, the batch is split in halves until the failing message is alone; it
goes to the DLQ with the error as reason (stage ``<step>-error``) and is counted once, and everything else in
the batch is processed normally.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pipeline.errors import ContentionError, DeliveryError
from pipeline.kafka.emit import Emitter
from pipeline.state.redis_errors import REDIS_UNAVAILABLE, redis_unavailable
from pipeline.state.store import Store
from pipeline.wire.headers import dead_letter
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Failures of the world around the step, not of one message: the batch is retried as a whole. Redis away
#: or refusing writes is one too (:mod:`pipeline.state.redis_errors`): isolating would dead-letter every
#: good report of the batch as "processing_error".
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    DeliveryError,
    ContentionError,
    *REDIS_UNAVAILABLE,
)


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` is the world around the step failing (retry the batch), not one message (isolate)."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS) or redis_unavailable(exc)


async def process_isolating(
    process: Callable[[Sequence[InMessage]], Awaitable[T]],
    batch: Sequence[InMessage],
    *,
    stage: str,
    emitter: Emitter,
    store: Store,
    dlq_topic: str,
    counters: Mapping[str, int],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[T]:
    """Run ``process`` over ``batch``; isolate and dead-letter messages it cannot process.

    Infrastructure errors propagate (the caller retries). ``counters`` move once per dead-lettered message
    (ingest counts it as rejected, so received = accepted + rejected + allowlisted still holds). Returns the
    results of the sub-batches that ran.
    """
    try:
        return [await process(batch)]
    except Exception as exc:  # a bug on some message in this batch: find it rather than stall
        if is_infrastructure(exc):
            raise
        if len(batch) > 1:
            logger.warning("%s failed on a batch of %d (%r); isolating the message", stage, len(batch), exc)
            half = len(batch) // 2
            kwargs = {
                "stage": stage, "emitter": emitter, "store": store, "dlq_topic": dlq_topic,
                "counters": counters, "now": now,
            }  # fmt: skip
            return [
                *await process_isolating(process, batch[:half], **kwargs),  # type: ignore[arg-type]
                *await process_isolating(process, batch[half:], **kwargs),  # type: ignore[arg-type]
            ]
        [msg] = batch
        logger.exception("%s cannot process source=%s; dead-lettered", stage, msg.source)
        rejected = Rejected("processing_error", f"{type(exc).__name__}: {exc}"[:500])
        emitter.send(dlq_topic, *dead_letter(msg, rejected, f"{stage}-error", now()))
        await emitter.flush()
        await store.count_once(msg.source, counters)
        return []
