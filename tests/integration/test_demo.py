"""`scamshare demo` end to end: the summary keys, the numbers' relations, and nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from tests.conftest import StackAddresses

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def check_summary(summary: dict[str, object]) -> None:
    assert set(summary) >= {"received", "rejected", "unique_indicators", "delivered", "latency_ms"}
    received, rejected, unique = summary["received"], summary["rejected"], summary["unique_indicators"]
    assert isinstance(received, int) and isinstance(rejected, int) and isinstance(unique, int)
    assert received >= 200
    assert rejected == 3  # the bundled malformed.jsonl holds three broken messages
    assert summary["allowlisted"] == 2  # a bank hotline and paypal.com, held back
    assert received == summary["accepted"] + rejected + summary["allowlisted"]
    assert 0 < unique < received  # duplicates in other formats merged
    delivered = summary["delivered"]
    assert isinstance(delivered, dict)
    assert set(delivered) == {"telco-th", "bank-sg", "platform-socialnet", "police-au"}
    assert all(n > 0 for n in delivered.values())
    # police-au has no filter and is cleared up to AMBER+STRICT; the samples hold nothing RED: it gets
    # every published version, and nothing is published for the two allowlisted values.
    assert delivered["police-au"] == summary["versions"]
    latency = summary["latency_ms"]
    assert isinstance(latency, dict)
    assert 0 < latency["p50"] <= latency["p99"]
    for group in summary["lag"]:  # type: ignore[attr-defined]
        assert group["lag"] == 0, group


def servers(under: Path) -> set[int]:
    """Pids of running tansu brokers and redis-servers whose working directory is below ``under``.

    The demo's broker inherits the demo's working directory and its Redis runs in the demo's state dir, so
    this finds exactly the servers one demo run started (other test sessions may run servers meanwhile).
    """
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # argv[0], not /proc/<pid>/exe: Debian's redis-server is a symlink to redis-check-rdb, and
            # redis rewrites its command line to "redis-server 127.0.0.1:PORT".
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].split(b" ")[0].decode()
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, UnicodeDecodeError):
            continue
        name = Path(argv0).name
        is_server = "tansu" in name or name == "redis-server"
        if state != "Z" and is_server and cwd.is_relative_to(under):
            found.add(int(entry.name))
    return found


def test_demo_on_a_given_stack_runs_in_its_own_namespace(stack: StackAddresses, tmp_path: Path) -> None:
    args = ["demo", "--json", "--bootstrap", stack.bootstrap, "--redis-url", stack.redis_url]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    check_summary(summary)
    assert str(summary["namespace"]).startswith("scam.demo-")


def test_demo_without_addresses_starts_and_stops_its_own_stack(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "demo", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 200
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= servers(tmp_path)
        time.sleep(0.2)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    check_summary(json.loads(stdout))
    assert len(seen) >= 2  # it did run its own broker and Redis...
    assert servers(tmp_path) == set()  # ...and they are gone
