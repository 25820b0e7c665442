"""The decay sweep on the in-memory store: a lower band is published; after two half-lives a view expires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.kafka.emit import ListEmitter
from pipeline.state.memory_store import MemoryStore
from pipeline.worker.decay import CURSOR_MARKER, DecaySweep
from pipeline.worker.ingest import IngestStep
from tests.unit.processors.factories import (
    NOW,
    exact,
    indicator_obj,
    phone_submission,
    submission,
)
from tests.unit.worker.helpers import TOPICS, RacingStore, ingest, submission_messages

SIXTY_DAYS_LATER = datetime(2027, 1, 21, tzinfo=UTC)
A_YEAR_LATER = datetime(2027, 11, 1, tzinfo=UTC)


def records(emitter: ListEmitter) -> list[dict[str, Any]]:
    out = []
    for m in emitter.on(TOPICS.indicators):
        record = orjson.loads(m[2])
        green = record["views"]["1"]  # the community's GREEN view (every report here is GREEN)
        out.append(record | {"score": green["score"], "status": green["status"]})
    return out


async def phone_and_domain(store: MemoryStore, out: ListEmitter) -> IngestStep:
    """A phone from three reporters (score 67, medium band) and a domain from one (31, low band)."""
    step = ingest(store, out)
    reports = [
        phone_submission("0812345678", country="TH", producer=p, submission_id=f"d{i}")
        for i, p in enumerate("abc")
    ]
    await step.process(submission_messages(*reports))
    domain = submission(indicator_obj("domain-name", {"value": "kbank-x.com"}), submission_id="dom")
    await step.process(submission_messages(domain, start=3))
    assert [(r["kind"], r["score"]) for r in records(out)] == [("phone", 67), ("domain", 31)]
    return step


async def test_decay_publishes_a_lower_band_and_expires_what_had_no_report_for_two_half_lives() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await phone_and_domain(store, out)
    # Sixty days later the phone (half-life 30 d) has decayed a band; a year later it has expired, and the
    # domain (half-life 180 d: 344 days is less than two) decayed within its band, which publishes nothing.
    result = await DecaySweep(step.versions, batch=1, now=lambda: SIXTY_DAYS_LATER).walk()
    assert (result.examined, result.walk_done, result.rescored) == (2, True, 1)
    much_later = DecaySweep(step.versions, batch=1, now=lambda: A_YEAR_LATER)
    assert (await much_later.walk()).rescored == 1
    got = records(out)
    assert [(r["kind"], r["version"], r["score"], r["status"]) for r in got[2:3]] == [
        ("phone", 2, 17, "active"),  # 67 after two 30-day half-lives: a band lower
    ]
    assert [(r["kind"], r["version"], r["score"], r["status"]) for r in got[3:]] == [
        ("phone", 3, 0, "expired"),  # no report for two half-lives: expired (a new report revives it)
    ]
    assert not any(r["revoked"] for r in got)
    assert (await much_later.walk()).rescored == 0  # expired once: nothing more to do
    stats = exact(await store.stats())
    assert (stats["decayed"], stats["versions"]) == (2, 4)
    assert "revocations" not in stats


async def test_a_tick_examines_one_slice_and_the_next_resumes_from_the_stored_cursor() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = await phone_and_domain(store, out)
    sweep = DecaySweep(step.versions, batch=1, now=lambda: NOW)
    first = await sweep.tick()
    assert (first.examined, first.walk_done, first.rescored) == (1, False, 0)
    assert await store.get_marker(CURSOR_MARKER) not in (None, "0")
    # A restarted sweep (a new leader) carries on where the walk stood.
    second = await DecaySweep(step.versions, batch=1, now=lambda: NOW).tick()
    assert (second.examined, second.walk_done) == (1, True)
    assert await store.get_marker(CURSOR_MARKER) == "0"
    assert len(records(out)) == 2  # nothing had decayed yet


async def test_a_sweep_that_loses_the_race_publishes_nothing_and_the_next_walk_catches_up() -> None:
    store, out = RacingStore(losses=0), ListEmitter()
    step = await phone_and_domain(store, out)
    store.losses = 1
    lost = await DecaySweep(step.versions, now=lambda: SIXTY_DAYS_LATER).walk()
    assert (lost.examined, lost.rescored) == (2, 0)
    assert len(records(out)) == 2
    won = await DecaySweep(step.versions, now=lambda: SIXTY_DAYS_LATER).walk()
    assert won.rescored == 1
    assert [(r["kind"], r["version"], r["score"]) for r in records(out)[2:]] == [("phone", 2, 17)]
