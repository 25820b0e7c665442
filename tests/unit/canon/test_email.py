"""E-mail addresses: domain lower-cased and IDNA-encoded, local part kept, defanging, rejects."""

from __future__ import annotations

import pytest

from tests.unit.canon.helpers import bad, ok

ACCEPTED = [
    ("Alice.Smith@Example.COM", "Alice.Smith@example.com"),
    ("Alice.Smith@Example[.]COM", "Alice.Smith@example.com"),
    ("alice[@]example[.]com", "alice@example.com"),
    ("alice(at)example(dot)com", "alice@example.com"),
    ("alice [at] example [dot] com", "alice@example.com"),
    ("john at gmail dot com", "john@gmail.com"),
    ("mailto:bob@example.com?subject=hi", "bob@example.com"),
    ("MAILTO:bob@example.com", "bob@example.com"),
    ("Bob Jones <Bob@EXAMPLE.com>", "Bob@example.com"),
    ('"john doe"@example.com', '"john doe"@example.com'),
    ("user+tag@gmail.com", "user+tag@gmail.com"),
    ("bob@bücher.de", "bob@xn--bcher-kva.de"),
    ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
    ("  support@evil.github.io ", "support@evil.github.io"),
]


@pytest.mark.parametrize(("raw", "value"), ACCEPTED)
def test_accepted(raw: str, value: str) -> None:
    c = ok("email", raw)
    assert c.value == value
    assert c.sco_type == "email-addr"
    assert c.facts["domain"] == value.rpartition("@")[2]


REJECTED = [
    ("nobody", "no @"),
    ("a@b@example.com", "more than one @"),
    ("@example.com", "empty local part"),
    ("bob@", "empty domain"),
    ("bob smith@example.com", "not allowed unquoted"),
    ("bob@localhost", "known public suffix"),
    ("bob@[1.2.3.4]", "IP-address"),
    ("bob@1.2.3.4", "IP-address"),
    ("bob@exa mple.com", "not a host name"),
    ("bob@xn--zz.com", "bad domain"),
    ("x" * 65 + "@example.com", "longer than 64"),
    ('"unterminated@example.com', "unterminated"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    assert reason in bad("email", raw).reason


def test_local_part_case_is_significant() -> None:
    assert ok("email", "Bob@example.com").sco_id != ok("email", "bob@example.com").sco_id


def test_facts() -> None:
    facts = ok("email", "bob@mail.bücher.de").facts
    assert facts["domain"] == "mail.xn--bcher-kva.de"
    assert facts["registrable_domain"] == "xn--bcher-kva.de"
    assert facts["domain_unicode"] == "mail.bücher.de"
