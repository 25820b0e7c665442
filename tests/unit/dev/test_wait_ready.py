"""Starting a dev server: a Redis still loading its append-only file is waited for, not declared dead."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.dev.proc import _wait_ready
from pipeline.errors import DevStackError


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A child process that stays up while the probe is asked (the server being waited for)."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def loading_for(seconds: float) -> Any:
    """A readiness probe that answers LOADING for ``seconds``, then PONG."""
    until = time.monotonic() + seconds

    def ready(_address: str) -> bool:
        if time.monotonic() < until:
            raise redis.BusyLoadingError("Redis is loading the dataset in memory")
        return True

    return ready


def test_a_redis_loading_past_the_start_up_timeout_is_waited_for(
    tmp_path: Path, child: subprocess.Popen[bytes]
) -> None:
    # Was: "redis not ready after 20s (Redis is loading the dataset in memory)", and `dev up` failed.
    probe, answers = loading_for(0.5), []

    def ready(address: str) -> bool:
        try:
            answers.append(probe(address))
        except redis.BusyLoadingError:
            answers.append("LOADING")
            raise
        return True

    _wait_ready(
        child, name="redis", ready=ready, address="127.0.0.1:1", log=tmp_path / "redis.log",
        timeout=0.1, loading_limit=5.0,
    )  # fmt: skip
    # It returned because the server answered, after loading for longer than the start-up timeout.
    assert answers[-1] is True and answers.count("LOADING") >= 2 and True not in answers[:-1]


def test_loading_is_waited_for_only_up_to_its_own_limit(
    tmp_path: Path, child: subprocess.Popen[bytes]
) -> None:
    log = tmp_path / "redis.log"
    log.write_text("Loading RDB produced by version 6.2.14\n")
    with pytest.raises(DevStackError, match="loading the dataset"):
        _wait_ready(
            child, name="redis", ready=loading_for(30), address="127.0.0.1:1", log=log,
            timeout=0.1, loading_limit=0.4,
        )  # fmt: skip


def test_a_server_that_never_answers_still_fails_at_the_start_up_timeout(
    tmp_path: Path, child: subprocess.Popen[bytes]
) -> None:
    def refused(_address: str) -> bool:
        raise ConnectionRefusedError("connection refused")

    began = time.monotonic()
    with pytest.raises(DevStackError, match=r"not ready after 0\.2s"):
        _wait_ready(
            child, name="redis", ready=refused, address="127.0.0.1:1", log=tmp_path / "redis.log",
            timeout=0.2, loading_limit=60,
        )  # fmt: skip
    assert time.monotonic() - began < 5
