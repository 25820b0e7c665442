"""The two example subscribers, run as programs against a real broker (feed messages written directly)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Settings

from .helpers import canon, produce_feed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IBAN = canon("bank-account", "GB82 WEST 1234 5698 7654 32")
WALLET = canon("wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
PHONE = canon("phone", "+66 81 234 5678")
PHONE_2 = canon("phone", "+66 89 999 0000")
DOMAIN = canon("domain", "not-a-phone.com")


def run(settings: Settings, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMSHARE_")}
    assert settings.bootstrap
    env |= {"SCAMSHARE_BOOTSTRAP": settings.bootstrap, "SCAMSHARE_TOPIC_PREFIX": settings.topic_prefix,
            "SCAMSHARE_APP_ID": settings.app_id, "SCAMSHARE_STATE_DIR": str(settings.state_dir)}  # fmt: skip
    argv = [sys.executable, str(EXAMPLES / script), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("script", ["bank_payee_check.py", "telecom_blocklist.py"])
def test_help(script: str, settings: Settings) -> None:
    result = run(settings, script, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_bank_payee_check(settings: Settings, tmp_path: Path) -> None:
    feed = settings.topics.feed("bank")
    produce_feed(
        settings, feed, [(IBAN, 1, False), (WALLET, 1, False), (PHONE, 1, False), (PHONE_2, 1, False)]
    )
    db = tmp_path / "payees.json"
    sync = ["sync", "--subscriber", "bank", "--db", str(db), "--idle-timeout", "1"]
    synced = run(settings, "bank_payee_check.py", *sync)
    assert synced.returncode == 0, synced.stderr
    assert "4 update(s); 4 indicator(s)" in synced.stdout

    # The same values written as a customer would type them.
    hit = run(settings, "bank_payee_check.py", "check", "--db", str(db), "--phone", "081-234-5678",
              "--country", "TH", "--iban", "gb82west12345698765432", "--json")  # fmt: skip
    assert hit.returncode == 3, hit.stderr
    verdicts = json.loads(hit.stdout)
    assert [(v["verdict"], v["indicator_id"]) for v in verdicts] == [
        ("scam", IBAN.indicator_id), ("scam", PHONE.indicator_id)
    ]  # fmt: skip
    clear = run(settings, "bank_payee_check.py", "check", "--db", str(db), "--wallet",
                "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")  # fmt: skip
    assert clear.returncode == 0, clear.stderr
    assert clear.stdout.startswith("CLEAR")

    # A revocation removes the entry; the sync resumes after what it committed.
    produce_feed(settings, feed, [(PHONE, 2, True)])
    resynced = run(settings, "bank_payee_check.py", *sync)
    assert "1 update(s); 3 indicator(s)" in resynced.stdout, resynced.stderr
    after = run(settings, "bank_payee_check.py", "check", "--db", str(db), "--phone", "+66812345678")
    assert after.returncode == 0
    assert after.stdout.startswith("CLEAR")

    # Suppressed after false positives: out of the copy; new evidence makes it active again: back in.
    produce_feed(settings, feed, [(IBAN, 2, "suppressed")])
    assert run(settings, "bank_payee_check.py", *sync).returncode == 0
    assert json.loads(db.read_text()).get(IBAN.indicator_id) is None
    produce_feed(settings, feed, [(IBAN, 3, "active")])
    assert run(settings, "bank_payee_check.py", *sync).returncode == 0
    assert json.loads(db.read_text())[IBAN.indicator_id]["version"] == 3


def test_telecom_blocklist(settings: Settings, tmp_path: Path) -> None:
    feed = settings.topics.feed("telco")
    produce_feed(settings, feed, [(PHONE, 1, False), (DOMAIN, 1, False), (PHONE_2, 1, False)])
    blocklist = tmp_path / "blocked.txt"
    args = ["--subscriber", "telco", "--blocklist", str(blocklist), "--idle-timeout", "1"]
    first = run(settings, "telecom_blocklist.py", *args)
    assert first.returncode == 0, first.stderr
    assert blocklist.read_text() == "+66812345678\n+66899990000\n"
    assert "+2 -0" in first.stdout

    produce_feed(settings, feed, [(PHONE, 2, True)])
    second = run(settings, "telecom_blocklist.py", *args)
    assert second.returncode == 0, second.stderr
    assert blocklist.read_text() == "+66899990000\n"
    assert "+0 -1: 1 number(s)" in second.stdout

    # Suppressed (false positives), then active again on new evidence: unblocked, then blocked again.
    produce_feed(settings, feed, [(PHONE_2, 2, "suppressed")])
    run(settings, "telecom_blocklist.py", *args)
    assert blocklist.read_text() == ""
    produce_feed(settings, feed, [(PHONE_2, 3, "active")])
    run(settings, "telecom_blocklist.py", *args)
    assert blocklist.read_text() == "+66899990000\n"
