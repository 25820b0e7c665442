"""Kafka headers scamshare reads and writes (bytes values, UTF-8), and the DLQ's headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pipeline.stix.times import stix_timestamp
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

Headers = list[tuple[str, bytes]]

HEADER_PRODUCER: Final = "scamshare-producer"
HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_SCHEMA: Final = "scamshare-schema"
HEADER_SUBMITTED_MS: Final = "scamshare-submitted-ms"  # producer send time, ms since epoch (latency)
HEADER_REASON: Final = "scamshare-reason"  # DLQ: why it was rejected
HEADER_STAGE: Final = "scamshare-stage"  # DLQ: which stage rejected it
HEADER_REJECTED_AT: Final = "scamshare-rejected-at"
HEADER_SOURCE: Final = "scamshare-source"  # DLQ: topic/partition@offset of the original
# Feed messages (and sightings: who sent it).
HEADER_VERSION: Final = "scamshare-version"  # the indicator's version number
HEADER_SUBSCRIBER: Final = "scamshare-subscriber"
HEADER_REVOKED: Final = "scamshare-revoked"  # "1" on a revoked version


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
