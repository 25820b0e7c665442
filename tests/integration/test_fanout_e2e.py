"""Fan-out through a real ``scamshare worker``, broker and Redis: the matching matrix, TLP, revocation to
every past recipient, subscriptions changed at run time, backfill without duplicates.

One worker serves the whole module; the tests run in file order and build on each other's state (each phase
says what it adds), so feeds are compared exactly.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio

from pipeline.config import Settings
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.state.collections import RedisCollections
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.subscribers.backfill import backfill_async
from tests.conftest import StackAddresses

from .helpers import (
    canon,
    enrol,
    feed,
    module_settings,
    publish,
    read_records,
    running_worker,
    wait_processed,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SUBS = [
    Subscription(id="everyone", name="No filter", sector="other", organisation="org-a"),
    Subscription(id="amber", name="Cleared AMBER", sector="bank", organisation="org-b", tlp="amber"),
    Subscription(id="strict-c", name="Org C", sector="platform", organisation="org-c", tlp="green"),
    Subscription(id="phones-th", name="Thai phones", sector="telecom", organisation="org-d", types={"phone"},
                 countries={"TH"}),
    Subscription(id="high", name="Score 50+", sector="bank", organisation="org-e", min_score=50),
    Subscription(id="invest-wallets", name="Wallets", sector="bank", organisation="org-f", types={"wallet"},
                 scam_types={"investment"}),
]  # fmt: skip

PHONE_TH = canon("phone", "+66 81 234 5678")
PHONE_SG = canon("phone", "+65 9123 4567")
PHONE_POLICE = canon("phone", "+66 89 999 0000")
DOMAIN = canon("domain", "green-scam.com")
DOMAIN_AMBER = canon("domain", "amber-scam.com")
URL_STRICT_C = canon("url", "https://strict-c.com/login")
URL_STRICT_X = canon("url", "https://strict-x.com/login")
DOMAIN_RED = canon("domain", "red-scam.com")
WALLET_INVEST = canon("wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
WALLET_ROMANCE = canon("wallet", "0x52908400098527886E0F7030069857D2E4169EE7")
SHARED = canon("domain", "two-reporters.com")


@pytest.fixture(scope="module")
def msettings(stack: StackAddresses, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return module_settings(stack.bootstrap, stack.redis_url, tmp_path_factory.mktemp("fanout") / ".scamshare")


@pytest.fixture(scope="module")
def worker(msettings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    ensure_topics(build_admin(msettings), pipeline_topics(msettings))
    enrol(msettings, "org-x", "org-y", "org-a", "org-b", "org-c", "org-d", "org-e", "org-f", "org-z")
    enrol(msettings, "police-au", trust=0.9)  # trust comes from the registry
    with running_worker(msettings) as proc:
        yield proc


@pytest_asyncio.fixture
async def store(msettings: Settings) -> AsyncIterator[RedisStore]:
    url = msettings.redis_url_value()
    assert url is not None
    s = RedisStore.from_url(url, prefix=msettings.redis_key_prefix)
    yield s
    await s.close()


def ids(settings: Settings, sub_id: str) -> set[str]:
    return {key for key, _, _ in feed(settings, sub_id)}


async def test_matching_matrix_and_tlp(
    msettings: Settings, worker: subprocess.Popen[bytes], store: RedisStore
) -> None:
    for sub in SUBS:
        await store.put_subscription(sub)
    publish(msettings, "org-x",
        (PHONE_TH, {"confidence": 80}),
        (PHONE_SG, {"confidence": 80}),
        (DOMAIN, {}),
        (DOMAIN_AMBER, {"tlp": TLP.AMBER}),
        (URL_STRICT_X, {"tlp": TLP.AMBER_STRICT}),
        (WALLET_INVEST, {"scam_types": ["investment"]}),
        (WALLET_ROMANCE, {"scam_types": ["romance"]}),
    )  # fmt: skip
    publish(msettings, "org-c", (URL_STRICT_C, {"tlp": TLP.AMBER_STRICT}), (DOMAIN_RED, {"tlp": TLP.RED}))
    publish(msettings, "police-au", (PHONE_POLICE, {"confidence": 100}))
    await wait_processed(msettings, store, 10, worker)

    green = {
        c.indicator_id for c in (PHONE_TH, PHONE_SG, DOMAIN, WALLET_INVEST, WALLET_ROMANCE, PHONE_POLICE)
    }
    expected = {
        "everyone": green,
        "amber": green | {DOMAIN_AMBER.indicator_id},
        # AMBER+STRICT reaches the reporting organisation only, whatever its clearance.
        "strict-c": green | {URL_STRICT_C.indicator_id},
        "phones-th": {PHONE_TH.indicator_id, PHONE_POLICE.indicator_id},
        "high": {PHONE_POLICE.indicator_id},  # one default-trust reporter scores at most 44
        "invest-wallets": {WALLET_INVEST.indicator_id},
    }
    got = {sub.id: feed(msettings, sub.id) for sub in SUBS}
    assert {s: {k for k, _, _ in msgs} for s, msgs in got.items()} == expected
    # Once each, version 1, nothing revoked; RED and org-x's AMBER+STRICT reached nobody.
    for msgs in got.values():
        assert sorted(msgs) == sorted((k, 1, False) for k in {k for k, _, _ in msgs})
        assert DOMAIN_RED.indicator_id not in {k for k, _, _ in msgs}
        assert URL_STRICT_X.indicator_id not in {k for k, _, _ in msgs}
    stats = await store.stats()
    assert {s: stats.get(f"delivered:{s}", 0) for s in expected} == {s: len(v) for s, v in expected.items()}


async def test_a_withdrawal_reaches_every_past_recipient(
    msettings: Settings, worker: subprocess.Popen[bytes], store: RedisStore
) -> None:
    # phones-th now wants Singapore only: PHONE_TH no longer matches its filter, but it had received it.
    sub = next(s for s in SUBS if s.id == "phones-th")
    await store.put_subscription(sub.model_copy(update={"countries": frozenset({"SG"})}))
    time.sleep(1.2)  # the fan-out agent re-reads subscriptions at most every second
    # Two reporters: one retraction withdraws nothing; the second one withdraws it from every past
    # recipient (status withdrawn: stop acting on it; a new report would bring it back).
    publish(msettings, "org-x", (SHARED, {}))
    publish(msettings, "org-y", (SHARED, {}))
    await wait_processed(msettings, store, 12, worker)
    publish(msettings, "org-x", (PHONE_TH, {"revoked": True}), (SHARED, {"revoked": True}))
    await wait_processed(msettings, store, 14, worker)
    assert not any(revoked for key, _, revoked in feed(msettings, "everyone") if key == SHARED.indicator_id)

    publish(msettings, "org-y", (SHARED, {"revoked": True}))
    await wait_processed(msettings, store, 15, worker)
    recipients = {"everyone", "amber", "strict-c", "phones-th"}
    for sub_id in (s.id for s in SUBS):
        revoked = {key for key, _, r in feed(msettings, sub_id) if r}
        want = {PHONE_TH.indicator_id} if sub_id in recipients else set()
        if sub_id in {"everyone", "amber", "strict-c"}:
            want.add(SHARED.indicator_id)
        assert revoked == want, sub_id
    [(state, delivered)] = await store.load_states([PHONE_TH.indicator_id])
    assert state is not None and not state.revoked and state.reporters == frozenset()
    assert set(delivered) == recipients
    assert len(set(delivered.values())) == 1  # all at the withdrawn version
    shared = [
        r
        for r in read_records(msettings, msettings.topics.feed("amber"))
        if r.key == SHARED.indicator_id.encode()
    ]
    assert shared[-1].headers["scamshare-status"] == b"withdrawn"


async def test_subscription_added_at_run_time_takes_effect(
    msettings: Settings, worker: subprocess.Popen[bytes], store: RedisStore
) -> None:
    await store.put_subscription(Subscription(id="late", name="Late", sector="other", organisation="org-z"))
    time.sleep(1.2)
    fresh = canon("domain", "after-late-joined.com")
    publish(msettings, "org-x", (fresh, {}))
    await wait_processed(msettings, store, 16, worker)
    assert feed(msettings, "late") == [(fresh.indicator_id, 1, False)]  # no history without a backfill


async def test_backfill_without_duplicates(
    msettings: Settings, worker: subprocess.Popen[bytes], store: RedisStore
) -> None:
    # The current state "late" is cleared for: every CLEAR/GREEN indicator not revoked. SHARED had two
    # versions on the (uncompacted) topic; only its latest is considered, and it is revoked.
    current = {c.indicator_id for c in (PHONE_SG, DOMAIN, WALLET_INVEST, WALLET_ROMANCE, PHONE_POLICE)}
    assert await backfill_async(msettings, "late") == len(current)
    assert await backfill_async(msettings, "late") == 0
    keys = [key for key, _, _ in feed(msettings, "late")]
    assert sorted(keys) == sorted(current | {canon("domain", "after-late-joined.com").indicator_id})
    stats = await store.stats()
    assert stats["delivered:late"] == len(keys)
    # Its TAXII collection holds each current indicator it may see, the live one included, once.
    collection = RedisCollections(store.client, msettings.redis_key_prefix)
    page = await collection.page("late", after_us=None, limit=1000, types=frozenset({"indicator"}))
    assert sorted(e.id for e in page.entries) == sorted(keys) and not page.more


PROBE = canon("phone", "+66 81 555 0101")


def last_indicator(settings: Settings, sub_id: str, key: str) -> dict[str, object]:
    records = [r for r in read_records(settings, settings.topics.feed(sub_id)) if r.key == key.encode()]
    bundle = orjson.loads(records[-1].value)
    return next(o for o in bundle["objects"] if o["type"] == "indicator")  # type: ignore[no-any-return]


async def test_reporting_a_value_is_no_probe_for_another_organisations_strict_report(
    msettings: Settings, worker: subprocess.Popen[bytes], store: RedisStore
) -> None:
    """Before: a GREEN reporter received the bank's AMBER+STRICT version (its scam type and confidence)."""
    publish(
        msettings, "org-b", (PROBE, {"tlp": TLP.AMBER_STRICT, "scam_types": ["romance"], "confidence": 95})
    )
    publish(msettings, "org-a", (PROBE, {"tlp": TLP.GREEN, "scam_types": ["investment"], "confidence": 60}))
    await wait_processed(msettings, store, 18, worker)
    ext_id = "extension-definition--fd33f239-c904-58d7-bddd-8d22a4d10af0"
    for sub_id in ("everyone", "strict-c"):  # org-a, the GREEN reporter, and org-c, an uninvolved one
        ind = last_indicator(msettings, sub_id, PROBE.indicator_id)
        ext = ind["extensions"][ext_id]  # type: ignore[index]
        assert (ext["scam_types"], ext["reporter_count"], ind["confidence"]) == (["investment"], 1, 60), (
            sub_id
        )
        assert ind["object_marking_refs"] == [TLP.GREEN.marking_id]
    bank = last_indicator(msettings, "amber", PROBE.indicator_id)  # org-b's own view holds its report
    ext = bank["extensions"][ext_id]  # type: ignore[index]
    assert (ext["scam_types"], ext["reporter_count"], bank["confidence"]) == (
        ["investment", "romance"],
        2,
        95,
    )
    assert bank["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]


def test_worker_survived(worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert worker.poll() is None
