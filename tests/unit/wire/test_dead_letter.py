"""The DLQ record: the original bytes, or for an oversized message a bounded prefix with size and digest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pipeline.wire.headers import (
    DLQ_MAX_VALUE_BYTES,
    HEADER_ORIGINAL_SHA256,
    HEADER_ORIGINAL_SIZE,
    HEADER_REASON,
    HEADER_SOURCE,
    HEADER_STAGE,
    HEADER_TRUNCATED,
    dead_letter,
)
from pipeline.wire.message import InMessage
from pipeline.wire.rejected import Rejected

NOW = datetime(2026, 12, 1, tzinfo=UTC)
WHY = Rejected("too_large", "message is 2000000 bytes; the limit is 1000000")


def test_a_small_reject_keeps_its_original_bytes() -> None:
    msg = InMessage("scam.submissions", 1, 7, b"k", b"{bad json", {"scamshare-producer": b"bank-sg"})
    key, value, headers = dead_letter(msg, WHY, "validate", NOW)
    h = dict(headers)
    assert (key, value) == (b"k", b"{bad json")
    assert h[HEADER_STAGE] == b"validate"
    assert h[HEADER_SOURCE] == b"scam.submissions:1:7"
    assert HEADER_TRUNCATED not in h


def test_an_oversized_reject_is_a_bounded_prefix_with_its_size_and_digest() -> None:
    original = bytes(range(256)) * (2 * DLQ_MAX_VALUE_BYTES // 256 + 3)
    msg = InMessage("scam.submissions", 0, 1, None, original)
    key, value, headers = dead_letter(msg, WHY, "validate", NOW)
    h = dict(headers)
    assert key is None
    assert value == original[:DLQ_MAX_VALUE_BYTES]
    assert h[HEADER_TRUNCATED] == b"1"
    assert h[HEADER_ORIGINAL_SIZE] == str(len(original)).encode()
    assert h[HEADER_ORIGINAL_SHA256] == hashlib.sha256(original).hexdigest().encode()
    assert h[HEADER_REASON] == b"too_large: message is 2000000 bytes; the limit is 1000000"
    # what the pipeline's producer can always send (librdkafka's default message.max.bytes)
    assert len(value) + sum(len(k) + len(v) for k, v in headers) < 1_000_000


def test_a_value_at_the_bound_is_kept_whole() -> None:
    msg = InMessage("t", 0, 0, None, b"x" * DLQ_MAX_VALUE_BYTES)
    _, value, headers = dead_letter(msg, WHY, "validate", NOW)
    assert len(value) == DLQ_MAX_VALUE_BYTES
    assert HEADER_TRUNCATED not in dict(headers)
