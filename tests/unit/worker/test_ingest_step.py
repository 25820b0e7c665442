"""The ingest step on the in-memory store, outputs captured by ListEmitter: no broker, no Redis."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pipeline.errors import ContentionError
from pipeline.kafka.emit import ListEmitter
from pipeline.processors.allowlist import Allowlist
from pipeline.state.memory_store import MemoryStore
from pipeline.stix.times import epoch_ms, parse_timestamp, stix_timestamp
from pipeline.wire.headers import (
    HEADER_REASON,
    HEADER_REJECTED_AT,
    HEADER_SOURCE,
    HEADER_STAGE,
    HEADER_SUBMITTED_MS,
)
from pipeline.wire.message import InMessage
from tests.unit.processors.factories import (
    NOW,
    canonical,
    exact,
    indicator_obj,
    phone_submission,
    submission,
)
from tests.unit.worker.helpers import TOPICS, RacingStore, ingest, submission_messages


def records(emitter: ListEmitter) -> list[dict[str, Any]]:
    return [orjson.loads(m[2]) for m in emitter.on(TOPICS.indicators)]


def msgs(*values: bytes, start: int = 0) -> list[InMessage]:
    return submission_messages(*values, start=start)


async def test_two_formats_from_two_producers_become_one_indicator_with_two_reporters() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = ingest(store, out)
    first = await step.process(msgs(phone_submission("081-234-5678", country="TH", submission_id="a")))
    second = await step.process(
        msgs(phone_submission("+66 81 234 5678", producer="bank-b", submission_id="b"), start=1)
    )
    assert (first.accepted, first.published, second.accepted, second.published) == (1, 1, 1, 1)
    got = records(out)
    counts = [(r["version"], r["views"]["1"]["bundle"]["objects"][0]["extensions"]) for r in got]
    assert [(v, next(iter(ext.values()))["reporter_count"]) for v, ext in counts] == [(1, 1), (2, 2)]
    assert {r["indicator_id"] for r in got} == {canonical("phone", "+66812345678").indicator_id}
    assert got[1]["value"] == "+66812345678"
    [(_, key, _, headers)] = out.on(TOPICS.indicators)[:1]
    assert key == canonical("phone", "+66812345678").indicator_id.encode()
    # The report's submitted_at travels on the version, for the end-to-end latency.
    assert (
        dict(headers)[HEADER_SUBMITTED_MS] == str(epoch_ms(parse_timestamp("2026-11-22T10:00:00Z"))).encode()
    )
    assert out.flushed == 2
    stats = await store.stats()
    assert (stats["accepted"], stats["indicators"], stats["versions"]) == (2, 1, 2)
    assert stats.get("duplicates", 0) == 0


async def test_a_report_that_changes_nothing_material_is_counted_as_a_duplicate() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = ingest(store, out)
    await step.process(msgs(phone_submission("0812345678", country="TH", submission_id="a")))
    result = await step.process(
        msgs(phone_submission("0812345678", country="TH", submission_id="b"), start=1)
    )
    assert (result.accepted, result.duplicates, result.published, result.replayed) == (1, 1, 0, 0)
    assert len(records(out)) == 1  # the same reporter again: no new version
    stats = exact(await store.stats())
    assert stats == {"accepted": 2, "duplicates": 1, "indicators": 1, "versions": 1}


async def test_rejects_go_to_the_dlq_with_original_bytes_and_reason_headers() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    raw = b'{"spec": "scamshare.submission/1", "truncated'
    result = await ingest(store, out).process(msgs(raw, start=41))
    assert (result.rejected, result.accepted) == (1, 0)
    [(topic, _key, value, headers)] = out.messages
    assert (topic, value) == (TOPICS.dlq, raw)
    h = dict(headers)
    assert h[HEADER_REASON].startswith(b"not_json: ")
    assert h[HEADER_STAGE] == b"validate"
    assert h[HEADER_SOURCE] == f"{TOPICS.submissions_of('telco-a')}:0:41".encode()
    assert h[HEADER_REJECTED_AT] == stix_timestamp(NOW).encode()
    assert h[HEADER_SUBMITTED_MS] == b"1795347605000"  # the original headers travel with it
    assert await store.stats() == {"rejected": 1, "rejected:not_json": 1}


async def test_replaying_a_batch_counts_nothing_twice_and_re_emits_the_current_version() -> None:
    store = MemoryStore(now=lambda: NOW)
    batch = msgs(
        phone_submission("0812345678", country="TH", submission_id="a"),
        phone_submission("0812345678", country="TH", producer="bank-b", submission_id="b"),
        submission(indicator_obj("domain-name", {"value": "Evil-Example.COM."}), submission_id="c"),
        b"not json",
    )
    first, again = ListEmitter(), ListEmitter()
    await ingest(store, first).process(batch)
    before = exact(await store.stats())
    result = await ingest(store, again).process(batch)  # the crash-and-restart case
    assert exact(await store.stats()) == before
    assert (result.accepted, result.rejected, result.replayed) == (0, 0, 3)
    assert before["accepted"] == 3 and before["rejected"] == 1 and before["indicators"] == 2
    # Same versions re-emitted (fan-out ignores versions a subscriber already has), DLQ re-sent.
    assert sorted(m[2] for m in again.on(TOPICS.dlq)) == [b"not json"]

    def versions(emitter: ListEmitter) -> list[tuple[str, int]]:
        return sorted((r["indicator_id"], r["version"]) for r in records(emitter))

    assert versions(again) == versions(first)
    assert len(versions(first)) == 2


async def test_a_replayed_submission_that_published_nothing_is_not_re_emitted() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = ingest(store, out)
    await step.process(msgs(phone_submission("0812345678", country="TH", submission_id="a")))
    dup = msgs(phone_submission("0812345678", country="TH", submission_id="b"), start=1)
    await step.process(dup)  # a duplicate: merged, nothing published
    replay = ListEmitter()
    result = await ingest(store, replay).process(dup)
    assert (result.replayed, result.accepted, result.published) == (1, 0, 0)
    assert replay.on(TOPICS.indicators) == []


async def test_allowlisted_reports_are_held_counted_and_a_published_one_is_revoked_once() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    hotline = canonical("phone", "+66 2 888 8888")
    step = ingest(store, out)
    await step.process(msgs(phone_submission("02 888 8888", country="TH", submission_id="before")))
    assert [r["version"] for r in records(out)] == [1]
    # The operator adds the bank's real hotline to the allowlist: the next report withdraws it once.
    step.allowlist = Allowlist(exact={hotline.indicator_id: "bank hotline"})
    held = await step.process(
        msgs(phone_submission("+6628888888", producer="bank-b", submission_id="after"), start=1)
    )
    assert (held.allowlisted, held.accepted, held.published) == (1, 0, 1)
    await step.process(
        msgs(phone_submission("028888888", country="TH", producer="p3", submission_id="x"), start=2)
    )
    assert [(r["version"], r["revoked"], r["allowlisted"]) for r in records(out)] == [
        (1, False, False),
        (2, True, True),
    ]
    stats = exact(await store.stats())
    assert (stats["accepted"], stats["allowlisted"], stats["indicators"], stats["versions"]) == (
        1,
        2,
        1,
        2,
    )
    [(state, _)] = await store.load_states([hotline.indicator_id])
    assert state is not None and state.allowlisted and state.reporters == {"telco-a", "bank-b", "p3"}


async def test_a_value_allowlisted_from_its_first_report_is_never_published() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    step = ingest(store, out)
    step.allowlist = Allowlist(domains={"paypal.com": "big platform"})
    first = submission(indicator_obj("domain-name", {"value": "PayPal.com"}), submission_id="p1")
    second = submission(
        indicator_obj("domain-name", {"value": "paypal.com."}), submission_id="p2", producer="x"
    )
    await step.process(msgs(first))
    await step.process(msgs(second, start=1))
    assert out.on(TOPICS.indicators) == []  # nothing to publish, nothing to revoke
    assert exact(await store.stats()) == {"allowlisted": 2}
    [(state, _)] = await store.load_states([canonical("domain", "paypal.com").indicator_id])
    assert state is not None and state.allowlisted and (state.version, state.revoked) == (0, False)


async def test_a_lost_compare_and_set_is_retried_and_counted_once() -> None:
    store, out = RacingStore(losses=1), ListEmitter()
    result = await ingest(store, out).process(
        msgs(phone_submission("0812345678", country="TH", submission_id="a"))
    )
    assert store.calls == 2  # lost once, re-read, won
    assert (result.accepted, result.published, result.replayed) == (1, 1, 0)
    assert [r["version"] for r in records(out)] == [1]
    assert exact(await store.stats()) == {"accepted": 1, "indicators": 1, "versions": 1}


async def test_contention_beyond_max_tries_is_a_transient_error_and_writes_nothing() -> None:
    store, out = RacingStore(losses=10**6), ListEmitter()
    step = ingest(store, out, max_cas_retries=3)
    with pytest.raises(ContentionError, match="in 3 tries"):
        await step.process(msgs(phone_submission("0812345678", country="TH", submission_id="a"), b"not json"))
    assert store.calls == 3
    assert out.on(TOPICS.indicators) == []
    assert await store.stats() == {}  # the reject is not counted either: the whole batch is retried
    assert await store.seen_submissions([(canonical("phone", "+66812345678").indicator_id, "a")]) == [None]


async def test_a_report_of_an_erased_value_is_refused_and_its_bytes_never_reach_the_dlq() -> None:
    store, out = MemoryStore(now=lambda: NOW), ListEmitter()
    phone = canonical("phone", "+66812345678")
    await store.mark_erased(phone.indicator_id, {"action": "erase", "indicator_id": phone.indicator_id})
    result = await ingest(store, out).process(msgs(phone_submission("0812345678", country="TH")))
    assert (result.accepted, result.rejected, result.published) == (0, 1, 0)
    [(topic, _, value, headers)] = out.messages
    assert topic == TOPICS.dlq and value == b""
    assert dict(headers)["scamshare-reason"].startswith(b"erased: ")
    assert b"812345678" not in b"".join(v for _, v in headers)
    assert await store.load_states([phone.indicator_id]) == [(None, {})]
    assert exact(await store.stats())["rejected:erased"] == 1


async def test_an_erasure_landing_between_the_merge_read_and_its_commit_refuses_the_report() -> None:
    """The race: ``scamshare erase`` of a value nobody had reported yet marks it while a batch that reports
    it is between reading (no state, not erased) and committing. Before, the report was merged and its
    version published to subscribers after the erasure; now the commit loses, the merge reads again and
    refuses the report as ``erased``."""
    phone = canonical("phone", "+66812345678")

    class ErasedMeanwhile(MemoryStore):
        reads = 0

        async def load_for_merge(self, indicator_ids, submissions):  # type: ignore[no-untyped-def]
            self.reads += 1
            inputs = await super().load_for_merge(indicator_ids, submissions)
            if self.reads == 1:
                await self.mark_erased(phone.indicator_id, {"action": "erase"})
            return inputs

    store, out = ErasedMeanwhile(now=lambda: NOW), ListEmitter()
    result = await ingest(store, out).process(msgs(phone_submission("0812345678", country="TH")))
    assert (result.accepted, result.rejected, result.published) == (0, 1, 0)
    assert store.reads == 2
    assert out.on(TOPICS.indicators) == []
    [(topic, _, value, headers)] = out.messages
    assert topic == TOPICS.dlq and value == b""
    assert dict(headers)["scamshare-reason"].startswith(b"erased: ")
    assert await store.load_states([phone.indicator_id]) == [(None, {})]
    assert "accepted" not in await store.stats()


async def test_every_commit_sets_when_the_state_expires() -> None:
    commits: list[Any] = []

    class Recording(MemoryStore):
        async def commit(self, batch):  # type: ignore[no-untyped-def]
            commits.extend(batch)
            return await super().commit(batch)

    store, out = Recording(now=lambda: NOW), ListEmitter()
    await ingest(store, out).process(msgs(phone_submission("0812345678", country="TH")))
    [commit] = commits
    # valid_until (two 30-day half-lives after the report) plus the 30-day grace
    assert commit.expire_at_ms == commit.state.last_ms + (60 + 30) * 86_400_000
