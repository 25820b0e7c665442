"""The raw topic schema gives the same events as faust's registry decode of raw bytes, without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP, Message

from pipeline.config import Settings
from pipeline.kafka.raw_schema import RawSchema
from pipeline.worker.app import build_worker


def message(key: bytes | None, value: bytes | None, headers: Any) -> Message:
    return Message(
        topic="scam.submissions", partition=3, offset=41, timestamp=1.5, timestamp_type=1,
        headers=headers, key=key, value=value, checksum=None, tp=TP("scam.submissions", 3),
    )  # fmt: skip


CASES = [
    (b"indicator--1", b'{"type":"bundle"}', [("scamshare-org", b"org-a")]),
    (None, b"\x00\xff not json", []),
    (b"k", None, [("h", b"")]),  # a tombstone: the steps dead-letter it, the schema must not refuse it
    (b"", b"", None),
]


@pytest.fixture
def app(tmp_path: Path) -> faust.App:
    return faust.App("raw-schema", broker="kafka://localhost:1", datadir=str(tmp_path), web_enabled=False)


@pytest.mark.parametrize(("key", "value", "headers"), CASES)
async def test_the_event_is_the_one_the_registry_decode_gives(
    app: faust.App, key: bytes | None, value: bytes | None, headers: Any
) -> None:
    registry = app.topic("scam.submissions", key_serializer="raw", value_serializer="raw")
    raw = app.topic("scam.submissions", schema=RawSchema())
    msg = message(key, value, headers)
    want, got = await registry.decode(msg, propagate=True), await raw.decode(msg, propagate=True)
    assert type(got) is type(want) is app.conf.Event
    assert (got.key, got.value, got.headers) == (want.key, want.value, want.headers)
    assert (got.key, got.value) == (key, value)  # the bytes as the client returned them
    assert got.message is msg and got.app is app


def test_the_worker_reads_its_topics_through_the_raw_schema(tmp_path: Path) -> None:
    settings = Settings(bootstrap="localhost:1", state_dir=tmp_path)
    worker = build_worker(settings)
    topics = [agent.channel for agent in worker.app.agents.values()]
    assert len(topics) >= 3, topics  # submissions, indicators, sightings
    assert all(isinstance(t.schema, RawSchema) for t in topics)
