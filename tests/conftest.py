"""Shared fixtures.

Integration tests (``@pytest.mark.integration``) talk to a real Kafka-protocol broker and a real Redis:

* ``stack`` (session, parametrised by broker): ``SCAMSHARE_TEST_BOOTSTRAP`` + ``SCAMSHARE_TEST_REDIS_URL``
  when both are set, otherwise one embedded stack per broker engine for the whole session: tansu +
  redis-server, then Apache Kafka (KRaft, one node) + redis-server. Every integration test therefore runs
  on both brokers (ids ``[tansu]`` / ``[kafka]``). Where Java 17+ or Maven is missing the Kafka half is
  skipped, and the run says so and why in its summary. ``SCAMSHARE_TEST_BROKERS=tansu`` (or ``kafka``)
  runs one half only.
* ``settings`` / ``make_settings`` (function): Settings pointing at the stack with a topic prefix,
  Redis key prefix and app id unique to the test, 2 partitions and a private state dir, so tests never
  see each other's data.
* ``redis_client`` (function): a client on the stack's Redis that deletes the test's keys afterwards.
* ``store`` (function): the pipeline's RedisStore on the test's key prefix.

The environment is scrubbed of ``SCAMSHARE_*`` variables for every test (``SCAMSHARE_TEST_*`` excepted)
so a developer's shell cannot change what a test sees. At the end of the session any process the tests
started and left running is reported, killed, and fails the run.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.config import Settings
from pipeline.dev.kafka_jars import kafka_available
from pipeline.dev.stack import EmbeddedStack
from pipeline.state.redis_store import RedisStore, glob_escape

TEST_ENV_PREFIX = "SCAMSHARE_TEST_"


@dataclass(frozen=True)
class StackAddresses:
    """Where the session's broker and Redis listen, and which broker engine it is."""

    bootstrap: str
    redis_url: str
    engine: str = "external"


BROKERS = tuple(
    name.strip()
    for name in os.environ.get(f"{TEST_ENV_PREFIX}BROKERS", "tansu,kafka").split(",")
    if name.strip()
)
#: Why the Apache Kafka half did not run (reported in the terminal summary), if it did not.
_KAFKA_SKIPPED: list[str] = []


@pytest.fixture(scope="session", params=BROKERS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackAddresses]:
    """The session's broker and Redis: external when configured, else one embedded stack per engine."""
    engine = request.param
    bootstrap = os.environ.get(f"{TEST_ENV_PREFIX}BOOTSTRAP")
    redis_url = os.environ.get(f"{TEST_ENV_PREFIX}REDIS_URL")
    if bootstrap and redis_url:
        if engine != BROKERS[0]:
            pytest.skip("an external stack is configured: its tests ran once, under the first broker id")
        yield StackAddresses(bootstrap, redis_url)
        return
    if bootstrap or redis_url:
        pytest.fail(f"set both {TEST_ENV_PREFIX}BOOTSTRAP and {TEST_ENV_PREFIX}REDIS_URL, or neither")
    if engine not in ("tansu", "kafka"):
        pytest.fail(f"{TEST_ENV_PREFIX}BROKERS names {engine!r}; expected tansu and/or kafka")
    if engine == "kafka":
        ok, why = kafka_available()
        if not ok:
            if not _KAFKA_SKIPPED:
                _KAFKA_SKIPPED.append(why)
            pytest.skip(f"Apache Kafka half skipped: {why}")
    with EmbeddedStack(tmp_path_factory.mktemp(f"stack-{engine}"), broker=engine) as embedded:
        yield StackAddresses(embedded.bootstrap, embedded.redis_url, engine)


@pytest.fixture
def broker(stack: StackAddresses) -> str:
    """The engine the session stack runs: ``tansu``, ``kafka`` or ``external``."""
    return stack.engine


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _KAFKA_SKIPPED:
        terminalreporter.write_line(
            f"Apache Kafka half of the integration tests SKIPPED: {_KAFKA_SKIPPED[0]}", yellow=True, bold=True
        )


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCAMSHARE_") and not name.startswith(TEST_ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.fixture
def test_id() -> str:
    """A short id unique to this test: ``t`` + 8 hex digits."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_settings(stack: StackAddresses, tmp_path: Path, test_id: str) -> Callable[..., Settings]:
    """Build Settings for this test; keyword arguments override the test defaults."""
    base: dict[str, Any] = {
        "bootstrap": stack.bootstrap,
        "redis_url": stack.redis_url,
        "topic_prefix": f"{test_id}.",
        "redis_key_prefix": f"{test_id}:",
        "app_id": test_id,
        "partitions": 2,
        "state_dir": tmp_path / ".scamshare",
    }

    def make(**overrides: Any) -> Settings:
        return Settings(**{**base, **overrides})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings pointing at the session stack, with prefixes unique to this test."""
    return make_settings()


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A client on the stack's Redis (bytes in, bytes out); the test's keys are deleted afterwards."""
    url = settings.redis_url_value()
    assert url is not None
    client = redis.Redis.from_url(url, decode_responses=False)
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=glob_escape(settings.redis_key_prefix) + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()


@pytest.fixture
async def store(settings: Settings, redis_client: redis.Redis) -> AsyncIterator[RedisStore]:
    """The pipeline's Redis store on the test's key prefix (keys removed by ``redis_client``)."""
    url = settings.redis_url_value()
    assert url is not None
    s = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    yield s
    await s.close()


# --- no process may outlive the session -------------------------------------------------------------


def _live_descendants(root: int) -> dict[int, str]:
    """Live (non-zombie) descendants of ``root`` with their command lines, from /proc (Linux only)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = raw[raw.rfind(")") + 2 :].split()[:2]
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found[pid] = cmdline.strip()
        todo.extend(children.get(pid, []))
    return found


def _kill(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _live_descendants(os.getpid()).keys() & set(pids):
            for pid in pids:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
            time.sleep(0.05)


@pytest.hookimpl(trylast=True)  # after the runner has torn down session fixtures
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The interpreter's own multiprocessing resource tracker (started by `publish`'s process pool) is
    # not left behind: it reads a pipe from this process and exits with it.
    leftovers = {
        pid: cmd
        for pid, cmd in _live_descendants(os.getpid()).items()
        if "multiprocessing.resource_tracker" not in cmd
    }
    if not leftovers:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  pid {pid}: {cmd}" for pid, cmd in sorted(leftovers.items())]
    message = "processes started by the tests were still running at the end (now killed):\n" + "\n".join(
        lines
    )
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:  # pragma: no cover
        print(message)
    _kill(sorted(leftovers))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
