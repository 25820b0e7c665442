"""Crash safety: SIGKILL a real `scamshare worker` twice mid-stream, restart it, and count everything.

3,000 synthetic reports (12 producers, every kind, ~30% re-reports of an earlier scam in another spelling)
plus 60 malformed messages are published; a worker subprocess is killed with SIGKILL when the received
count crosses 1/3 and again at 2/3 of the total, and restarted each time (the dead member holds its
partitions until the 6 s session timeout, so each restart takes several seconds). Small batches keep many
of them in flight at each kill, so offsets are re-read for work that was already committed to Redis.

When everything is processed, nothing is lost or counted twice: received = published, every indicator's
report count is exactly the number of reports published for it, one state per indicator, and every feed's
delivered counter equals the distinct (indicator, version) pairs on that feed — feed messages may repeat
after a crash (at-least-once delivery), counters may not.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.config import Settings
from pipeline.state.redis_store import RedisStore
from tests.integration.crashkit import assert_exact, publish_mix, wait_received, wait_settled
from tests.integration.helpers import start_worker, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

REPORTS = 3000
BATCH = 100  # small batches: many uncommitted-but-processed batches at each kill
BATCH_ENV = {"SCAMSHARE_WORKER_BATCH_SIZE": str(BATCH)}


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every worker process the test starts; whatever still runs at the end is stopped."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_worker(proc, 20)


async def test_two_sigkills_mid_stream_lose_nothing_and_count_nothing_twice(
    settings: Settings,
    redis_client: redis.Redis,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    url = settings.redis_url_value()
    assert url is not None
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    published = await publish_mix(settings, store, REPORTS)
    total = published.total

    log = tmp_path / "worker.log"
    workers.append(start_worker(settings, log, cwd=tmp_path, extra_env=BATCH_ENV))
    kills = []
    for fraction in (1 / 3, 2 / 3):
        kills.append(await wait_received(store, int(total * fraction), workers[-1], log))
        workers[-1].send_signal(signal.SIGKILL)
        workers[-1].wait(10)
        workers.append(start_worker(settings, log, cwd=tmp_path, extra_env=BATCH_ENV))
    assert kills[0] < total and kills[1] < total, f"the worker finished before a kill: {kills}"

    stats = await wait_settled(settings, store, total)
    assert workers[-1].poll() is None, log.read_text(errors="replace")[-3000:]
    print(f"kills at {kills}/{total}")
    await assert_exact(settings, store, redis_client, published, stats)
    await store.close()
