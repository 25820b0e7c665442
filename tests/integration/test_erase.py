"""`scamshare erase` against a real worker, broker and Redis: a real person's phone number, reported by
mistake and delivered to two subscribers, is withdrawn from both and removed from the exchange."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import click
import orjson
import pytest
import redis
from click.testing import CliRunner, Result

from pipeline.cli.context import CliContext
from pipeline.cli.erase import audit_cmd, erase_cmd
from pipeline.config import Settings
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import ensure_topics, feed_topic_spec, pipeline_topics
from pipeline.producers.publisher import Publisher
from pipeline.state.redis_store import RedisStore, glob_escape
from pipeline.state.subscription import Subscription
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.subscribers.sightings import report_sighting
from pipeline.wire.headers import HEADER_REVOKED, HEADER_STATUS
from tests.integration.helpers import canon, enrol, read_records, running_worker, wait_processed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SUBS = [
    Subscription(id="telco", name="Telco", sector="telecom", organisation="telco-a", types={"phone"}),
    Subscription(id="bank", name="Bank", sector="bank", organisation="bank-b", types={"phone"}),
]
PHONE = canon("phone", "+66812345678")
#: the value as Redis or Kafka would hold it in any of its forms (E.164 without the plus, national digits)
TRACES = (b"66812345678", b"812345678")


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    enrol(settings, "telco-a", "bank-b")
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    with running_worker(settings) as proc:
        yield proc


def invoke(settings: Settings, command: click.Command, *args: str) -> Result:
    url = settings.redis_url_value()
    assert settings.bootstrap and url
    argv = [*args, "--bootstrap", settings.bootstrap, "--redis-url", url]
    return CliRunner().invoke(command, argv, obj=CliContext(settings))


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def holding_the_value(client: redis.Redis, prefix: str) -> list[bytes]:
    """Every key under ``prefix`` whose name or content carries the value."""
    found = []
    for key in client.scan_iter(match=glob_escape(prefix) + "*", count=1000):
        kind = client.type(key)
        if kind == b"hash":
            content = b" ".join(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == b"list":
            content = b" ".join(client.lrange(key, 0, -1))
        elif kind == b"string":
            content = client.get(key) or b""
        else:
            content = b""
        if any(t in key or t in content for t in TRACES):
            found.append(key)
    return found


async def test_an_erased_value_is_withdrawn_from_every_recipient_and_removed_everywhere(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: redis.Redis, store: RedisStore
) -> None:
    for sub in SUBS:
        await store.put_subscription(sub)
    ind = PHONE.indicator_id
    with Publisher(settings, producer_id="telco-a", producer=build_producer(settings)) as pub:
        pub.publish(canon("phone", "081-234-5678", "TH"), confidence=80, country_hint="TH")
    await wait_processed(settings, store, 1, worker)

    async def delivered_to_both() -> bool:
        [(_, delivered)] = await store.load_states([ind])
        return set(delivered) == {"telco", "bank"}

    await wait_for(delivered_to_both, "the report to reach both feeds")
    # A sighting (its mark names the indicator) and an enrichment cached for the value: erase removes both.
    report_sighting(
        settings,
        subscriber="telco",
        indicator_id=ind,
        kind="true-positive",
        now=datetime.now(UTC),
        org="telco-a",
    )

    async def sighted() -> bool:
        return (await store.stats()).get("sightings", 0) >= 1

    await wait_for(sighted, "the sighting to be applied")
    await wait_processed(settings, store, 1, worker)
    await store.cache({PHONE.sco_id: {"carrier": "example"}}, 3600)
    prefix = settings.redis_key_prefix
    sighting_marks = glob_escape(store.submission_key(ind, "sighting:")) + "*"  # beside the state
    marks = list(redis_client.scan_iter(match=sighting_marks, count=1000))
    assert len(marks) == 1 and ind.encode() in marks[0]
    # The state, and each subscription's TAXII collection (fan-out materialised the delivery there).
    collections = [f"{prefix}tx:{{{sub.id}}}:o".encode() for sub in SUBS]
    assert sorted(holding_the_value(redis_client, prefix)) == sorted(
        [store.state_key(ind).encode(), *collections]
    )

    reason = "ticket DPO-7: the number of a customer, reported by mistake"
    result = await asyncio.to_thread(
        invoke, settings, erase_cmd, "phone", "081 234 5678", "--country", "TH", "--reason", reason,
        "--operator", "dpo@example", "--yes", "--json", "--timeout", "60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    out = json.loads(result.stdout)
    assert (out["indicator_id"], out["kind"], out["recipients"], out["erased"], out["completed"]) == (
        ind, "phone", 2, True, True,
    )  # fmt: skip

    # Each feed's last message is the final withdrawal: revoked, status "erased", nothing of the reports.
    for sub in SUBS:
        last = read_records(settings, sub.topic(settings.topic_prefix))[-1]
        assert (last.key, last.headers[HEADER_STATUS], last.headers[HEADER_REVOKED]) == (
            ind.encode(), b"erased", b"1",
        )  # fmt: skip
        [indicator] = [o for o in orjson.loads(last.value)["objects"] if o["type"] == "indicator"]
        ext = indicator["extensions"][INDICATOR_EXTENSION_ID]
        assert indicator["revoked"] is True
        assert (ext["status"], ext["reporter_count"], ext["score"]) == ("erased", 0, 0)
    # scam.indicators: the erased version, then a tombstone for the key (compaction drops the rest).
    mine = [r for r in read_records(settings, settings.topics.indicators) if r.key == ind.encode()]
    assert mine[-1].value == b""
    assert orjson.loads(mine[-2].value)["revoked"] is True

    # Redis: no state, delivery marks, enrichment or sighting mark left; nothing holds the value.
    assert await store.load_states([ind]) == [(None, {})]
    assert await store.cached([PHONE.sco_id]) == [None]
    assert list(redis_client.scan_iter(match=sighting_marks, count=1000)) == []
    assert holding_the_value(redis_client, prefix) == []
    assert await store.erased([ind]) == [True]
    [audit] = await store.audit_log(10)
    assert {k: audit[k] for k in ("action", "indicator_id", "kind", "operator", "reason", "recipients")} == {
        "action": "erase", "indicator_id": ind, "kind": "phone", "operator": "dpo@example", "reason": reason,
        "recipients": 2,
    }  # fmt: skip
    assert audit["at"].endswith("Z")
    listed = await asyncio.to_thread(invoke, settings, audit_cmd, "--json")
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == [audit]
    assert not any(t in listed.stdout.encode() for t in TRACES)
    stats = await store.stats()
    assert (stats["erasures"], stats["revocations_delivered"]) == (1, 2)

    # Running it again: already erased, the tombstone written again, no second audit record.
    again = await asyncio.to_thread(
        invoke, settings, erase_cmd, "phone", "+66812345678", "--reason", "again", "--yes", "--json"
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["already_erased"] is True
    assert len(await store.audit_log(10)) == 1


async def test_a_new_report_of_an_erased_value_goes_nowhere(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: redis.Redis, store: RedisStore
) -> None:
    for sub in SUBS:
        await store.put_subscription(sub)
    ensure_topics(
        build_admin(settings), [feed_topic_spec(settings, s.topic(settings.topic_prefix)) for s in SUBS]
    )
    ind = PHONE.indicator_id
    result = await asyncio.to_thread(
        invoke, settings, erase_cmd, "phone", "+66812345678", "--reason", "DPO-8", "--yes", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["known"] is False
    assert await store.erased([ind]) == [True]
    with Publisher(settings, producer_id="bank-b", producer=build_producer(settings)) as pub:
        pub.publish(PHONE, confidence=90)
    # Refused as erased: counted, and dead-lettered with its size and digest only, never the value.
    stats = await wait_processed(settings, store, 1, worker)
    assert stats["rejected:erased"] == 1
    [dead] = read_records(settings, settings.topics.dlq)
    assert dead.value == b"" and dead.headers["scamshare-truncated"] == b"1"
    assert dead.headers["scamshare-reason"].startswith(b"erased: ")
    assert await store.load_states([ind]) == [(None, {})]
    for sub in SUBS:
        assert read_records(settings, sub.topic(settings.topic_prefix), timeout_s=5) == []
    assert holding_the_value(redis_client, settings.redis_key_prefix) == []
