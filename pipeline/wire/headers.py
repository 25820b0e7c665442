"""Kafka headers scamshare reads and writes (bytes values, UTF-8), and the DLQ's headers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final

from pipeline.stix.times import stix_timestamp
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

Headers = list[tuple[str, bytes]]

#: A dead-lettered value larger than this is replaced by its first DLQ_MAX_VALUE_BYTES bytes, with its size
#: and SHA-256 in headers. Anything an input topic accepts (up to its max.message.bytes, which a sender can
#: raise) then fits the DLQ and the pipeline's producer (librdkafka's message.max.bytes: 1,000,000).
DLQ_MAX_VALUE_BYTES: Final = 256 * 1024

HEADER_PRODUCER: Final = "scamshare-producer"
HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_SCHEMA: Final = "scamshare-schema"
HEADER_SUBMITTED_MS: Final = "scamshare-submitted-ms"  # producer send time, ms since epoch (latency)
HEADER_REASON: Final = "scamshare-reason"  # DLQ: why it was rejected
HEADER_STAGE: Final = "scamshare-stage"  # DLQ: which stage rejected it
HEADER_REJECTED_AT: Final = "scamshare-rejected-at"
HEADER_SOURCE: Final = "scamshare-source"  # DLQ: topic/partition@offset of the original
# DLQ, when the original was too big to carry whole: its size, its SHA-256 (hex), and a flag.
HEADER_ORIGINAL_SIZE: Final = "scamshare-original-size"
HEADER_ORIGINAL_SHA256: Final = "scamshare-original-sha256"
HEADER_TRUNCATED: Final = "scamshare-truncated"
# Feed messages (and sightings: who sent it).
HEADER_VERSION: Final = "scamshare-version"  # the indicator's version number
HEADER_SUBSCRIBER: Final = "scamshare-subscriber"
HEADER_REVOKED: Final = "scamshare-revoked"  # "1": stop acting on it (any status but active)
HEADER_STATUS: Final = "scamshare-status"  # active, suppressed, withdrawn, expired, revoked, erased


def header_map(headers: Any) -> dict[str, bytes]:
    """Kafka headers (list of pairs, dict, or None) as a dict; the last value of a repeated key wins."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, dict) else headers
    out: dict[str, bytes] = {}
    for k, v in items:
        if v is None:
            continue
        out[k.decode() if isinstance(k, bytes) else str(k)] = v if isinstance(v, bytes) else str(v).encode()
    return out


def dlq_headers(msg: InMessage, rejected: Rejected, stage: str, now: datetime) -> Headers:
    """Original headers plus why, where and when it was rejected."""
    headers = [(k, v) for k, v in msg.headers.items() if not k.startswith("scamshare-reason")]
    headers += [
        (HEADER_REASON, f"{rejected.code}: {rejected.reason}".encode()),
        (HEADER_STAGE, stage.encode()),
        (HEADER_REJECTED_AT, stix_timestamp(now).encode()),
        (HEADER_SOURCE, msg.source.encode()),
    ]
    if rejected.producer and HEADER_PRODUCER not in msg.headers:
        headers.append((HEADER_PRODUCER, rejected.producer.encode()))
    return headers


def dead_letter(
    msg: InMessage, rejected: Rejected, stage: str, now: datetime, *, keep: int = DLQ_MAX_VALUE_BYTES
) -> tuple[bytes | None, bytes, Headers]:
    """``(key, value, headers)`` of the DLQ record for ``msg``: its original bytes, or a bounded prefix.

    A value over ``keep`` (:data:`DLQ_MAX_VALUE_BYTES`) is cut to that prefix and the record says so
    (``scamshare-truncated: 1``, the original size and SHA-256), so an oversized message is dead-lettered
    like any other instead of failing the DLQ write for ever. ``keep=0``: only the size and digest (a report
    of an erased value must not bring the value back through the DLQ).
    """
    headers = dlq_headers(msg, rejected, stage, now)
    value = msg.value
    if len(value) > keep:
        headers += [
            (HEADER_TRUNCATED, b"1"),
            (HEADER_ORIGINAL_SIZE, str(len(value)).encode()),
            (HEADER_ORIGINAL_SHA256, hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:keep]
    return msg.key, value, headers
