from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.processors.allowlist import load_allowlist

from .factories import canonical

ALLOW = load_allowlist()


@pytest.mark.parametrize(
    ("kind", "value", "held"),
    [
        ("phone", "+66 2 888 8888", True),
        ("phone", "+66 81 234 5678", False),
        ("domain", "paypal.com", True),
        ("domain", "login.paypal.com", True),
        ("domain", "paypal-login.com", False),
        ("url", "https://www.paypal.com/", True),
        ("url", "https://paypal.com/signin/verify", False),  # a specific page can be a real scam page
        ("url", "https://bit.ly/3xYz", False),  # a specific short link can be a scam
        ("domain", "bit.ly", True),
    ],
)
def test_matching(kind: str, value: str, held: bool) -> None:
    reason = ALLOW.match(canonical(kind, value))
    assert (reason is not None) == held
    if held:
        assert value.lower().split("://")[-1].split("/")[0].removeprefix("www.") in reason or "+66" in reason


def test_bad_entries_are_refused_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "allow.yaml"
    bad.write_text("phone:\n  - '+66 2 888 8888'\n  - '12'\n")
    with pytest.raises(ConfigError, match=r"allow\.yaml: phone\[1\] '12': "):
        load_allowlist(bad)
    bad.write_text("ipv4: [1.2.3.4]\n")
    with pytest.raises(ConfigError, match="unknown type 'ipv4'"):
        load_allowlist(bad)
