"""STIX timestamps and the injected clock.

Logic never reads the time itself: it takes a :data:`Clock` (``now: Callable[[], datetime]``) so tests pin it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default :data:`Clock`: the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def stix_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with millisecond precision, as STIX writes timestamps: ``2026-11-22T10:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse a STIX/RFC 3339 timestamp into an aware UTC datetime. Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
