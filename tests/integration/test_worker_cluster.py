"""A real ``scamshare worker`` whose state is on a 3-primary Redis Cluster (``SCAMSHARE_REDIS_CLUSTER``).

The store's, the quotas', the API keys' and the TAXII collections' contracts run on a cluster one call at a
time (tests/contract); this runs the whole pipeline on one: submissions through ingest (merge, admission
quotas, submission marks), fan-out with TLP, the TAXII collections, a withdrawal to the past recipients,
and the state spread over every primary. A command that touched two slots would fail here with CROSSSLOT.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from pydantic import SecretStr

from pipeline.config import Settings
from pipeline.dev.redis_cluster import RedisClusterStack
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.state.collections import RedisCollections
from pipeline.state.redis_store import RedisStore, glob_escape
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from tests.conftest import StackAddresses

from .helpers import (
    canon,
    enrol_async,
    feed,
    module_settings,
    on_one_engine,
    publish,
    running_worker,
    wait_processed,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SUBS = [
    Subscription(id="everyone", name="No filter", sector="other", organisation="org-a"),
    Subscription(id="amber", name="Cleared AMBER", sector="bank", organisation="org-b", tlp="amber"),
    Subscription(id="phones", name="Phones", sector="telecom", organisation="org-c", types={"phone"}),
]
VALUES = [canon("domain", f"cluster-scam-{n}.com") for n in range(24)]
PHONE = canon("phone", "+66 81 234 5678")
AMBER = canon("domain", "amber-on-a-cluster.com")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterStack]:
    with RedisClusterStack(tmp_path_factory.mktemp("worker-cluster"), primaries=3) as running:
        yield running


@pytest.fixture(scope="module")
def msettings(
    stack: StackAddresses, cluster: RedisClusterStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    state_dir = tmp_path_factory.mktemp("worker-cluster-state") / ".scamshare"
    return module_settings(stack.bootstrap, cluster.url, state_dir, redis_cluster=True)


@pytest_asyncio.fixture
async def store(msettings: Settings) -> AsyncIterator[RedisStore]:
    url = msettings.redis_url_value()
    assert url is not None
    s = RedisStore.from_url(url, prefix=msettings.redis_key_prefix, cluster=True)
    yield s
    await s.close()


def keys_per_primary(cluster: RedisClusterStack, prefix: str) -> list[int]:
    """How many of the run's keys each primary holds (SCAN on each node sees only its own slots)."""
    counts = []
    for address in cluster.addresses:
        host, port = address.rsplit(":", 1)
        node = redis.Redis(host=host, port=int(port))
        try:
            counts.append(sum(1 for _ in node.scan_iter(match=glob_escape(prefix) + "*", count=1000)))
        finally:
            node.close()
    return counts


async def test_reports_flow_through_a_worker_on_a_redis_cluster(
    msettings: Settings, store: RedisStore, cluster: RedisClusterStack
) -> None:
    ensure_topics(build_admin(msettings), pipeline_topics(msettings))
    await enrol_async(msettings, store, "org-x", "org-y", "org-a", "org-b", "org-c")
    for sub in SUBS:
        await store.put_subscription(sub)
    with running_worker(msettings, {"SCAMSHARE_REDIS_CLUSTER": "true"}) as proc:
        publish(msettings, "org-x", *((c, {}) for c in VALUES), (PHONE, {}), (AMBER, {"tlp": TLP.AMBER}))
        publish(msettings, "org-y", (VALUES[0], {}), (PHONE, {}))
        stats = await wait_processed(msettings, store, len(VALUES) + 4, proc)
        assert stats.get("rejected", 0) == 0, stats

        green = {c.indicator_id for c in (*VALUES, PHONE)}
        got = {sub.id: {key for key, _, _ in feed(msettings, sub.id)} for sub in SUBS}
        assert got == {
            "everyone": green,
            "amber": green | {AMBER.indicator_id},
            "phones": {PHONE.indicator_id},
        }
        [(state, delivered)] = await store.load_states([PHONE.indicator_id])
        assert state is not None and state.reporters == frozenset({"org-x", "org-y"})
        assert set(delivered) == {"everyone", "amber", "phones"}

        # The TAXII collections, on the cluster too: each subscription's indicators, once.
        collections = RedisCollections(store.client, msettings.redis_key_prefix)
        for sub in SUBS:
            page = await collections.page(sub.id, after_us=None, limit=1000, types=frozenset({"indicator"}))
            assert sorted(e.id for e in page.entries) == sorted(got[sub.id]) and not page.more

        # Both reporters withdraw the phone: every past recipient is told, on the cluster's state.
        publish(msettings, "org-x", (PHONE, {"revoked": True}))
        publish(msettings, "org-y", (PHONE, {"revoked": True}))
        await wait_processed(msettings, store, len(VALUES) + 6, proc)
        for sub in SUBS:
            revoked = {key for key, _, r in feed(msettings, sub.id) if r}
            assert revoked == {PHONE.indicator_id}, sub.id

    # Really sharded: every primary holds some of the run's state, none all of it.
    counts = keys_per_primary(cluster, msettings.redis_key_prefix)
    assert len(counts) == 3 and all(counts) and max(counts) < sum(counts), counts


def _exit_of_worker(settings: Settings, extra_env: dict[str, str]) -> tuple[int, str]:
    with running_worker(settings, extra_env) as proc:
        code = proc.wait(60)
    return code, (settings.state_dir / "worker.log").read_text(errors="replace")


def test_a_worker_told_a_single_redis_is_a_cluster_exits_before_it_consumes(
    tmp_path: Path, stack: StackAddresses
) -> None:
    on_one_engine(stack, "tansu", "the worker checks its Redis before it reads from the broker")
    single = module_settings(stack.bootstrap, stack.redis_url, tmp_path / ".scamshare")
    code, log = _exit_of_worker(single, {"SCAMSHARE_REDIS_CLUSTER": "true"})
    assert code == 2, log[-3000:]
    assert (
        "error: SCAMSHARE_REDIS_CLUSTER is set, but the Redis at redis_url is not a Redis Cluster node" in log
    )
    assert "scamshare worker: app_id" not in log  # refused before the app was built


def test_a_worker_given_a_cluster_node_as_a_single_redis_exits(
    tmp_path: Path, stack: StackAddresses, cluster: RedisClusterStack
) -> None:
    on_one_engine(stack, "tansu", "the worker checks its Redis before it reads from the broker")
    plain = module_settings(stack.bootstrap, cluster.url, tmp_path / ".scamshare")
    code, log = _exit_of_worker(plain, {})
    assert code == 2, log[-3000:]
    assert "is a Redis Cluster node: set SCAMSHARE_REDIS_CLUSTER=true" in log


def test_a_worker_refuses_a_redis_of_an_earlier_key_layout(tmp_path: Path, stack: StackAddresses) -> None:
    """Layout 1's registry keys (untagged): before, the worker printed "registry not readable yet" and ran
    on, writing layout 2 beside the old state (every indicator new again)."""
    on_one_engine(stack, "tansu", "the worker checks its Redis before it reads from the broker")
    old = module_settings(stack.bootstrap, stack.redis_url, tmp_path / ".scamshare")
    client = redis.Redis.from_url(stack.redis_url)
    try:
        client.hset(f"{old.redis_key_prefix}orgs", "org-x", "{}")
        code, log = _exit_of_worker(old, {})
        assert code == 2, log[-3000:]
        assert "holds key layout 1" in log and "scamshare state migrate" in log
        assert client.get(f"{old.redis_key_prefix}layout") is None
    finally:
        client.delete(f"{old.redis_key_prefix}orgs")
        client.close()


def test_a_worker_started_before_it_may_use_redis_checks_it_before_its_first_batch(
    tmp_path: Path, stack: StackAddresses
) -> None:
    """The CLI's check cannot run while Redis refuses the worker; its agents check before their first batch.

    The worker logs in as a Redis user that does not exist yet (refused: "registry not readable yet", it
    starts anyway). Then Redis gets layout 1's registry under its prefix and the user is created: the
    agents' check finds layout 1 and the worker stops, having written nothing. Before, it ran on.
    """
    on_one_engine(stack, "tansu", "the worker checks its Redis before it reads from the broker")
    base = module_settings(stack.bootstrap, stack.redis_url, tmp_path / ".scamshare")
    user, password = f"u{base.app_id}", "not-yet"
    at = stack.redis_url.split("://", 1)[1]
    late = base.model_copy(update={"redis_url": SecretStr(f"redis://{user}:{password}@{at}")})
    ensure_topics(build_admin(late), pipeline_topics(late))
    admin = redis.Redis.from_url(stack.redis_url)
    try:
        with running_worker(late, {}) as proc:
            deadline = time.monotonic() + 60
            log = late.state_dir / "worker.log"
            while "registry not readable yet" not in log.read_text(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.2)
            admin.hset(f"{late.redis_key_prefix}orgs", "org-x", "{}")
            admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all")
            code = proc.wait(60)
        text = log.read_text(errors="replace")
        assert code != 0, text[-3000:]
        assert "holds key layout 1" in text, text[-3000:]
        assert admin.get(f"{late.redis_key_prefix}layout") is None
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.delete(f"{late.redis_key_prefix}orgs")
        admin.close()
