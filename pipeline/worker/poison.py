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
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import redis.exceptions

from pipeline.errors import ContentionError, DeliveryError
from pipeline.kafka.emit import Emitter
from pipeline.state.store import Store
from pipeline.wire.headers import dead_letter
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Failures of the world around the step, not of one message: the batch is retried as a whole. Redis
#: refusing writes is one too — a demoted primary after a failover (READONLY), maxmemory reached (OOM), an
#: ACL change (NOPERM), a cluster without its slots (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, an unreachable
#: slot): isolating would dead-letter every good report of the batch as "processing_error".
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    DeliveryError,
    ContentionError,
    redis.exceptions.ConnectionError,  # AuthenticationError (WRONGPASS, NOAUTH) and BusyLoadingError too
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.NoScriptError,  # a primary lost its scripts (restart, failover): loaded again on retry
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.NoPermissionError,
    redis.exceptions.ClusterError,  # ClusterDownError, MasterDownError
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,  # SlotNotCoveredError, cluster discovery failing
)
#: Error codes of Redis replies that are about the server, not the call. redis-py has no class for MISCONF
#: (a failed background save stops writes), BUSY (a script running too long) or NOREPLICAS
#: (min-replicas-to-write not met); and a write refused inside a script (maxmemory, a replica) comes back
#: as a plain script error that quotes the code: ``Error running script (...): @user_script:2: ...: -OOM
#: command not allowed when used memory > 'maxmemory'.`` (measured on Redis 7).
_SERVER_CODES = frozenset(
    {"MISCONF", "BUSY", "NOREPLICAS", "OOM", "READONLY", "NOPERM", "NOAUTH", "LOADING", "CLUSTERDOWN",
     "TRYAGAIN", "MASTERDOWN"}
)  # fmt: skip
_QUOTED_CODE = re.compile(r": -([A-Z]+) ")


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` is the world around the step failing (retry the batch), not one message (isolate)."""
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        text = str(exc)
        if text.split(" ", 1)[0] in _SERVER_CODES:
            return True
        return any(code in _SERVER_CODES for code in _QUOTED_CODE.findall(text))
    return False


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
