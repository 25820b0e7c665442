"""Bad input thrown at a real `scamshare worker`: it goes to the DLQ with a reason; the worker carries on.

A seeded generator (seed printed on failure; set FUZZ_SEED to replay one) makes a few hundred messages of
every kind of garbage — random bytes, empty values, truncated JSON, documents over the size limit, deeply
nested JSON (over the depth limit, and past the JSON parser's own recursion limit), invalid STIX (broken
patterns, unknown observable types, wrong field types, too many objects), odd Unicode (RTL and zero-width
marks inside values, escaped lone surrogates, NUL) — interleaved with valid reports. Then, with the garbage
processed, more valid reports: the same worker process must take them too. Counts are exact: every bad
message is rejected once with a ``scamshare-reason`` header and its original bytes on the DLQ; every valid
report is accepted.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.config import Settings
from pipeline.dev.synthetic import PRODUCERS, build_messages, synthetic_reports
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.processors.validate import validate_submission
from pipeline.producers.publisher import Publisher, Submission
from pipeline.state.counters import undeclared
from pipeline.state.redis_store import RedisStore
from pipeline.wire.headers import HEADER_REASON, HEADER_SOURCE
from pipeline.wire.limits import Limits
from pipeline.wire.rejected import Rejected
from tests.integration.crashkit import speaker
from tests.integration.helpers import enrol, start_worker, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MAX_BYTES = 64 * 1024  # the worker's size limit in this test (SCAMSHARE_MAX_MESSAGE_BYTES)
SEED = int(os.environ.get("FUZZ_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)

Doc = dict[str, Any]
Mutation = Callable[[Doc, random.Random], None]


def _indicator(doc: Doc) -> Doc:
    return next(o for o in doc["bundle"]["objects"] if o["type"] == "indicator")


def _set(field: str, value: Any) -> Mutation:
    def mutate(doc: Doc, _rng: random.Random) -> None:
        _indicator(doc)[field] = value

    return mutate


def _pattern(pattern: str) -> Mutation:
    return _set("pattern", pattern)


NEST = "__nested__"  # replaced by the nested arrays after encoding (too deep for orjson to encode)


def _nest(depth: int) -> Mutation:
    def mutate(doc: Doc, _rng: random.Random) -> None:
        _indicator(doc)["x_nested"] = f"{NEST}{depth}"

    return mutate


def _expand_nesting(raw: bytes) -> bytes:
    start = raw.find(f'"{NEST}'.encode())
    if start < 0:
        return raw
    end = raw.index(b'"', start + 1)
    depth = int(raw[start + 1 + len(NEST) : end])
    return raw[:start] + b"[" * depth + b'"bottom"' + b"]" * depth + raw[end + 1 :]


def _huge(doc: Doc, rng: random.Random) -> None:
    _indicator(doc)["description"] = "A" * (MAX_BYTES + rng.randrange(1, 50_000))


def _many_objects(doc: Doc, _rng: random.Random) -> None:
    doc["bundle"]["objects"] += [{"type": "note", "id": f"note--{i}"} for i in range(1001)]


def _envelope(field: str, value: Any) -> Mutation:
    def mutate(doc: Doc, _rng: random.Random) -> None:
        doc[field] = value

    return mutate


def _drop_indicator(doc: Doc, _rng: random.Random) -> None:
    doc["bundle"]["objects"] = [o for o in doc["bundle"]["objects"] if o["type"] != "indicator"]


#: Mutations of a valid submission, each of which must make the worker reject it.
MUTATIONS: dict[str, Mutation] = {
    "pattern-unclosed": _pattern("[phone-number:value = '+66812345678'"),
    "pattern-like": _pattern("[domain-name:value LIKE '%.scam.com']"),
    "pattern-or-types": _pattern("[domain-name:value = 'a.com'] OR [url:value = 'http://b.com/']"),
    "pattern-not-string": _set("pattern", 12345),
    "pattern-type-sigma": _set("pattern_type", "sigma"),
    "pattern-empty-value": _pattern("[phone-number:value = '']"),
    "unknown-type": _pattern("[x-mystery-object:value = 'something']"),
    "ipv4-not-exchanged": _pattern("[ipv4-addr:value = '198.51.100.7']"),
    "phone-too-short": _pattern("[phone-number:value = '+6612']"),
    "wallet-bad-checksum": _pattern("[cryptocurrency-wallet:value = '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3']"),
    "iban-bad-checksum": _pattern("[bank-account:iban = 'DE00370400440532013000']"),
    "confidence-string": _set("confidence", "high"),
    "confidence-101": _set("confidence", 101),
    "confidence-bool": _set("confidence", True),
    "markings-not-list": _set("object_marking_refs", "marking-definition--whatever"),
    "revoked-string": _set("revoked", "yes"),
    "valid-from-number": _set("valid_from", 1234567),
    "valid-from-garbage": _set("valid_from", "yesterday"),
    "too-deep": _nest(40),
    "past-parser-limit": _nest(5000),
    "too-large": _huge,
    "too-many-objects": _many_objects,
    "no-indicator": _drop_indicator,
    "spec-wrong": _envelope("spec", "scamshare.submission/9"),
    "producer-upper": _envelope("producer", "Telco-TH"),
    "producer-rtl": _envelope("producer", "telco\u202eht"),
    "submission-id-zero-width": _envelope("submission_id", "abc\u200bdef"),
    "submitted-at-garbage": _envelope("submitted_at", "not a time"),
    "bundle-objects-dict": _envelope("bundle", {"type": "bundle", "objects": {"a": 1}}),
    "domain-zero-width-joiner": _pattern("[domain-name:value = 'kbank\u200d-login.com']"),
    "domain-lrm-mark": _pattern("[domain-name:value = '\u200ekbank-login.com']"),
    "domain-rtl-override": _pattern("[domain-name:value = 'moc.\u202eknabk-login.com']"),
    "domain-nul": _pattern("[domain-name:value = 'kbank\x00login.com']"),
    "url-no-host": _pattern("[url:value = 'https:///login']"),
    "email-no-at": _pattern("[email-addr:value = 'victim.example.com']"),
}


#: Odd Unicode that canonicalises to a plain value (UTS 46 drops U+200B, folds full-width forms; phone
#: parsing ignores bidi embeddings): accepted, and merged with the plain spelling.
ODD_BUT_VALID: dict[str, Mutation] = {
    "domain-zero-width-space": _pattern("[domain-name:value = 'KBANK-LOGIN.COM\u200b']"),
    "domain-fullwidth": _pattern("[domain-name:value = '\uff4b\uff42\uff41\uff4e\uff4b-login.com']"),
    "phone-fullwidth-digits": _pattern("[phone-number:value = '\uff0b\uff16\uff16812345678']"),
    "phone-bidi-embedding": _pattern("[phone-number:value = '\u202a+66 81 234 5678\u202c']"),
}


def odd_valid_messages(valid: list[Submission], rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    """``n`` valid submissions whose values are written with odd Unicode (fresh submission ids), each
    with its message key: the indicator id of the canonical value."""
    out: list[tuple[str, bytes]] = []
    names = itertools.cycle(ODD_BUT_VALID)
    for i in range(n):
        doc = orjson.loads(rng.choice(valid).value)
        ODD_BUT_VALID[next(names)](doc, rng)
        doc["submission_id"] = f"odd-unicode-{SEED}-{i}"
        value = orjson.dumps(doc)
        reports = validate_submission(value, Limits())
        assert not isinstance(reports, Rejected), reports
        out.append((reports[0].indicator_id, value))
    return out


def _lone_surrogate(valid: bytes) -> bytes:
    # orjson refuses escaped lone surrogates; a producer's JSON library may well emit them.
    return valid.replace(b'"producer":"', b'"producer":"\\ud800', 1)


def bad_messages(valid: list[Submission], rng: random.Random, n: int) -> list[tuple[str, bytes | None]]:
    """``n`` (kind, value) pairs of garbage, a mix of raw bytes and mutated valid submissions."""
    out: list[tuple[str, bytes | None]] = []
    names = itertools.cycle(MUTATIONS)  # every mutation, in turn
    for i in range(n):
        base = rng.choice(valid).value
        match i % 6:
            case 0:
                out.append(("random-bytes", rng.randbytes(rng.randrange(1, 3000))))
            case 1:
                out.append(("truncated-json", base[: rng.randrange(1, len(base) - 1)]))
            case 2:
                kind = rng.choice(["empty", "tombstone", "lone-surrogate"])
                out.append((kind, {"empty": b"", "tombstone": None}.get(kind, _lone_surrogate(base))))
            case _:
                name = next(names)
                doc = orjson.loads(base)
                MUTATIONS[name](doc, rng)
                out.append((name, _expand_nesting(orjson.dumps(doc))))
    return out


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    enrol(settings, *PRODUCERS, "fuzzer")
    log = tmp_path / "worker.log"
    proc = start_worker(
        settings, log, cwd=tmp_path, extra_env={"SCAMSHARE_MAX_MESSAGE_BYTES": str(MAX_BYTES)}
    )
    yield proc, log
    stop_worker(proc, 20)


async def wait_counts(
    store: RedisStore, accepted: int, rejected: int, proc: subprocess.Popen[bytes], log: Path
) -> dict[str, int]:
    deadline = time.monotonic() + 60
    stats: dict[str, int] = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"worker died (seed {SEED}):\n" + log.read_text(errors="replace")[-3000:]
        stats = await store.stats()
        got = (stats.get("accepted", 0) + stats.get("allowlisted", 0), stats.get("rejected", 0))
        if got[0] >= accepted and got[1] >= rejected:
            await asyncio.sleep(0.5)  # anything extra (a double count) would show up now
            final = await store.stats()
            assert undeclared(final) == []  # every counter written is declared, hence exported
            return final
        await asyncio.sleep(0.1)
    raise AssertionError(f"seed {SEED}: wanted {accepted} accepted, {rejected} rejected; have {stats}")


def read_dlq(settings: Settings) -> list[tuple[bytes | None, dict[str, bytes]]]:
    return [(r.value, r.header_map()) for r in read_to_end(settings, settings.topics.dlq, timeout_s=30)]


async def test_garbage_goes_to_the_dlq_with_a_reason_and_the_worker_keeps_going(
    settings: Settings, worker: tuple[subprocess.Popen[bytes], Path], redis_client: object
) -> None:
    proc, log = worker
    rng = random.Random(SEED)
    valid = build_messages(synthetic_reports(160, seed=SEED), datetime.now(UTC))
    first, later = valid[:100], valid[100:]
    bad = bad_messages(first, rng, 300)
    odd = odd_valid_messages(first, rng, 20)
    mixed: list[Submission | tuple[str, bytes | None]] = [*first, *bad, *odd]
    rng.shuffle(mixed)
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    producer = build_producer(settings, **{"message.max.bytes": 4 * MAX_BYTES})

    # Each message on the own topic of the producer it names (the fuzzer's when it names none of them), so
    # garbage is refused for what is wrong with it, not only because it names someone else.
    pubs = {p: Publisher(settings, producer_id=p, producer=producer) for p in (*PRODUCERS, "fuzzer")}
    for item in mixed:
        if isinstance(item, Submission):
            pubs[speaker(item.value)].send(item)
        elif item[0].startswith("indicator--"):
            pubs[speaker(item[1], "fuzzer")].publish_raw(item[0], item[1])
        else:
            pubs[speaker(item[1], "fuzzer")].publish_raw(f"fuzz-{item[0]}", item[1])
    for pub in pubs.values():
        pub.flush()
        pub.raise_for_failures()
    good = len(first) + len(odd)
    stats = await wait_counts(store, good, len(bad), proc, log)
    by_code = {k: v for k, v in stats.items() if k.startswith("rejected:")}
    assert (stats.get("accepted", 0) + stats.get("allowlisted", 0), stats["rejected"]) == (
        good,
        len(bad),
    ), f"seed {SEED}: {by_code}"
    # Odd spellings merged into the plain value's indicator.
    odd_counts = Counter(key for key, _ in odd)
    states = await store.load_states(list(odd_counts))
    assert [s.reports if s else 0 for s, _ in states] == list(odd_counts.values())

    # The worker is still the same process, and still takes valid reports after the garbage.
    for message in later:
        pubs[speaker(message.value)].send(message)
    for pub in pubs.values():
        pub.flush()
        pub.raise_for_failures()
    stats = await wait_counts(store, good + len(later), len(bad), proc, log)
    assert stats.get("accepted", 0) + stats.get("allowlisted", 0) == good + len(later)
    assert stats["rejected"] == len(bad) == sum(by_code.values())

    # Every bad message is on the DLQ once, with its original bytes and a reason.
    dlq = read_dlq(settings)
    assert len(dlq) == len(bad), f"seed {SEED}"
    assert all(headers.get(HEADER_REASON) for _, headers in dlq)
    assert len({headers[HEADER_SOURCE] for _, headers in dlq}) == len(bad)
    assert Counter(value or b"" for value, _ in dlq) == Counter(value or b"" for _, value in bad)
    assert proc.poll() is None
    await store.close()
