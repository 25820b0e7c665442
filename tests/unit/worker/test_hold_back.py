"""What the shutdown fix relies on in faust: a held-back message never gets its final ack, which is what
lets the consumer commit its offset (Stream.ack marks an offset committable only on a final ack)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP, Message

from pipeline.worker.app import hold_back


def message(offset: int) -> Message:
    return Message(
        topic="scam.submissions", partition=0, offset=offset, timestamp=0.0, timestamp_type=0,
        headers=[], key=None, value=b"v", checksum=None, tp=TP("scam.submissions", 0),
    )  # fmt: skip


def test_a_held_back_message_is_never_final_acked() -> None:
    held, normal = message(1), message(2)
    consumer: Any = object()
    hold_back([SimpleNamespace(message=held)])
    assert held.ack(consumer) is False  # take_events' ack in its finally: no final ack, no commit
    assert normal.ack(consumer) is True
